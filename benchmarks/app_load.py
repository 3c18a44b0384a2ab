"""Can the demo app hold a room? N gradio_client clients search the app at once for a bounded time.

`python benchmarks/app_load.py [--clients 8] [--seconds 60] [--model resnet34]` builds notebook 01's
collection (or 02's / 03's) from the offline samples in a Milvus Lite file, serves the app in a child process
on 127.0.0.1, and lets each client send image queries (a different sample photo each time, top 10) back to
back; every fifth query of a CLIP collection is a text. It prints requests, errors, p50 and p95 latency as
a client sees it, and the CPU. Stand-in weights (IMAGE_SEARCH_OFFLINE=1, set here) time like real ones.
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from machine import cpu_name
from report import table

os.environ.setdefault("IMAGE_SEARCH_OFFLINE", "1")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
COLLECTIONS = {"resnet34": "image_embeddings", "resnet50": "image_search", "clip": "image_collection"}


@dataclass
class LoadResult:
    """What the clients saw: each answered search's seconds, and each failure."""

    collection: str
    seconds: float
    latencies: list[float]
    errors: list[str]

    @staticmethod
    def columns(seconds: float) -> list[str]:
        return ["collection", f"requests in {seconds:g} s", "errors", "p50", "p95", "throughput"]

    def cells(self) -> list[str]:
        p50, p95 = np.percentile(np.array(self.latencies) * 1000, [50, 95]) if self.latencies else (float("nan"),) * 2
        return [self.collection, f"{len(self.latencies) + len(self.errors):,}", str(len(self.errors)), f"{p50:,.0f} ms",
                f"{p95:,.0f} ms", f"{len(self.latencies) / self.seconds:.1f} req/s"]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def build(uri: str, model: str) -> str:
    """Index the model's sample collection into the Lite file `uri` (closed afterwards); its name."""
    from helpers.connection import disconnect
    from helpers.tool.connecting import connect
    from helpers.encoders import load_encoder

    import sample_collections as samples

    name = COLLECTIONS[model]
    client = connect(uri)
    samples.build(client, name, load_encoder(model))
    disconnect(client, uri)
    return name


def serve(uri: str, name: str, port: int) -> subprocess.Popen:
    """`python -m helpers app` in a child process, returned once it answers."""
    server = subprocess.Popen([sys.executable, "-m", "helpers", "app", "--db", uri, "--collection", name,
                               "--port", str(port)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    for line in server.stdout:
        if "Running on local URL" in line:
            threading.Thread(target=server.stdout.read, daemon=True).start()  # keep draining its output
            return server
    raise RuntimeError(f"the app did not start (exit {server.wait()})")


def load(url: str, clients: int, seconds: float, queries: list[Path], text: bool) -> tuple[list[float], list[str]]:
    """Each client searches back to back until `seconds` have passed; the latencies and the errors."""
    from gradio_client import Client, handle_file

    latencies: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()
    deadline = time.perf_counter() + seconds

    def run(number: int) -> None:
        client = Client(url, verbose=False)
        count = number
        while time.perf_counter() < deadline:
            count += clients
            start = time.perf_counter()
            try:
                if text and count % 5 == 0:
                    hits = client.predict("a white dog", 10, "", api_name="/search_text")
                else:
                    hits = client.predict(handle_file(queries[count % len(queries)]), 10, "", api_name="/search_image")
                failure = None if len(hits) == 10 else f"{len(hits)} hits"
            except Exception as error:  # every failure counts, whatever its kind
                failure = f"{type(error).__name__}: {error}"
            with lock:
                (errors.append(failure) if failure else latencies.append(time.perf_counter() - start))

    threads = [threading.Thread(target=run, args=(number,)) for number in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return latencies, errors


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--model", choices=list(COLLECTIONS), default="resnet34")
    args = parser.parse_args()
    from sample_collections import IMAGENET

    queries = sorted((IMAGENET / "test").glob("*/*.JPEG"))
    with tempfile.TemporaryDirectory() as scratch:
        uri = str(Path(scratch) / "load.db")
        name = build(uri, args.model)
        port = _free_port()
        server = serve(uri, name, port)
        try:
            latencies, errors = load(f"http://127.0.0.1:{port}/", args.clients, args.seconds, queries,
                                     text=args.model == "clip")
        finally:
            server.terminate()
            server.wait(timeout=30)
    result = LoadResult(f"{name} ({args.model})", args.seconds, latencies, errors)
    print(f"app on Milvus Lite, {args.clients} clients for {args.seconds:g} s; CPU: {os.cpu_count()} cores, "
          f"{cpu_name()}")
    print(table(LoadResult.columns(args.seconds), [result.cells()]))
    for error in sorted(set(errors))[:5]:
        print(f"  error: {error}")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
