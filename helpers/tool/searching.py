"""The command line's and the demo page's search: `client.search` with the collection's layout checked first and
remembered, and looked up again once when a search with it fails (the collection was dropped, recreated or
released since). The notebooks call `client.search` themselves.
"""

from __future__ import annotations

import weakref
from collections.abc import Iterable, Sequence

import numpy as np
from pymilvus import MilvusClient, MilvusException

from ..collection import Layout, layout
from ..errors import CollectionError, InputError
from ..results import PATH_FIELDS

MILVUS_TOP_K_LIMIT = 16384  # the most hits Milvus returns for one query

# Layouts of loaded collections, per client: a query then costs one call, not four. An entry is dropped
# whenever a search with it fails.
_layouts: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def search(client: MilvusClient, name: str, vectors: np.ndarray | Sequence[float], top_k: int = 10, *,
           filter: str = "", output_fields: Iterable[str] = PATH_FIELDS, search_params: dict | None = None,
           anns_field: str | None = None, consistency_level: str | None = None) -> list[dict] | list[list[dict]]:
    """`client.search` for the CLI and the demo app: one vector gives its hits, a batch one list per vector.

    Hits are pymilvus's own (`id`, `distance`, `entity`), best first; fewer than `top_k` when the collection
    or the filter has fewer rows. It checks the vector's size against the collection first (`CollectionError`),
    and `top_k` (`InputError`). `consistency_level` "Strong" also sees rows that another process inserted a
    moment ago (on a server it waits for them). A refused request raises pymilvus's `MilvusException`.
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
            _layouts[client].pop(name, None)  # dropped, recreated or released since: look again, then say what
    if results is None:
        require_collection(client, name)
        results = _search(client, name, _layouts.setdefault(client, {}).setdefault(name, layout(client, name)),
                          *arguments)
    hits = [list(found) for found in results]
    hits += [[] for _ in range(len(queries) - len(hits))]  # a server answers an empty collection with no lists
    return hits[0] if single else hits


def check_top_k(top_k: object, limit: int = MILVUS_TOP_K_LIMIT, name: str = "top_k") -> None:
    """Raise `InputError` for a number of results that is not a whole number from 1 to `limit` (`name` is what the
    caller calls it)."""
    if isinstance(top_k, bool) or not isinstance(top_k, (int, float)) or top_k != int(top_k) \
            or not 1 <= top_k <= limit:
        raise InputError(f"{name} must be between 1 and {limit}, got {top_k}.")


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

def _search(client: MilvusClient, name: str, found: Layout, queries: np.ndarray, top_k: int, filter: str,
            output_fields: Iterable[str], search_params: dict | None, anns_field: str | None,
            consistency_level: str | None) -> list:
    dim = found.dims.get(anns_field) if anns_field else found.dim
    if dim is not None and queries.shape[-1] != dim:
        raise CollectionError(
            f"Collection '{name}' holds {dim}-d vectors{f' from model {found.model!r}' if found.model else ''}, "
            f"but the query vector has {queries.shape[-1]} values. Embed the query with the model that built the "
            "collection, or rebuild the collection with this one."
        )
    wanted = [f for f in output_fields if f in found.path_fields or f not in PATH_FIELDS]
    return client.search(
        name, data=list(queries), limit=top_k, filter=filter, output_fields=wanted,
        search_params=search_params or {}, anns_field=anns_field,
        **({"consistency_level": consistency_level} if consistency_level else {}),
    )
