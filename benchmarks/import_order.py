"""Does it matter whether faiss (inside Milvus Lite) or torch is loaded first? Query latency, side by side.

Milvus Lite searches and builds its indexes with faiss in the notebook's own process. faiss and torch each
bring an OpenMP runtime. This script starts fresh processes in turns, one loading faiss before torch and one
loading torch before faiss. In each it loads an encoder (offline stand-in weights: the weights do not
change the speed), fills a Milvus Lite collection, and then times queries: a single-image forward (on a
ready tensor, no decoding) plus a search, in turns with other searches, as a notebook's upload widget or
the demo page makes them one after the other.

    python benchmarks/import_order.py [--models resnet34,resnet50,clip] [--rounds 3] [--queries 25]

It prints the CPU and, per model and order, the median over rounds of each process's p50, in ms.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from machine import cpu_name

ORDERS = ("torch first", "faiss first")
ROWS = 1000


def child(order: str, model: str, queries: int) -> dict[str, float]:
    """One process: load the libraries in `order`, then the p50s of a bare forward and of an image query."""
    if order == "faiss first":
        import faiss  # noqa: F401
    import numpy as np
    import torch

    from helpers.collection import create_quick
    from helpers.connection import disconnect
    from helpers.tool.connecting import connect
    from helpers.encoders import load_encoder
    from helpers.indexing import insert

    encoder = load_encoder(model, device="cpu")
    image = torch.randn(1, 3, 224, 224).contiguous(memory_format=encoder.memory_format)
    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(ROWS, encoder.dim)).astype(np.float32)
    with tempfile.TemporaryDirectory() as folder:
        uri = str(Path(folder) / "order.db")
        client = connect(uri)
        create_quick(client, "c", encoder.dim, model=encoder.name, recreate=True)
        insert(client, "c", [{"vector": v, "filename": f"{i}.jpg"} for i, v in enumerate(vectors)])
        times: dict[str, list[float]] = {"forward": [], "query": []}
        for index in range(queries + 3):  # three untimed rounds first
            client.search("c", data=[vectors[index]], limit=10)
            start = time.perf_counter()
            vector = encoder.forward(image)[0].numpy()
            forward = time.perf_counter() - start
            client.search("c", data=[vector], limit=10, output_fields=["filename"])
            query = time.perf_counter() - start
            if index >= 3:
                times["forward"].append(forward * 1e3)
                times["query"].append(query * 1e3)
        disconnect(client, uri)
    return {key: statistics.median(values) for key, values in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="resnet34,resnet50,clip")
    parser.add_argument("--rounds", type=int, default=3, help="processes per model and order (default 3)")
    parser.add_argument("--queries", type=int, default=25, help="timed queries per process (default 25)")
    parser.add_argument("--child", nargs=2, metavar=("ORDER", "MODEL"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child[0], args.child[1], args.queries)))
        return
    print(f"CPU: {cpu_name()}, {os.cpu_count()} cores; load average {os.getloadavg()[0]:.2f} at start")
    env = {**os.environ, "IMAGE_SEARCH_OFFLINE": "1"}
    print(f"{'model':>9} | {'order':>11} | forward p50 ms | query p50 ms | rounds")
    for model in args.models.split(","):
        found: dict[str, list[dict]] = {order: [] for order in ORDERS}
        for _ in range(args.rounds):
            for order in ORDERS:  # in turns, so a change in the machine's load touches both
                result = subprocess.run([sys.executable, __file__, "--child", order, model, "--queries",
                                         str(args.queries)], env=env, capture_output=True, text=True, check=True)
                found[order].append(json.loads(result.stdout.strip().splitlines()[-1]))
        for order, runs in found.items():
            forward = statistics.median(run["forward"] for run in runs)
            query = statistics.median(run["query"] for run in runs)
            print(f"{model:>9} | {order:>11} | {forward:14.1f} | {query:12.1f} | {len(runs)}")
    print(f"load average {os.getloadavg()[0]:.2f} at the end")


if __name__ == "__main__":
    main()
