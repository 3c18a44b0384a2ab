"""Embedding throughput and query latency: the tutorial's loop, the helpers pipeline and the bare model.

For each model, on the same images in one run:

  (a) tutorial  the original notebook's loop: per image, PIL open, preprocess, forward a batch of one
                under `torch.no_grad()`, L2-normalise, then one `client.insert` per row into a Milvus
                Lite quick-setup collection. The model is built the tutorial's way and stays on the
                CPU, as in the tutorial; with a GPU, (a-gpu) is the same loop with the model and each
                image moved to the GPU, the stricter baseline.
  (b) pipeline  `Encoder.embed_images` (batches from a DataLoader: decoded between batches on a CPU,
                by worker processes beside a GPU) plus `helpers.indexing.insert` in batches, timed
                from the call to the flushed insert.
  (c) ceiling   the bare model forward (inference mode, the encoder's autocast) on tensors decoded,
                preprocessed and moved to the device beforehand: no decoding, no copies, no
                database. At the fastest of every way tried: memory format and batch size up to
                --batch-size; the forward at --batch-size itself is printed too.

Then query latency on a 1,000-row collection: an image query (decode + encode one image + search) and,
for CLIP, a text query (encode one text + search), against one bare single-image forward.

Timing goals live here and nowhere else (never in unit tests). Weight values do not change speed, so
the run defaults to `IMAGE_SEARCH_OFFLINE=1` (seeded stand-in weights through the real loading code);
set IMAGE_SEARCH_OFFLINE=0 to time the real pretrained weights.

    python benchmarks/embedding.py                              # CPU, three models, 240 images
    python benchmarks/embedding.py --device cuda --images 1000  # GPU (autocast)
    python benchmarks/embedding.py --models resnet34 --images 120 --batch-size 32
    python benchmarks/embedding.py --precision bfloat16         # (b), (c) and queries in bfloat16

--precision sets what the encoder computes in (b), (c) and the queries (`load_encoder(precision=...)`);
(a) is always the tutorial's float32.
"""

from __future__ import annotations

import argparse
import gc
import os
import shutil
import sys
import tempfile
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

from embedding_runs import (fill_collection, preprocessed, query_latency, run_ceiling, run_pipeline, run_tutorial,
                            tutorial_model)
from machine import PeakMemory, load_line, machine_line, milvus_pids, percentile
from photos import make_images
from report import table

COLLECTION_ROWS = 1000

# Targets: on a 2-core CPU, b/a >= 1.5, b/c >= 0.9 and image-query p50 <= 1.2x one forward;
# on a GPU, b/a >= 10 with autocast.
CPU_TARGETS = {"b/a": 1.5, "b/c": 0.9, "query/forward": 1.2}
GPU_TARGETS = {"b/a": 10.0}


@dataclass
class Run:
    """One timed way of embedding all images: its seconds and what it took of the machine."""

    seconds: float
    memory: PeakMemory


@dataclass
class ModelResult:
    """What one model measured: the best run of each way ("a", "a-gpu", "b", "c"), every run, and the queries."""

    model: str
    images: int
    precision: str = ""
    runs: dict[str, list[Run]] = field(default_factory=dict)
    ceiling: str = ""  # the fastest bare-forward configuration
    nominal: float = 0.0  # images/s of the bare forward at --batch-size, in the encoder's memory format
    latencies: dict[str, list[float]] = field(default_factory=dict)  # milliseconds, by kind of query

    def best(self, way: str) -> Run:
        """The fastest run: the least disturbed by anything else."""
        return min(self.runs[way], key=lambda run: run.seconds)

    def rate(self, way: str) -> float:
        return self.images / self.best(way).seconds

    def ratio(self, top: str, bottom: str) -> float:
        return self.rate(top) / self.rate(bottom)

    def per_run(self) -> list[tuple[float, float]]:
        """b/a and b/c within each repeat, whose (a), (b), (c) ran seconds apart: their spread shows the noise."""
        return [(a.seconds / b.seconds, c.seconds / b.seconds)
                for a, b, c in zip(self.runs["a"], self.runs["b"], self.runs["c"])]

    def p(self, kind: str, q: float) -> float:
        return percentile(self.latencies[kind], q)

    def query_per_forward(self, kind: str = "image_query") -> float:
        return self.p(kind, 0.5) / self.p("forward", 0.5)


def say(label: str, images: int, run: Run) -> None:
    print(f"  {label:<40} {images / run.seconds:8.1f} images/s   (other programs used {run.memory.foreign:4.0%} of "
          "the CPU)", flush=True)


def timed(device, exclude: set[int], work, workers: bool = False) -> tuple[Run, list]:
    """Run `work()` under `PeakMemory`; the run and what `work` returned beside its seconds."""
    with PeakMemory(device, exclude, workers=workers) as memory:
        seconds, *rest = work()
    return Run(seconds, memory), rest


def benchmark_model(name: str, args, client, paths, device) -> ModelResult:
    import torch
    from PIL import Image

    from helpers.encoders import load_encoder

    result = ModelResult(name, len(paths))
    print(f"\n== {name} ==", flush=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        encoder = load_encoder(name, device, precision=args.precision)
        tutorial, tutorial_forward, tutorial_preprocess = tutorial_model(name)
    result.precision = encoder.precision
    exclude = milvus_pids()
    tag = name.replace("-", "_").replace("/", "_")
    cpu = torch.device("cpu")

    # Warm both models once so no column pays first-call set-up the others do not.
    probe = tutorial_preprocess(Image.open(paths[0]).convert("RGB"))
    with torch.no_grad():
        tutorial_forward(probe.unsqueeze(0))
    encoder.forward(probe.unsqueeze(0).repeat(2, 1, 1, 1))

    def record(way: str, label: str, run: Run) -> None:
        result.runs.setdefault(way, []).append(run)
        say(label, len(paths), run)

    for repeat in range(args.repeats):
        run, _ = timed(cpu, exclude, lambda: (run_tutorial(client, f"a_{tag}", encoder.dim, paths, tutorial_forward,
                                                           tutorial_preprocess, cpu),))
        record("a", "(a) tutorial loop, CPU", run)
        if device.type == "cuda":
            tutorial.to(device)
            run, _ = timed(device, exclude, lambda: (run_tutorial(client, f"a_{tag}", encoder.dim, paths,
                                                                  tutorial_forward, tutorial_preprocess, device),))
            tutorial.to("cpu")
            record("a-gpu", "(a-gpu) tutorial loop, GPU", run)
        gc.collect()
        run, (embeddings,) = timed(device, exclude, lambda: run_pipeline(client, f"b_{tag}", encoder, paths,
                                                                         args.batch_size),
                                   workers=device.type == "cuda")
        record("b", "(b) helpers pipeline", run)
        if repeat == 0:
            tensors = preprocessed(encoder, paths)
        run, (result.ceiling, nominal) = timed(device, exclude, lambda: run_ceiling(encoder, tensors, args.batch_size))
        result.nominal = max(result.nominal, 1 / nominal)
        record("c", f"(c) bare forward ceiling ({result.ceiling})", run)
        print(f"      (bare forward at batch {args.batch_size}, {encoder.memory_format}: {1 / nominal:.1f} images/s)")
    del tutorial, tutorial_forward

    # Query latency on a 1,000-row collection.
    query_collection = f"q_{tag}"
    fill_collection(client, query_collection, encoder, embeddings, COLLECTION_ROWS)
    result.latencies = query_latency(encoder, client, query_collection, paths, tensors[0], args.queries)
    print(f"  image query p50 {result.p('image_query', 0.5):.1f} ms vs one forward {result.p('forward', 0.5):.1f} ms",
          flush=True)
    for collection in (f"a_{tag}", f"b_{tag}", query_collection):
        client.drop_collection(collection)
    del encoder, tensors, embeddings
    gc.collect()
    if device.type == "cuda":
        torch.cuda.empty_cache()
    return result


def verdict(value: float, target: float, higher_is_better: bool = True) -> str:
    ok = value >= target if higher_is_better else value <= target
    return "ok" if ok else "MISS"


def throughput_row(r: ModelResult, gpu: bool) -> list[str]:
    targets = GPU_TARGETS if gpu else CPU_TARGETS
    memory = {way: r.best(way).memory for way in ("a", "b", "c")}
    cells = [r.model, f"{r.rate('a'):.1f}"] + ([f"{r.rate('a-gpu'):.1f}"] if gpu else [])
    cells += [f"{r.rate('b'):.1f}", f"{r.rate('c'):.1f}",
              f"{r.ratio('b', 'a'):.2f} {verdict(r.ratio('b', 'a'), targets['b/a'])}"]
    cells += [f"{r.ratio('b', 'a-gpu'):.2f}"] if gpu else []
    cells += [f"{r.ratio('b', 'c'):.2f}" + ("" if gpu else f" {verdict(r.ratio('b', 'c'), CPU_TARGETS['b/c'])}")]
    cells += [f"{memory['a'].main_mb:.0f}", f"{memory['b'].main_mb:.0f}", f"{memory['b'].workers_mb:.0f}",
              f"{memory['c'].main_mb:.0f}", f"{100 * max(m.foreign for m in memory.values()):.0f}"]
    return cells + ([f"{memory['b'].gpu_mb:.0f}", f"{memory['c'].gpu_mb:.0f}"] if gpu else [])


def latency_row(r: ModelResult, gpu: bool) -> list[str]:
    p = lambda kind, q: f"{r.p(kind, q):.1f}" if kind in r.latencies else "-"  # noqa: E731
    ratio = f"{r.query_per_forward():.2f}" + (
        "" if gpu else f" {verdict(r.query_per_forward(), CPU_TARGETS['query/forward'], False)}")
    return [r.model, p("forward", .5), p("image_query", .5), p("image_query", .95), ratio, p("image_query_raw", .5),
            f"{r.query_per_forward('image_query_raw'):.2f}", p("decode_only", .5), p("embed_only", .5),
            p("search_only", .5), p("client_search", .5), p("text_query", .5), p("text_query", .95)]


def print_tables(results: list[ModelResult], args, device, paths_info: str) -> None:
    gpu = device.type == "cuda"
    print("\n" + "=" * 100)
    print(f"Embedding throughput, {paths_info}, batch size {args.batch_size}, "
          f"best of {args.repeats} run(s) each; (b), (c) and queries in {results[0].precision}")
    columns = ["model", "(a) img/s"] + (["(a-gpu)"] if gpu else []) + ["(b) img/s", "(c) img/s", "b/a"]
    columns += (["b/a-gpu"] if gpu else []) + ["b/c", "RSS a MB", "RSS b MB", "workers MB", "RSS c MB", "others %"]
    columns += ["GPU b MB", "GPU c MB"] if gpu else []
    print(table(columns, [throughput_row(r, gpu) for r in results]))
    print("b/a and b/c within each run: " + "; ".join(
        f"{r.model} " + ", ".join(f"{ba:.2f} and {bc:.2f}" for ba, bc in r.per_run()) for r in results))
    print("(c) = the fastest bare forward: " + "; ".join(f"{r.model} {r.ceiling}" for r in results))
    print(f"    (the bare forward at batch {args.batch_size} alone: "
          + ", ".join(f"{r.model} {r.nominal:.1f}" for r in results) + " images/s)")
    print("RSS = peak resident memory of this process during the phase; workers = peak summed RSS of the "
          "decoding worker processes (shared pages counted in each); others % = the largest share of the CPU\n"
          "that other programs on this machine took during (a), (b) or (c) of the kept runs: above ~10% the\n"
          "ratios are disturbed (use --repeats)")

    print(f"\nQuery latency on a {COLLECTION_ROWS}-row collection, {args.queries} queries, milliseconds")
    columns = ["model", "forward x1", "img q p50", "img q p95", "q/forward", "raw q p50", "raw q/fwd",
               "decode p50", "embed p50", "search p50", "client p50", "text q p50", "text q p95"]
    print(table(columns, [latency_row(r, gpu) for r in results]))
    print("All timed in turns, one of each per round. forward x1 = one bare single-image forward of the encoder's "
          "model;\nimg q = Encoder.embed_image (decode, preprocess, forward) + helpers.tool.searching.search; raw q = the "
          "same with\nMilvusClient.search instead; decode = load_rgb + the preprocessing; embed = "
          "embed_image;\nsearch = helpers.tool.searching.search; client = MilvusClient.search alone")
    if gpu:
        print(f"Targets on a GPU: b/a >= {GPU_TARGETS['b/a']:g} (autocast); "
              f"a-gpu = the tutorial loop with its model moved to the GPU (not in the tutorial).")
    else:
        print(f"Targets on this CPU: b/a >= {CPU_TARGETS['b/a']:g}, b/c >= {CPU_TARGETS['b/c']:g}, image-query p50 "
              f"<= {CPU_TARGETS['query/forward']:g}x one forward.")


def main(argv: list[str] | None = None) -> int:
    from helpers.catalog import MODELS, PRECISIONS  # without importing torch, before --help

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", default=",".join(MODELS),
                        help="comma-separated: resnet34 (timm), resnet50 (torchvision), clip, or any timm name")
    parser.add_argument("--images", type=int, default=240, help="number of seeded 500x375 JPEGs (default 240)")
    parser.add_argument("--folder", type=Path, help="time these images instead of generated ones (first --images)")
    parser.add_argument("--batch-size", type=int, default=64, help="batch size of (b) and (c) (default 64)")
    parser.add_argument("--device", default="auto", help="cpu, cuda or auto (default: cuda when present)")
    parser.add_argument("--queries", type=int, default=40, help="timed queries per kind (default 40)")
    parser.add_argument("--repeats", type=int, default=1, help="repeat (a), (b), (c) and keep the best (default 1)")
    parser.add_argument("--threads", type=int, default=None, help="torch intra-op threads (default: torch's)")
    parser.add_argument("--precision", choices=PRECISIONS, default=None,
                        help="what the encoder computes in (default: float16 on a GPU, float32 on a CPU)")
    args = parser.parse_args(argv)

    os.environ.setdefault("IMAGE_SEARCH_OFFLINE", "1")
    import torch

    from helpers.tool.connecting import connect
    from helpers.encoders import default_device
    from helpers.images import find_images

    if args.threads:
        torch.set_num_threads(args.threads)
    device = default_device() if args.device == "auto" else torch.device(args.device)
    print(machine_line(device))
    print(f"{load_line()} at start (other programs on this machine disturb the timings)")

    workdir = Path(tempfile.mkdtemp(prefix="embedding-bench-"))
    try:
        if args.folder:
            paths = find_images(args.folder)[:args.images]
            info = f"{len(paths)} images from {args.folder}"
        else:
            start = time.perf_counter()
            paths = make_images(workdir / "images", args.images)
            size = sum(path.stat().st_size for path in paths) / len(paths) / 1024
            info = f"{len(paths)} seeded JPEGs of 500x375, {size:.0f} KB on average"
            print(f"made {info} in {time.perf_counter() - start:.1f} s")
        # Milvus Lite (and its gRPC threads) exists before any decoding worker starts, as in the notebooks.
        client = connect(str(workdir / "bench.db"))
        results = []
        for name in [m.strip() for m in args.models.split(",") if m.strip()]:
            results.append(benchmark_model(name, args, client, paths, device))
        client.close()
        print(machine_line(device))
        print(f"{load_line()} at the end")
        print_tables(results, args, device, info)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
