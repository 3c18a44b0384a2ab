"""What each consistency level costs a search on Milvus Lite and on a Milvus server, side by side.

`python benchmarks/consistency.py [--rows 1000] [--searches 40]` creates one collection the way
`helpers.collection.create_quick` does (Session), inserts seeded random unit vectors with the same client,
and times single-vector searches at the collection's own level (Session, what the notebooks get), at
Strong (what the command line's search asks for), and at Bounded. It also checks that the first Session
search right after the insert finds the newest row. Prints the CPU and a table of p50 / p95 in ms.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import helpers  # noqa: F401  (the package first, as everywhere in the suite)
import numpy as np

from helpers.collection import create_quick
from helpers.connection import disconnect
from helpers.tool.connecting import connect
from machine import cpu_name
from milvus_server import start_server
from report import table

DIM = 512
LEVELS = ("Session", "Strong", "Bounded")


def measure(uri: str, rows: int, searches: int) -> dict[str, tuple[float, float]]:
    """p50 and p95 search time in ms per level, after inserting `rows` rows with the same client."""
    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(rows, DIM)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    client = connect(uri, token="")
    create_quick(client, "consistency", DIM, model="benchmark", recreate=True)
    for start in range(0, rows, 500):
        client.insert("consistency", [{"vector": v, "filepath": f"img/{start + i}.jpg"}
                                      for i, v in enumerate(vectors[start:start + 500])])
    newest = client.search("consistency", data=[vectors[-1]], limit=1, output_fields=["filepath"])[0]
    assert newest and newest[0]["entity"]["filepath"] == f"img/{rows - 1}.jpg", "Session missed the newest row"
    times = {}
    for level in LEVELS:
        latencies = []
        for query in vectors[:searches]:
            started = time.perf_counter()
            client.search("consistency", data=[query], limit=10, consistency_level=level)
            latencies.append((time.perf_counter() - started) * 1000)
        times[level] = (statistics.median(latencies), float(np.percentile(latencies, 95)))
    client.drop_collection("consistency")
    disconnect(client, uri)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1000)
    parser.add_argument("--searches", type=int, default=40)
    args = parser.parse_args()
    print(f"CPU: {cpu_name()}; {args.rows} rows of {DIM}-d, {args.searches} searches per level")
    with tempfile.TemporaryDirectory() as folder:
        results = {"lite": measure(str(Path(folder) / "lite.db"), args.rows, args.searches)}
        uri, stop = start_server(Path(folder) / "server")
        try:
            results["server"] = measure(uri, args.rows, args.searches)
        finally:
            stop()
    print(table(["backend", *(f"{level} p50/p95 ms" for level in LEVELS)],
                [[backend, *(f"{p50:.1f} / {p95:.1f}" for p50, p95 in times.values())]
                 for backend, times in results.items()]))


if __name__ == "__main__":
    main()
