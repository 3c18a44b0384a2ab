"""Milvus at scale: insert rate, search latency and recall@10 of FLAT, IVF_FLAT and HNSW, on Lite and on a server.

    .venv/bin/python benchmarks/scale.py                     # 1k, 10k, 100k rows x dim 512, 2048, both backends
    .venv/bin/python benchmarks/scale.py --quick             # 1k and 10k rows only
    .venv/bin/python benchmarks/scale.py --sizes 10000 --dims 512 --backends server --indexes HNSW

The data are seeded random unit vectors (and 100 more as queries), inserted through helpers.indexing.insert
in batches and flushed; the collection has the explicit schema of the paintings notebook (L2 metric).
"build s" is the time from the flush until the index is finished and the collection is loaded with it
(rows go into a released collection). Latencies are of single-query searches, top 10, in one client:
`p50`/`p95` with consistency_level="Bounded", which times the index; `Strong p50` with the collection's
own level, Strong, which is what helpers.tool.searching.search gets (on a server it waits for the next time
tick, about 200 ms). recall@10 is against an exact numpy search.

Uniform random vectors are the hardest case for approximate indexes: nearest neighbours are barely nearer
than anything else, so IVF_FLAT and HNSW recall here is a lower bound for real image embeddings;
`--clusters 1000` draws rows and queries around random centers instead, which is closer to them.
A combination whose estimated run time, extrapolated from the next smaller size, is over --budget-s
(600 s) is dropped and listed as such.
"""

from __future__ import annotations

import argparse
import math
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from helpers import collection, indexing
from helpers.tool import connecting, searching
from milvus_server import start_server  # also the tests' server
from report import table

SEED = 2024
QUERIES = 100
STRONG_QUERIES = 20  # ~200 ms each on a server
TOP_K = 10
INSERT_CHUNK = 4096  # rows turned into Python lists at a time; helpers.insert sends them 512 a call
VECTOR_FIELD = "image_embedding"
CLUSTER_NOISE = 0.75  # --clusters: noise norm relative to the unit center


def nlist_for(rows: int) -> int:
    return max(16, round(4 * math.sqrt(rows)))


def both_ways(params: dict) -> dict:
    """Build parameters flat (what a server reads) and nested under "params" (what Milvus Lite 3.2 reads)."""
    return {**params, "params": params}


INDEXES = {
    "FLAT": (lambda rows: {}, {}),
    "IVF_FLAT": (lambda rows: both_ways({"nlist": nlist_for(rows)}), {"params": {"nprobe": 16}}),
    "HNSW": (lambda rows: both_ways({"M": 16, "efConstruction": 200}), {"params": {"ef": 64}}),
}


@dataclass
class Result:
    backend: str
    index: str
    rows: int
    dim: int
    insert_rate: float = 0.0
    insert_s: float = 0.0
    build_s: float = 0.0
    p50: float = 0.0
    p95: float = 0.0
    strong_p50: float = 0.0
    recall: float = 0.0
    dropped: str = ""


def unit_vectors(rng: np.random.Generator, rows: int, dim: int, centers: np.ndarray | None = None) -> np.ndarray:
    """Uniform on the sphere; or, given cluster centers, each row near a random center (cosine about 0.8)."""
    vectors = rng.standard_normal((rows, dim), dtype=np.float32)
    if centers is not None:
        vectors *= CLUSTER_NOISE / math.sqrt(dim)
        vectors += centers[rng.integers(len(centers), size=rows)]
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors


def exact_top_k(data: np.ndarray, queries: np.ndarray, k: int = TOP_K) -> list[set[int]]:
    """Exact nearest neighbours by L2, which on unit vectors is the largest dot product."""
    scores = queries @ data.T
    top = np.argpartition(-scores, k, axis=1)[:, :k]
    return [set(row.tolist()) for row in top]


def wait_for_index(client, name: str, timeout: float = 3600) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        info = client.describe_index(name, VECTOR_FIELD)
        if info.get("state") == "Failed":
            raise RuntimeError(f"Index build failed: {info.get('index_state_fail_reason')}")
        if info.get("pending_index_rows", 0) == 0 and info.get("indexed_rows", 0) >= info.get("total_rows", 0):
            return
        time.sleep(0.5)
    raise TimeoutError(f"Index of {name} not built after {timeout:g} s")


def timed_searches(client, name: str, queries: np.ndarray, search_params: dict, **kwargs) -> tuple[list, list]:
    latencies, results = [], []
    for query in queries:
        started = time.perf_counter()
        hits = client.search(name, data=[query.tolist()], limit=TOP_K, search_params=search_params,
                             output_fields=["filepath"], anns_field=VECTOR_FIELD, **kwargs)
        latencies.append(time.perf_counter() - started)
        results.append(hits[0])
    return latencies, results


def run_one(client, backend: str, index: str, data: np.ndarray, queries: np.ndarray, exact: list[set[int]]) -> Result:
    rows, dim = data.shape
    result = Result(backend, index, rows, dim)
    index_params, search_params = INDEXES[index]
    name = f"scale_{index.lower()}_{rows}_{dim}"
    collection.create_with_schema(client, name, dim, vector_field=VECTOR_FIELD, index_type=index, metric="L2",
                                  index_params=index_params(rows), recreate=True)
    # Insert into a released collection, then load it once its index is built: Milvus Lite builds indexes
    # of a loaded collection in a background thread after each flush, and a release + load while that
    # thread writes an index file reads a half-written file and fails (milvus-lite 3.2.2).
    client.release_collection(name)
    try:
        started = time.perf_counter()
        for start in range(0, rows, INSERT_CHUNK):
            stop = min(rows, start + INSERT_CHUNK)
            chunk = [{"filepath": str(i), VECTOR_FIELD: data[i].tolist()} for i in range(start, stop)]
            indexing.insert(client, name, chunk, flush=False)
        client.flush(name)
        result.insert_s = time.perf_counter() - started
        result.insert_rate = rows / result.insert_s

        started = time.perf_counter()
        wait_for_index(client, name)  # on a server; Lite builds its indexes in load_collection
        client.load_collection(name)
        result.build_s = time.perf_counter() - started

        timed_searches(client, name, queries[:5], search_params, consistency_level="Bounded")  # warm up
        latencies, hits = timed_searches(client, name, queries, search_params, consistency_level="Bounded")
        result.p50, result.p95 = (float(np.percentile(latencies, q)) * 1000 for q in (50, 95))
        strong, _ = timed_searches(client, name, queries[:STRONG_QUERIES], search_params)
        result.strong_p50 = float(np.percentile(strong, 50)) * 1000
        found = [{int(hit["entity"]["filepath"]) for hit in query_hits} for query_hits in hits]
        result.recall = float(np.mean([len(f & e) / TOP_K for f, e in zip(found, exact)]))
    finally:
        client.drop_collection(name)
    return result


COLUMNS = ("backend", "index", "rows", "dim", "insert rows/s", "build s", "p50 ms", "p95 ms", "Strong p50 ms",
           "recall@10")


def row_cells(r: Result) -> list[str]:
    if r.dropped:
        return [r.backend, r.index, f"{r.rows:,}", str(r.dim), "dropped", "", "", "", "", ""]
    return [r.backend, r.index, f"{r.rows:,}", str(r.dim), f"{r.insert_rate:,.0f}", f"{r.build_s:.1f}",
            f"{r.p50:.1f}", f"{r.p95:.1f}", f"{r.strong_p50:.0f}", f"{r.recall:.3f}"]


WIDEST = Result("server", "IVF_FLAT", 100_000, 2048, 99_999, 999, 999.9, 999.9, 999.9, 999, 1.0)


def results_table(results: list[Result]) -> str:
    """Its columns are at least as wide as any usual value, so rows printed one by one align."""
    return table(COLUMNS, [row_cells(r) for r in results], widest=row_cells(WIDEST))


def estimate_s(previous: Result, rows: int) -> float:
    """Run time at `rows`, from a smaller run: insert grows linearly, index build as rows^1.5 (k-means, graphs)."""
    ratio = rows / previous.rows
    return previous.insert_s * ratio + previous.build_s * ratio ** 1.5


def parse_list(text: str, cast=str) -> list:
    return [cast(item.strip()) for item in text.split(",") if item.strip()]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="1000,10000,100000", help="rows, comma separated")
    parser.add_argument("--dims", default="512,2048", help="vector sizes, comma separated")
    parser.add_argument("--backends", default="lite,server", help="lite, server or both")
    parser.add_argument("--indexes", default=",".join(INDEXES), help="FLAT, IVF_FLAT, HNSW")
    parser.add_argument("--quick", action="store_true", help="1k and 10k rows only")
    parser.add_argument("--clusters", type=int, default=0,
                        help="draw rows and queries around this many random centers, more like real embeddings "
                             "(default 0: uniform random unit vectors)")
    parser.add_argument("--budget-s", type=float, default=600,
                        help="drop a combination whose estimated run time is longer (default 600)")
    args = parser.parse_args(argv)
    sizes = sorted(n for n in parse_list(args.sizes, int) if not args.quick or n <= 10_000)
    dims = parse_list(args.dims, int)
    backends = parse_list(args.backends)
    indexes = [i.upper() for i in parse_list(args.indexes)]
    unknown = [b for b in backends if b not in ("lite", "server")] + [i for i in indexes if i not in INDEXES]
    if unknown or not sizes:
        parser.error(f"unknown backend or index: {', '.join(unknown)}" if unknown else "no sizes left")

    workdir = Path(tempfile.mkdtemp(prefix="milvus-scale-"))
    clients, stops = {}, []
    results: list[Result] = []
    started = time.perf_counter()
    try:
        uris = {"lite": str(workdir / "lite.db")}
        if "server" in backends:  # before any gRPC client exists, so the fork is clean
            t0 = time.perf_counter()
            uris["server"], stop = start_server(workdir / "server")
            stops.append(stop)
            print(f"Milvus server {uris['server']} started in {time.perf_counter() - t0:.1f} s", flush=True)
        for backend in backends:
            clients[backend] = connecting.connect(uris[backend], token="", timeout=30)
        print(results_table([]), flush=True)
        rng = np.random.default_rng(SEED)
        last: dict[tuple, Result] = {}
        for dim in dims:
            centers = unit_vectors(np.random.default_rng([SEED, dim, 1]), args.clusters, dim) if args.clusters else None
            queries = unit_vectors(np.random.default_rng([SEED, dim]), QUERIES, dim, centers)
            for rows in sizes:
                data = unit_vectors(rng, rows, dim, centers)
                exact = exact_top_k(data, queries)
                for backend in backends:
                    for index in indexes:
                        key = (backend, index, dim)
                        previous = last.get(key)
                        if previous and (estimate := estimate_s(previous, rows)) > args.budget_s:
                            result = Result(backend, index, rows, dim,
                                            dropped=f"estimated {estimate / 60:.0f} min > {args.budget_s / 60:g} min "
                                                    f"(from {previous.rows:,} rows)")
                        else:
                            result = run_one(clients[backend], backend, index, data, queries, exact)
                            last[key] = result
                        results.append(result)
                        print(results_table([result]).splitlines()[-1], flush=True)
                del data
    finally:
        for client in clients.values():
            client.close()
        for stop in stops:
            stop()
        shutil.rmtree(workdir, ignore_errors=True)

    data = f"vectors around {args.clusters} centers" if args.clusters else "uniform random unit vectors"
    print(f"\nAll results, {data} ({(time.perf_counter() - started) / 60:.1f} min; IVF_FLAT nlist = 4*sqrt(rows), "
          "nprobe 16; HNSW M 16, efConstruction 200, ef 64; metric L2):\n")
    print(results_table(results))
    for r in results:
        if r.dropped:
            print(f"dropped: {r.backend} {r.index} {r.rows:,} x {r.dim}: {r.dropped}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
