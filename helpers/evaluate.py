"""Retrieval quality over a test folder whose ground truth is each image's class folder, and how approximate an
index is. Every test image is a query; a hit is relevant when it comes from the query's class folder
(`results.label_of`). AP@k is the standard one: it divides by min(relevant images, k), not by the hits found.
`score_hits` scores hits already found the same way; `zero_shot_accuracy` classifies images by their nearest class
text. An approximate index (IVF_FLAT, HNSW) compares the query with part of the collection; its recall@k
(`index_recall`) is the share of the exact top k (a `FLAT` search of the same rows) that it also returns.
"""

from __future__ import annotations

import math
import os
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from pymilvus import MilvusClient

from .collection import layout
from .encoders import Encoder
from .errors import InputError
from .images import labelled_images
from .results import hit_label

ROWS_PER_LIST = 4  # the fewest vectors per IVF list, on average, that k-means is given here


def evaluate(client: MilvusClient, name: str, encoder: Encoder, train_dir: str | os.PathLike,
             test_dir: str | os.PathLike, k: int = 10, search_params: dict | None = None) -> Evaluation:
    """Search the collection (built from `train_dir`) with every image of `test_dir` and score the top k.
    Raises `InputError` when `test_dir` has no image in a class folder, and what `client.search` raises."""
    gallery = Counter(label for _, label in labelled_images(train_dir))
    tests = labelled_images(test_dir)
    if not tests:
        raise InputError(f"No test images in class folders below {test_dir}: expected {test_dir}/<class>/<image>.")
    embeddings = encoder.embed_images([path for path, _ in tests])
    labels = dict(tests)
    results = client.search(name, data=list(embeddings.vectors), limit=k, search_params=search_params or {},
                            output_fields=layout(client, name).path_fields)
    return score_hits(embeddings.sources, [labels[path] for path in embeddings.sources], results, gallery, k)


def _relevance(labels: Sequence[str], relevant: str, k: int) -> np.ndarray:
    return np.array([label == relevant for label in labels[:k]], dtype=float)


def precision_at_k(labels: Sequence[str], relevant: str, k: int) -> float:
    """Share of the top k results from the relevant class (missing results count as wrong)."""
    return float(_relevance(labels, relevant, k).sum() / k)


def average_precision_at_k(labels: Sequence[str], relevant: str, n_relevant: int, k: int) -> float:
    """Standard AP@k: the mean of precision@i at each relevant rank i <= k, over min(n_relevant, k)."""
    hits = _relevance(labels, relevant, k)
    if not n_relevant or not hits.any():
        return 0.0
    precisions = np.cumsum(hits) / np.arange(1, len(hits) + 1)
    return float((precisions * hits).sum() / min(n_relevant, k))


@dataclass
class QueryResult:
    """One query (a test image, or a text), its label, what came back, and its scores."""

    query: Path | str
    label: str
    hits: list[dict]
    precision: float
    average_precision: float


@dataclass
class Evaluation:
    """All queries of a test folder at one k, with the means and a per-class view."""

    k: int
    queries: list[QueryResult]

    @property
    def precision(self) -> float:
        return float(np.mean([q.precision for q in self.queries]))

    @property
    def mean_average_precision(self) -> float:
        return float(np.mean([q.average_precision for q in self.queries]))

    def per_class(self) -> list[tuple[str, float, float]]:
        """(class, precision@k, AP@k) averaged per class, best first."""
        by_class: dict[str, list[QueryResult]] = defaultdict(list)
        for query in self.queries:
            by_class[query.label].append(query)
        rows = [(label, float(np.mean([q.precision for q in qs])), float(np.mean([q.average_precision for q in qs])))
                for label, qs in by_class.items()]
        return sorted(rows, key=lambda row: (-row[2], -row[1], row[0]))

    def table(self, rows: int = 5, heading: str = "class") -> str:
        """The `rows` best and worst classes (all when there are few) as a text table, its first column `heading`."""
        per_class = self.per_class()
        shown = per_class if len(per_class) <= 2 * rows else per_class[:rows] + [None] + per_class[-rows:]
        lines = [f"{heading:<30}{f'P@{self.k}':>8}{f'AP@{self.k}':>8}"]
        for row in shown:
            lines.append(f"{'...':<30}" if row is None else f"{row[0]:<30}{row[1]:>8.2f}{row[2]:>8.2f}")
        return "\n".join(lines)

    def worst(self) -> QueryResult:
        """The query that did worst (lowest AP, then lowest precision)."""
        return min(self.queries, key=lambda q: (q.average_precision, q.precision, str(q.query)))

    def summary(self) -> str:
        return f"precision@{self.k}: {self.precision:.3f}\nmAP@{self.k}: {self.mean_average_precision:.3f}"


def score_hits(queries: Sequence[Path | str], labels: Sequence[str], results: Sequence[Sequence[dict]],
               gallery: Mapping[str, int], k: int) -> Evaluation:
    """Score hits already found: query i has label `labels[i]` and got `results[i]` (one list of pymilvus hits
    each, as one `client.search` returns them); `gallery` counts the collection's images of each label."""
    if not len(queries) == len(labels) == len(results):
        raise InputError(f"{len(queries)} queries, {len(labels)} labels and {len(results)} result lists: "
                         "each query needs its label and its hits.")
    scored = []
    for query, label, hits in zip(queries, labels, results):
        found, relevant = [hit_label(hit) for hit in hits], gallery.get(label, 0)
        scored.append(QueryResult(query, label, list(hits), precision_at_k(found, label, k),
                                  average_precision_at_k(found, label, relevant, k)))
    return Evaluation(k, scored)


def zero_shot_accuracy(image_vectors: np.ndarray, image_labels: Sequence[str], text_vectors: np.ndarray,
                       text_labels: Sequence[str]) -> float:
    """Share of images whose most similar text (largest dot product: cosine, for unit vectors) is their class's;
    `text_vectors[j]` describes class `text_labels[j]`, as CLIP's zero-shot recipe does ("a photo of a ...")."""
    images, texts = np.asarray(image_vectors, dtype=np.float32), np.asarray(text_vectors, dtype=np.float32)
    if len(images) != len(image_labels) or len(texts) != len(text_labels) or not len(images):
        raise InputError(f"{len(images)} image vectors for {len(image_labels)} labels and {len(texts)} text vectors "
                         f"for {len(text_labels)} classes: give each vector its label, and at least one image.")
    predicted = np.asarray(text_labels)[np.argmax(images @ texts.T, axis=1)]
    return float(np.mean(predicted == np.asarray(image_labels)))


# How approximate an index is: its hits against an exact search's (`FLAT`), and the IVF parameters worth trying.

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


def index_recall(approximate: Sequence[Sequence[dict]], exact: Sequence[Sequence[dict]], k: int) -> float:
    """Mean recall@k of an approximate search against the exact one: per query, the share of the exact top k
    (by row id) among the approximate top k. Both are what `client.search` returns for the same queries."""
    if len(approximate) != len(exact) or not len(exact):
        raise InputError(f"{len(approximate)} approximate and {len(exact)} exact result lists: search the same "
                         "queries both ways.")
    top = [({hit["id"] for hit in found[:k]}, {hit["id"] for hit in truth[:k]})  # row ids, approximate and exact
           for found, truth in zip(approximate, exact)]
    return float(np.mean([len(found & truth) / len(truth) if truth else 1.0 for found, truth in top]))
