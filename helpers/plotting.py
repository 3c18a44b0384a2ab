"""Result figures: the query above a grid of 150x150 thumbnails (5 a row), and the one-row-per-query figure.
They take the hits exactly as `MilvusClient.search` returns them, and return a matplotlib `Figure`, which a
notebook shows and `figure.savefig` saves.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.offsetbox import AnnotationBbox, OffsetImage
from PIL import Image, ImageOps
from sklearn.decomposition import PCA
from sklearn.manifold import TSNE

from .errors import InputError
from .images import ImageSource, load_rgb
from .results import hit_label, hit_path, label_of

THUMBNAIL = 150
COLUMNS = 5
INCHES_PER_THUMB = 2.0


def thumbnail(source: ImageSource, size: int = THUMBNAIL) -> Image.Image:
    """A square size x size crop of the image's centre, as the tutorials show results."""
    return ImageOps.fit(load_rgb(source), (size, size), Image.Resampling.LANCZOS)


def _show(axis: Axes, source: ImageSource, title: str) -> None:
    axis.imshow(thumbnail(source))
    axis.set_title(title, fontsize=9)
    axis.axis("off")


def show_results(hits: Sequence[dict], query: ImageSource | None = None, title: str | None = None,
                 columns: int = COLUMNS) -> Figure:
    """The query (an image, or just a title for a text query) above its hits (one query's list from
    `client.search`), `columns` thumbnails a row, each captioned with rank, class folder and distance."""
    rows = math.ceil(len(hits) / columns) if hits else 1
    top = 1 if query is not None else 0
    figure = plt.figure(figsize=(columns * INCHES_PER_THUMB, (rows + top) * INCHES_PER_THUMB + 0.4),
                        layout="constrained")
    grid = figure.add_gridspec(rows + top, columns)
    if query is not None:
        name = Path(query).name if not isinstance(query, Image.Image) else "your image"
        _show(figure.add_subplot(grid[0, columns // 2]), query, f"Query: {name}")
    for rank, hit in enumerate(hits):
        axis = figure.add_subplot(grid[top + rank // columns, rank % columns])
        _show(axis, hit_path(hit), f"{rank + 1}. {hit_label(hit)}\n{hit['distance']:.3f}")
    if not hits:
        figure.add_subplot(grid[top, :]).axis("off")
        figure.text(0.5, 0.3, "no results", ha="center")
    if title:
        figure.suptitle(title, fontsize=12)
    return figure


def show_text_results(text: str, hits: Sequence[dict], columns: int = COLUMNS) -> Figure:
    """The grid of hits for a text query, with the text as the figure's title."""
    return show_results(hits, title=f"Query text: {text!r}", columns=columns)


def plot_query_rows(queries: Sequence[ImageSource], results: Sequence[Sequence[dict]],
                    search_seconds: float | None = None, title: str | None = None, score: str = "distance") -> Figure:
    """One row per query: the query first (titled with the search time, when given), then its hits titled
    with their score, named `score` ("similarity" for COSINE and IP, where higher is closer); `results` is what
    one `client.search` with all the queries returned. `title` goes on top."""
    columns = 1 + max((len(hits) for hits in results), default=0)
    figure, axes = plt.subplots(len(queries), columns, squeeze=False, layout="constrained",
                                figsize=(columns * INCHES_PER_THUMB, len(queries) * (INCHES_PER_THUMB + 0.3)))
    for row, (query, hits) in enumerate(zip(queries, results)):
        timing = f"search {search_seconds * 1000:.1f} ms" if search_seconds is not None else "query"
        _show(axes[row][0], query, f"{Path(query).parent.name}\n{timing}")
        for column in range(1, columns):
            if column <= len(hits):
                hit = hits[column - 1]
                _show(axes[row][column], hit_path(hit), f"{hit_label(hit)}\n{score} {hit['distance']:.3f}")
            else:
                axes[row][column].axis("off")
    if title:
        figure.suptitle(title, fontsize=12)
    return figure


def embedding_map(vectors: Sequence[Sequence[float]], seed: int = 0) -> np.ndarray:
    """2-D coordinates for the vectors, one row each: t-SNE (after PCA to at most 50 dimensions), which keeps
    neighbours together. Seeded, so the same vectors always give the same map."""
    data = np.asarray(vectors, dtype=np.float32)
    if len(data) < 3:
        raise InputError(f"A map needs at least 3 vectors, got {len(data)}.")
    reduced = PCA(n_components=min(50, *data.shape), random_state=seed).fit_transform(data)
    perplexity = min(30.0, (len(data) - 1) / 3)
    return TSNE(n_components=2, perplexity=perplexity, init="pca", random_state=seed).fit_transform(reduced)


def plot_embedding_map(vectors: Sequence[Sequence[float]], paths: Sequence[str], thumbnails: int = 12,
                       seed: int = 0) -> Figure:
    """Every image as a dot at its `embedding_map` position, coloured by class folder, with the thumbnail of
    one image for `thumbnails` classes spread over the alphabet."""
    points = embedding_map(vectors, seed)
    labels = [label_of(path) for path in paths]
    classes = sorted(set(labels))
    colours = dict(zip(classes, plt.get_cmap("nipy_spectral")(np.linspace(0.05, 0.95, len(classes)))))
    figure, axis = plt.subplots(figsize=(10, 8), layout="constrained")
    axis.scatter(points[:, 0], points[:, 1], c=[colours[label] for label in labels], s=14)
    for label in classes[::max(1, math.ceil(len(classes) / thumbnails))]:
        first = labels.index(label)
        picture = OffsetImage(np.asarray(thumbnail(paths[first], 56)), zoom=1.0)
        axis.add_artist(AnnotationBbox(picture, points[first], bboxprops={"edgecolor": colours[label], "lw": 2}))
        axis.annotate(label, points[first], xytext=(0, -38), textcoords="offset points", ha="center", fontsize=8)
    axis.set(title=f"{len(labels)} images in {len(classes)} classes, placed by their embeddings (t-SNE)", xticks=[],
             yticks=[])
    return figure


def plot_recall_and_time(nprobes: Sequence[int], recalls: Sequence[float], seconds: Sequence[Sequence[float]],
                         k: int) -> Figure:
    """An IVF index's recall@k (left axis) and search time (right axis) against `nprobe`, on a log2 axis: of the
    timings of each `nprobe`'s repeated search (`seconds`), the median, in a band from the fastest to the slowest."""
    figure, recall_axis = plt.subplots(figsize=(7, 4), layout="constrained")
    recall_axis.plot(nprobes, recalls, "o-", color="tab:blue")
    recall_axis.set_xscale("log", base=2)
    recall_axis.set_xticks(list(nprobes), [str(n) for n in nprobes])
    recall_axis.set(ylim=(0, 1.05), xlabel=f"nprobe (lists searched, of {max(nprobes)})")
    recall_axis.set_ylabel(f"recall@{k} against FLAT", color="tab:blue")
    time_axis = recall_axis.twinx()
    milliseconds = [np.asarray(timings, dtype=float) * 1000 for timings in seconds]
    time_axis.fill_between(nprobes, [t.min() for t in milliseconds], [t.max() for t in milliseconds],
                           color="tab:orange", alpha=0.2, label="fastest to slowest")
    time_axis.plot(nprobes, [np.median(t) for t in milliseconds], "s--", color="tab:orange", label="median")
    time_axis.set_ylim(bottom=0)
    time_axis.set_ylabel(f"search time, all queries (ms; {len(milliseconds[0])} runs)", color="tab:orange")
    time_axis.legend(loc="lower right")
    recall_axis.set_title(f"IVF_FLAT against an exact search: recall@{k} and time by nprobe")
    return figure
