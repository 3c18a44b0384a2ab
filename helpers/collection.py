"""Milvus collections for image vectors: create them both ways the tutorials do, and search them.

The same calls work on Milvus Lite (a local folder), a Milvus server and Zilliz Cloud. Collections are
created with Session consistency: the client that inserted rows sees them in its next search, also on a
server, without the wait Strong costs on every request. Reads that must see what another process wrote
(the command line's search, counting rows) ask for Strong themselves. Collections record which model made
their vectors, so a later search cannot mix models.
"""

from __future__ import annotations

import re
import weakref
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
from pymilvus import DataType, MilvusClient, MilvusException

from .errors import CollectionError, InputError, rebuild_command
from .results import PATH_FIELDS

MODEL_PROPERTY = "image_search.model"
MILVUS_TOP_K_LIMIT = 16384  # the most hits Milvus returns for one query
NAME_RULE = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,254}")  # Milvus's own: a server refuses any other name


@dataclass(frozen=True)
class _Layout:
    """What a search needs to know of a collection: its vector sizes, which path fields it can return, and the
    model that built it."""

    dims: dict[str, int]
    fields: frozenset[str]
    dynamic: bool
    model: str | None


def _describe(client: MilvusClient, name: str) -> _Layout:
    """The layout of an existing collection, as Milvus describes it now (one call)."""
    info = client.describe_collection(name)
    return _Layout(
        dims={f["name"]: int(f["params"]["dim"]) for f in info["fields"] if f["type"] == DataType.FLOAT_VECTOR},
        fields=frozenset(f["name"] for f in info["fields"]),
        dynamic=bool(info.get("enable_dynamic_field")),
        model=info.get("properties", {}).get(MODEL_PROPERTY),
    )


def _check_existing(client: MilvusClient, name: str, dim: int, model: str | None) -> None:
    """Raise if the existing collection holds vectors of another size or from another model."""
    layout = _describe(client, name)
    held = next(iter(layout.dims.values()), None)
    built_by = layout.model
    if held is not None and held != dim or (model and built_by and built_by != model):
        raise CollectionError(
            f"Collection '{name}' holds {held}-d vectors from model '{built_by or 'unknown'}', but "
            f"'{model or 'this model'}' makes {dim}-d vectors. Use another collection name, or replace its rows: "
            f"{rebuild_command(name)}; in Python, index_folder(..., recreate=True)."
        )


def check_collection_name(name: str) -> None:
    """Refuse a name a Milvus server refuses (Milvus Lite takes more, so a collection made there could never move
    to a server): letters, digits and underscores, starting with a letter or an underscore, at most 255
    characters. The message suggests a valid name."""
    if not NAME_RULE.fullmatch(name):
        valid = re.sub(r"[^A-Za-z0-9_]", "_", name.strip())[:255] or "images"
        valid = valid if NAME_RULE.fullmatch(valid) else f"_{valid}"[:255]
        raise InputError(f"Collection name {name!r} is not one Milvus takes: use letters, digits and underscores, "
                         f"starting with a letter or an underscore, at most 255 characters, e.g. {valid!r}.")


def _prepare(client: MilvusClient, name: str, dim: int, model: str | None, recreate: bool) -> bool:
    """Drop the collection when asked to; return True when a usable one already exists."""
    _forget(client, name)
    if recreate or not client.has_collection(name):
        check_collection_name(name)  # before anything is dropped or created
    if not client.has_collection(name):
        return False
    if recreate:
        client.drop_collection(name)
        return False
    _check_existing(client, name, dim, model)
    client.load_collection(name)
    return True


def _properties(model: str | None) -> dict:
    return {MODEL_PROPERTY: model} if model else {}


def create_quick(client: MilvusClient, name: str, dim: int, *, metric: str = "COSINE", vector_field: str = "vector",
                 model: str | None = None, recreate: bool) -> None:
    """The tutorials' quick setup: auto id, a dynamic schema (any extra field per row), one vector field.

    An existing collection is dropped first with `recreate=True`, else reused if it holds `dim`-d vectors of
    `model` (else `CollectionError`).
    """
    if _prepare(client, name, dim, model, recreate):
        return
    client.create_collection(
        name, dimension=dim, vector_field_name=vector_field, metric_type=metric, auto_id=True,
        enable_dynamic_field=True, consistency_level="Session", properties=_properties(model),
    )


def create_with_schema(client: MilvusClient, name: str, dim: int, *, vector_field: str = "image_embedding",
                       path_field: str = "filepath", path_max_length: int = 200,
                       text_fields: dict[str, int] | None = None, index_type: str = "IVF_FLAT",
                       metric: str = "L2", index_params: dict, model: str | None = None, recreate: bool) -> None:
    """An explicit schema (int64 auto id, a VARCHAR path, optional VARCHAR fields, a vector) plus its index.

    `index_params` are the index's own (`{"nlist": ...}` for IVF_FLAT: about 4 x sqrt(rows) is a good start).
    `recreate` as for `create_quick`.
    """
    if _prepare(client, name, dim, model, recreate):
        return
    schema = MilvusClient.create_schema(auto_id=True, enable_dynamic_field=False)
    schema.add_field("id", DataType.INT64, is_primary=True)
    schema.add_field(path_field, DataType.VARCHAR, max_length=path_max_length)
    for text_field, max_length in (text_fields or {}).items():
        schema.add_field(text_field, DataType.VARCHAR, max_length=max_length)
    schema.add_field(vector_field, DataType.FLOAT_VECTOR, dim=dim)
    index = client.prepare_index_params()
    index.add_index(field_name=vector_field, index_type=index_type, metric_type=metric,
                    params=index_params)
    client.create_collection(name, schema=schema, index_params=index, consistency_level="Session",
                             properties=_properties(model))
    client.load_collection(name)


def collection_model(client: MilvusClient, name: str) -> str | None:
    """The model recorded when the collection was created, or None if it was made elsewhere."""
    return _describe(client, name).model


def require_collection(client: MilvusClient, name: str, uri: str | None = None) -> None:
    """Raise a clear error when the collection does not exist (its advice names `uri`, the database the
    caller opened, when given); load it for search if it does."""
    if not client.has_collection(name):
        existing = ", ".join(client.list_collections()) or "none"
        where = f" --db {uri}" if uri else ""
        raise CollectionError(
            f"No collection named '{name}' (existing: {existing}). Index a folder first, e.g. "
            f"`python -m helpers index FOLDER{where} --collection {name}`."
        )
    client.load_collection(name)


def count(client: MilvusClient, name: str) -> int:
    """Number of rows in the collection (exact, also right after another process inserted rows on a server)."""
    require_collection(client, name)
    return int(client.query(name, filter="", output_fields=["count(*)"], consistency_level="Strong")[0]["count(*)"])


# Layouts of loaded collections, per client: a query then costs one call, not four. An entry is dropped
# when the collection is created or dropped through this module, and whenever a search with it fails.
_layouts: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _forget(client: MilvusClient, name: str) -> None:
    _layouts.get(client, {}).pop(name, None)


def _layout(client: MilvusClient, name: str) -> _Layout:
    """The collection's layout, after checking that it exists and loading it (three calls); remembered."""
    require_collection(client, name)
    layout = _layouts.setdefault(client, {})[name] = _describe(client, name)
    return layout


def check_top_k(top_k: object, limit: int = MILVUS_TOP_K_LIMIT, name: str = "top_k") -> None:
    """Refuse a number of results that is not a whole number from 1 to `limit` (`name` is what the caller calls it)."""
    if isinstance(top_k, bool) or not isinstance(top_k, (int, float)) or top_k != int(top_k) \
            or not 1 <= top_k <= limit:
        raise InputError(f"{name} must be between 1 and {limit}, got {top_k}.")


def search(client: MilvusClient, name: str, vectors: np.ndarray | Sequence[float], top_k: int = 10, *,
           filter: str = "", output_fields: Iterable[str] = PATH_FIELDS, search_params: dict | None = None,
           anns_field: str | None = None, consistency_level: str | None = None) -> list[dict] | list[list[dict]]:
    """`client.search` for the CLI and the demo app: one vector gives its hits, a batch one list per vector.

    Hits are pymilvus's own (`id`, `distance`, `entity`), best first; fewer than `top_k` when the collection
    or the filter has fewer rows. It checks the vector's size against the collection first. `consistency_level`
    "Strong" also sees rows that another process inserted a moment ago (on a server it waits for them).
    """
    check_top_k(top_k)
    data = np.asarray(vectors, dtype=np.float32)
    single = data.ndim == 1
    queries = data[None, :] if single else data
    arguments = (queries, top_k, filter, output_fields, search_params, anns_field, consistency_level)
    results = None
    if (known := _layouts.get(client, {}).get(name)) is not None:
        try:
            results = _search(client, name, known, *arguments)
        except (MilvusException, CollectionError):
            _forget(client, name)  # dropped, recreated or released since: look again, then say what is wrong
    if results is None:
        results = _search(client, name, _layout(client, name), *arguments)
    hits = [list(found) for found in results]
    hits += [[] for _ in range(len(queries) - len(hits))]  # a server answers an empty collection with no lists
    return hits[0] if single else hits


def _search(client: MilvusClient, name: str, layout: _Layout, queries: np.ndarray, top_k: int, filter: str,
            output_fields: Iterable[str], search_params: dict | None, anns_field: str | None,
            consistency_level: str | None) -> list:
    dim = layout.dims.get(anns_field) if anns_field else next(iter(layout.dims.values()), None)
    if dim is not None and queries.shape[-1] != dim:
        raise CollectionError(
            f"Collection '{name}' holds {dim}-d vectors{f' from model {layout.model!r}' if layout.model else ''}, "
            f"but the query vector has {queries.shape[-1]} values. Embed the query with the model that built the "
            "collection, or rebuild the collection with this one."
        )
    wanted = [f for f in output_fields if f in layout.fields or layout.dynamic or f not in PATH_FIELDS]
    return client.search(
        name, data=list(queries), limit=top_k, filter=filter, output_fields=wanted,
        search_params=search_params or {}, anns_field=anns_field,
        **({"consistency_level": consistency_level} if consistency_level else {}),
    )
