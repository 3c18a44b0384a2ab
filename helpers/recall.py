"""How approximate an index is: its hits against an exact search's, and the IVF parameters worth trying.

An approximate index (IVF_FLAT, HNSW) answers faster by comparing the query with part of the collection.
Its recall@k is the share of the exact top k (a `FLAT` search of the same rows) that it also returns.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from .errors import InputError

ROWS_PER_LIST = 4  # the fewest vectors per IVF list, on average, that k-means is given here


def ivf_nlist(rows: int) -> int:
    """The usual first `nlist` for IVF indexes, about 4 x sqrt(rows), with at least `ROWS_PER_LIST` vectors a
    list on average (tiny collections, such as the offline samples, would otherwise get a list per vector)."""
    if rows < 1:
        raise InputError(f"An IVF index needs vectors to cluster, got {rows} rows.")
    return max(1, min(round(4 * math.sqrt(rows)), rows // ROWS_PER_LIST))


def nprobe_steps(nlist: int) -> list[int]:
    """`nprobe` values from 1 to `nlist`, doubling: 1, 2, 4, ... and `nlist` itself (an exhaustive search)."""
    if nlist < 1:
        raise InputError(f"nlist must be at least 1, got {nlist}.")
    return sorted({2 ** power for power in range(nlist.bit_length()) if 2 ** power <= nlist} | {nlist})


def _ids(hits: Sequence[dict], k: int) -> set:
    return {hit["id"] for hit in hits[:k]}


def index_recall(approximate: Sequence[Sequence[dict]], exact: Sequence[Sequence[dict]], k: int) -> float:
    """Mean recall@k of an approximate search against the exact one: per query, the share of the exact top k
    (by row id) among the approximate top k. Both are what `client.search` returns for the same queries."""
    if len(approximate) != len(exact) or not len(exact):
        raise InputError(f"{len(approximate)} approximate and {len(exact)} exact result lists: search the same "
                         "queries both ways.")
    recalls = [len(_ids(found, k) & _ids(truth, k)) / len(_ids(truth, k)) if truth else 1.0
               for found, truth in zip(approximate, exact)]
    return float(np.mean(recalls))
