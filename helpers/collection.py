"""Milvus collections for image vectors: create them both ways the tutorials do, and read what they hold.

The same calls work on Milvus Lite, a Milvus server and Zilliz Cloud. Collections use Session consistency: the
client that inserted rows sees them in its next search, without the wait Strong costs on every request; reads
that must see another process's rows ask for Strong themselves. Each records the model that made its vectors.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from pymilvus import DataType, MilvusClient

from .errors import CollectionError, InputError, rebuild_command
from .results import PATH_FIELDS

MODEL_PROPERTY = "image_search.model"
ITERATOR_BATCH = 1000  # rows per `query_iterator` batch
NAME_RULE = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,254}")  # Milvus's own: a server refuses any other name


def create_quick(client: MilvusClient, name: str, dim: int, *, metric: str = "COSINE", vector_field: str = "vector",
                 model: str | None = None, recreate: bool) -> None:
    """The tutorials' quick setup: auto id, a dynamic schema (any extra field per row), one vector field. An
    existing collection is dropped first with `recreate=True`, else reused if it holds `dim`-d vectors of `model`
    (else `CollectionError`)."""
    if _prepare(client, name, dim, model, recreate):
        return
    client.create_collection(name, dimension=dim, vector_field_name=vector_field, metric_type=metric, auto_id=True,
                             enable_dynamic_field=True, consistency_level="Session",
                             properties={MODEL_PROPERTY: model} if model else {})


def create_with_schema(client: MilvusClient, name: str, dim: int, *, vector_field: str = "image_embedding",
                       path_field: str = "filepath", path_max_length: int = 200,
                       text_fields: dict[str, int] | None = None, index_type: str = "IVF_FLAT",
                       metric: str = "L2", index_params: dict, model: str | None = None, recreate: bool) -> None:
    """An explicit schema (int64 auto id, a VARCHAR path, optional VARCHAR fields, a vector) plus its index, whose
    own `index_params` are `{"nlist": ...}` for IVF_FLAT (about 4 x sqrt(rows) is a good start). `recreate` as for
    `create_quick` (`CollectionError` for an existing one of another size or model)."""
    if _prepare(client, name, dim, model, recreate):
        return
    schema = MilvusClient.create_schema(auto_id=True, enable_dynamic_field=False)
    schema.add_field("id", DataType.INT64, is_primary=True)
    schema.add_field(path_field, DataType.VARCHAR, max_length=path_max_length)
    for text_field, max_length in (text_fields or {}).items():
        schema.add_field(text_field, DataType.VARCHAR, max_length=max_length)
    schema.add_field(vector_field, DataType.FLOAT_VECTOR, dim=dim)
    index = client.prepare_index_params()
    index.add_index(field_name=vector_field, index_type=index_type, metric_type=metric, params=index_params)
    client.create_collection(name, schema=schema, index_params=index, consistency_level="Session",
                             properties={MODEL_PROPERTY: model} if model else {})
    client.load_collection(name)


def check_collection_name(name: str) -> None:
    """Raise `InputError`, suggesting a valid name, for a name a Milvus server refuses (Lite takes more, so such a
    collection could never move to a server): letters, digits and underscores, not a digit first, at most 255."""
    if not NAME_RULE.fullmatch(name):
        valid = re.sub(r"[^A-Za-z0-9_]", "_", name.strip())[:255] or "images"
        valid = valid if NAME_RULE.fullmatch(valid) else f"_{valid}"[:255]
        raise InputError(f"Collection name {name!r} is not one Milvus takes: use letters, digits and underscores, "
                         f"starting with a letter or an underscore, at most 255 characters, e.g. {valid!r}.")


def _prepare(client: MilvusClient, name: str, dim: int, model: str | None, recreate: bool) -> bool:
    """Drop the collection when asked to; return True when a usable one already exists, `CollectionError` when
    it holds vectors of another size or from another model."""
    if recreate or not client.has_collection(name):
        check_collection_name(name)  # before anything is dropped or created
    if not client.has_collection(name):
        return False
    if recreate:
        client.drop_collection(name)
        return False
    found = layout(client, name)
    if found.dim is not None and found.dim != dim or (model and found.model and found.model != model):
        raise CollectionError(
            f"Collection '{name}' holds {found.dim}-d vectors from model '{found.model or 'unknown'}', but "
            f"'{model or 'this model'}' makes {dim}-d vectors. Use another collection name, or replace its rows: "
            f"{rebuild_command(name)}; in Python, helpers.tool.rebuild.index_or_rebuild(..., recreate=True).")
    client.load_collection(name)
    return True


@dataclass(frozen=True)
class Layout:
    """A collection as Milvus describes it: its fields, their vector sizes and text limits, whether rows may
    carry fields the schema lacks (dynamic), and the model that built it."""

    names: frozenset[str]
    dims: dict[str, int]  # vector field -> size
    max_lengths: dict[str, int]  # VARCHAR field -> its limit in UTF-8 bytes
    required: tuple[str, ...]  # fields every row must fill (not an auto id, not nullable, no default)
    primary: str
    dynamic: bool
    model: str | None

    @property
    def vector(self) -> str | None:
        """The first vector field, the one image search writes and searches."""
        return next(iter(self.dims), None)

    @property
    def dim(self) -> int | None:
        return next(iter(self.dims.values()), None)

    @property
    def path_fields(self) -> list[str]:
        """The fields of `PATH_FIELDS` a row can hold: the schema's, or both when rows are dynamic."""
        return [field for field in PATH_FIELDS if field in self.names or self.dynamic]

    @property
    def path(self) -> str | None:
        """The schema field that holds image paths (`filepath` or `filename`), None if the schema has none."""
        return next((field for field in PATH_FIELDS if field in self.names), None)


def layout(client: MilvusClient, name: str) -> Layout:
    """The layout of existing collection `name` (one `describe_collection` call); raises pymilvus's
    `MilvusException` if there is no such collection."""
    info = client.describe_collection(name)
    fields = info["fields"]
    return Layout(
        names=frozenset(f["name"] for f in fields),
        dims={f["name"]: int(f["params"]["dim"]) for f in fields if f["type"] == DataType.FLOAT_VECTOR},
        max_lengths={f["name"]: int(f["params"]["max_length"]) for f in fields if f["type"] == DataType.VARCHAR},
        required=tuple(f["name"] for f in fields if f["type"] != DataType.FLOAT_VECTOR
                       and not (f.get("is_primary") and f.get("auto_id"))
                       and not f.get("nullable") and f.get("default_value") is None),
        primary=next(f["name"] for f in fields if f.get("is_primary")),
        dynamic=bool(info.get("enable_dynamic_field")),
        model=info.get("properties", {}).get(MODEL_PROPERTY),
    )


def rows(client: MilvusClient, name: str, fields: Sequence[str], batch_size: int = ITERATOR_BATCH) -> Iterator[dict]:
    """Every row of collection `name` with `fields`, read in batches with `client.query_iterator`; Strong
    consistency, so rows another process inserted a moment ago count too."""
    # Lite has no server timestamp for the iterator and says so at WARNING level; the fallback is right.
    logging.getLogger("pymilvus.client.iterator.query_iterator").setLevel(logging.ERROR)
    iterator = client.query_iterator(name, batch_size=batch_size, filter="", output_fields=list(fields),
                                     consistency_level="Strong")
    try:
        while batch := iterator.next():
            yield from batch
    finally:
        iterator.close()
