"""How long each notebook's Run All takes on this machine with the real data, extrapolated from measurements.

Per notebook, in wall and in CPU seconds (all threads): (1) per image, the notebook's heavy step with its own
calls (`load_encoder`, `embed_images` at its batch size, `client.insert` of its rows, `flush` for 02) on seeded
stand-in JPEGs of the real data's size (500x375 photos; large paintings for 02); (2) fixed, Run All offline
(nbclient, the samples, a fresh kernel) minus the time the notebook spent in `embed_images` / `embed_image`.
Estimate = fixed + real images x per image (+ notebook 01's t-SNE growth from the samples' rows to 1,000).
Wall times on a shared machine include others' work; the CPU estimate is the machine to itself: fixed CPU
seconds as they are (mostly one thread), per-image CPU seconds spread over all cores. Not included: downloads,
Colab's `%pip install`, loading real weights (seeded stand-ins here).

    python benchmarks/notebook_times.py [--images 64] [--painting-size 1500x1125] [--notebooks 01,04]
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

os.environ.setdefault("IMAGE_SEARCH_OFFLINE", "1")
ROOT = Path(__file__).resolve().parent.parent

import helpers  # noqa: E402,F401  (faiss before torch)
import nbformat  # noqa: E402
import numpy as np  # noqa: E402
from machine import cpu_name  # noqa: E402
from nbclient import NotebookClient  # noqa: E402
from photos import make_images  # noqa: E402  (the samples' generator)
from pymilvus import MilvusClient  # noqa: E402
from report import table  # noqa: E402

from helpers.collection import create_quick, create_with_schema  # noqa: E402
from helpers.config import SAMPLES_DIR  # noqa: E402
from helpers.connection import connection_options  # noqa: E402
from helpers.encoders import DEFAULT_BATCH_SIZE, Encoder, load_encoder  # noqa: E402
from helpers.images import find_images  # noqa: E402
from helpers.plotting import embedding_map  # noqa: E402


@dataclass(frozen=True)
class Notebook:
    """What a notebook embeds and how: its model, batch sizes, collection layout, and real image count."""
    file: str
    model: str
    images: str  # "photos" (ImageNet subset) or "paintings"
    real_images: tuple[int, int]  # images embedded with the real data: low, high
    batch_size: int
    embed_chunk: int | None  # images per embed_images call, rows per insert (None: all at once)
    insert_chunk: int | None
    schema: bool  # explicit schema + IVF_FLAT + flush (notebook 02), else quick setup


NOTEBOOKS = (
    # 1,000 train photos, the Afghan hound query, 100 test photos in `evaluate`.
    Notebook("01_reverse_image_search.ipynb", "resnet34", "photos", (1101, 1101), 64, None, 256, False),
    # The gallery (Kaggle's 4,988 training paintings; 5,978 with its 990 validation ones) + 2 query paintings.
    Notebook("02_paintings_search.ipynb", "resnet50", "paintings", (4990, 5980), 128, 128, 128, True),
    # 1,000 train photos, the Afghan hound query, 100 test photos for the zero-shot accuracy.
    Notebook("03_text_to_image_search.ipynb", "clip", "photos", (1101, 1101), DEFAULT_BATCH_SIZE, None, None, False),
    # 1,000 train photos + 5 near-copies of 3 per class (1,500) + 100 test photos; the album's 200 photos, the 4
    # its sync embeds, and 2 single photos (the changed file's old and new picture).
    Notebook("04_photo_library.ipynb", "clip", "photos", (2806, 2806), DEFAULT_BATCH_SIZE, None, 256, False),
)

# Wraps the encoder's two image calls inside the notebook's kernel, adding up their wall and CPU seconds.
TIMER = """
import time as _time
from helpers.encoders import Encoder as _Encoder
_EMBEDDED = [0.0, 0.0, 0]
def _timed(method, count):
    def wrapper(self, items, *args, **kwargs):
        wall, cpu = _time.perf_counter(), _time.process_time()
        result = method(self, items, *args, **kwargs)
        _EMBEDDED[:] = [_EMBEDDED[0] + _time.perf_counter() - wall, _EMBEDDED[1] + _time.process_time() - cpu,
                        _EMBEDDED[2] + count(items)]
        return result
    return wrapper
_Encoder.embed_images = _timed(_Encoder.embed_images, lambda items: len(list(items)))
_Encoder.embed_image = _timed(_Encoder.embed_image, lambda item: 1)
"""


def index_like(notebook: Notebook, encoder: Encoder, client: MilvusClient, images: list[tuple[Path, str]]) -> None:
    """Embed and insert `images` with the notebook's calls, batch sizes and collection layout."""
    name, step = "timing", notebook.embed_chunk or len(images)
    if notebook.schema:
        create_with_schema(client, name, encoder.dim, vector_field="image_embedding", path_field="filepath",
                           text_fields={"painter": 64}, index_type="IVF_FLAT", metric="L2",
                           index_params={"nlist": 16384}, model=encoder.model_id, recreate=True)
    else:
        create_quick(client, name, dim=encoder.dim, metric="COSINE", vector_field="vector",
                     model=encoder.model_id, recreate=True)
    for first in range(0, len(images), step):
        chunk = dict(images[first:first + step])
        embeddings = encoder.embed_images(list(chunk), batch_size=notebook.batch_size, progress=False)
        rows = [{"image_embedding": vector, "filepath": str(path), "painter": chunk[path]} if notebook.schema
                else {"vector": vector, "filename": str(path)}
                for vector, path in zip(embeddings.vectors, embeddings.sources)]
        for row in range(0, len(rows), notebook.insert_chunk or len(rows)):
            client.insert(collection_name=name, data=rows[row:row + (notebook.insert_chunk or len(rows))])
    if notebook.schema:
        client.flush(collection_name=name)


def per_image(notebook: Notebook, count: int, painting_size: tuple[int, int], work: Path) -> tuple[float, float, float]:
    """Wall and CPU seconds per image of the notebook's embed-and-insert step; the stand-ins' mean KB."""
    size, shape = ((500, 375), None) if notebook.images == "photos" else (painting_size, "stroke")
    paths = make_images(work / notebook.model, count + 8, size=size, shape=shape)
    images = [(path, path.name.split("_")[0]) for path in paths]  # (path, its class: the painter's field for 02)
    encoder = load_encoder(notebook.model)
    uri = str(work / f"{notebook.model}.db")
    client = MilvusClient(uri=uri, **connection_options(uri))
    index_like(notebook, encoder, client, images[:8])  # warm-up: first-call allocations, thread pools
    wall, cpu = time.perf_counter(), time.process_time()
    index_like(notebook, encoder, client, images[8:])
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    client.close()
    return wall / count, cpu / count, np.mean([path.stat().st_size for path, _ in images]) / 1024


def run_all(notebook: Notebook, work: Path) -> tuple[float, float, float, float, int]:
    """Run All offline in a fresh kernel: wall and CPU seconds, the same spent embedding, images embedded."""
    nb = nbformat.read(ROOT / "notebooks" / notebook.file, as_version=4)
    nb.cells = [nbformat.v4.new_code_cell(TIMER), *nb.cells, nbformat.v4.new_code_cell("print(*_EMBEDDED)")]
    (folder := work / notebook.file.removesuffix(".ipynb")).mkdir()
    def children_cpu() -> float:  # user + system seconds of finished children (the kernel, once shut down)
        return sum(resource.getrusage(resource.RUSAGE_CHILDREN)[:2])
    wall, cpu = time.perf_counter(), children_cpu()
    NotebookClient(nb, timeout=1200, kernel_name="python3", resources={"metadata": {"path": str(folder)}}).execute()
    wall, cpu = time.perf_counter() - wall, children_cpu() - cpu
    embed_wall, embed_cpu, images = nb.cells[-1].outputs[0]["text"].split()
    return wall, cpu, float(embed_wall), float(embed_cpu), int(images)


def tsne_growth(rows: int = 1000) -> tuple[float, float]:
    """Wall and CPU seconds notebook 01's t-SNE map takes at `rows` vectors beyond those at the samples' rows."""
    rng, times = np.random.default_rng(0), []
    centres = rng.normal(size=(100, 512))
    for count in (len(find_images(SAMPLES_DIR / "reverse_image_search" / "train")), rows):
        vectors = centres[np.arange(count) % 100] + rng.normal(scale=0.5, size=(count, 512))
        wall, cpu = time.perf_counter(), time.process_time()
        embedding_map(vectors / np.linalg.norm(vectors, axis=1, keepdims=True))
        times.append((time.perf_counter() - wall, time.process_time() - cpu))
    return times[1][0] - times[0][0], times[1][1] - times[0][1]


def minutes(fixed: float, extra: float, per_image: float, counts: tuple[int, int]) -> str:
    """Estimated minutes for the low and high image counts, one figure when they round alike."""
    low, high = ((fixed + extra + count * per_image) / 60 for count in counts)
    return f"{low:.0f}" if round(low) == round(high) else f"{low:.0f}-{high:.0f}"


COLUMNS = ("notebook", "model", "stand-in JPEG", "images with the real data", "s/image",
           "Run All on the samples, s (images)", "fixed, s", "t-SNE growth, s", "est. Run All, min, as measured",
           "est., min, machine to itself")


@dataclass
class Estimate:
    """One notebook's measurements (wall, CPU seconds) and the Run All minutes they extrapolate to."""
    notebook: Notebook
    size: str
    kb: float
    per_image: tuple[float, float]
    run_all: tuple[float, float]
    embedded: tuple[float, float]  # of run_all, spent in embed_images / embed_image
    sample_images: int
    tsne: tuple[float, float]

    def cells(self, cores: int) -> list[str]:
        """The table row: wall / CPU seconds, and the estimates (CPU seconds per image spread over `cores`)."""
        fixed = [total - embedding for total, embedding in zip(self.run_all, self.embedded)]
        counts = self.notebook.real_images
        return [self.notebook.file.removesuffix(".ipynb"), self.notebook.model, f"{self.size}, {self.kb:.0f} KB",
                "-".join(f"{n:,}" for n in sorted(set(counts))),
                f"{self.per_image[0]:.3f} / {self.per_image[1]:.3f}",
                f"{self.run_all[0]:.0f} / {self.run_all[1]:.0f} ({self.sample_images})",
                f"{fixed[0]:.0f} / {fixed[1]:.0f}", f"{self.tsne[0]:.0f} / {self.tsne[1]:.0f}",
                minutes(fixed[0], self.tsne[0], self.per_image[0], counts),
                minutes(fixed[1], self.tsne[1], self.per_image[1] / cores, counts)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=64, help="stand-in images timed per notebook (default 64)")
    parser.add_argument("--painting-size", default="1500x1125", help="notebook 02's stand-in size, WxH")
    parser.add_argument("--notebooks", default="", help="only the notebooks whose file names start with these, "
                                                         "comma-separated (default: all), e.g. 04")
    args = parser.parse_args(argv)
    painting_size = tuple(int(side) for side in args.painting_size.split("x"))  # (width, height)
    started, cores, estimates = time.perf_counter(), os.cpu_count() or 1, []
    with tempfile.TemporaryDirectory(prefix="notebook-times-") as tmp:
        chosen = [prefix for prefix in args.notebooks.split(",") if prefix]
        for notebook in [n for n in NOTEBOOKS if not chosen or n.file.startswith(tuple(chosen))]:
            wall, cpu, kb = per_image(notebook, args.images, painting_size, Path(tmp))
            run_wall, run_cpu, embed_wall, embed_cpu, sample_images = run_all(notebook, Path(tmp))
            estimates.append(Estimate(
                notebook, "500x375" if notebook.images == "photos" else args.painting_size, kb, (wall, cpu),
                (run_wall, run_cpu), (embed_wall, embed_cpu), sample_images,
                tsne_growth() if notebook.model == "resnet34" else (0.0, 0.0)))
            print("| " + " | ".join(estimates[-1].cells(cores)) + " |", flush=True)  # the table follows at the end
    print(f"\nCPU: {cpu_name()}, {cores} cores; load average {os.getloadavg()[0]:.1f} at the end; "
          f"{args.images} stand-in images a notebook. Run All minutes are EXTRAPOLATED from the measured per-image "
          "and fixed costs to the real data's image counts; downloads not included. Times are wall / CPU seconds.\n")
    print(table(COLUMNS, [estimate.cells(cores) for estimate in estimates]))
    print(f"\nThis run took {time.perf_counter() - started:.0f} s.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
