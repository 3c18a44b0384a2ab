"""The measuring behind notebook 04 (a photo library): timings, index sizes, near-copies of photos, the
precision and recall of "is a copy of" over thresholds, the changes a folder went through, and counts of
labels in search results. The notebook makes the Milvus calls; these functions only count what they return.
"""

from __future__ import annotations

import hashlib
import logging
import os
import statistics
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageEnhance, ImageOps
from pymilvus import MilvusException

from .connection import is_server
from .images import load_rgb
from .results import label_of

# The edits that make a near-copy: each leaves the picture recognisably the same photo.
COPY_KINDS = ("reencoded", "resized", "cropped", "flipped", "colour")
QUIETED_LOGGERS = ("pymilvus", "milvus_lite")  # what logs a refused request, while `milvus_refusal` runs
INDEX_FILE_SUFFIX = ".idx"  # Lite writes each segment's vector index beside its data: <segment>.<field>.<type>.idx


@dataclass(frozen=True)
class FolderChanges:
    """How a folder differs from what a collection holds, by file path: files that are new, files whose content
    changed, files that are gone, and files as they were (a file touched but unchanged is among these)."""

    added: list[str]
    changed: list[str]
    removed: list[str]
    unchanged: list[str]

    def summary(self) -> str:
        """One line: added N, changed N, removed N, unchanged N."""
        return (f"added {len(self.added)}, changed {len(self.changed)}, removed {len(self.removed)}, "
                f"unchanged {len(self.unchanged)}")


def median_ms(call: Callable[[], object], repeats: int = 5) -> float:
    """The median wall time of `repeats` runs of `call`, in milliseconds (the median ignores a slow outlier)."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def index_bytes_per_vector(uri: str, collection: str, rows: int) -> float | None:
    """The size of collection `collection`'s vector index files in Milvus Lite file `uri`, divided by `rows`;
    None for a server (its index files are not on this disk). Only the indexes that exist now are on disk."""
    if is_server(uri):
        return None
    folder = Path(uri) / "collections" / collection
    total = sum(path.stat().st_size for path in folder.rglob(f"*{INDEX_FILE_SUFFIX}"))
    return total / rows if rows else float("nan")


def make_near_copies(photos: Sequence[str | os.PathLike], folder: str | os.PathLike) -> dict[Path, Path]:
    """Write one near-copy of each photo per kind in `COPY_KINDS` below `folder`, in a subfolder named like the
    photo's class folder (so a copy has its original's label). Returns {copy: original}. Deterministic."""
    copies: dict[Path, Path] = {}
    for photo in map(Path, photos):
        image = load_rgb(photo)
        target = Path(folder) / label_of(photo)
        target.mkdir(parents=True, exist_ok=True)
        for kind in COPY_KINDS:
            path = target / f"{photo.stem}_{kind}.jpg"
            _edit(image, kind).save(path, quality=25 if kind == "reencoded" else 90)
            copies[path] = photo
    return copies


def threshold_curve(similar: Mapping[str, Sequence[tuple[str, float]]], relevant: Mapping[str, set[str]],
                    thresholds: Sequence[float]) -> list[tuple[float, float, float]]:
    """Precision and recall of "is a copy of" at each threshold: a query's hits (key, similarity) at or above
    the threshold are its predicted copies, `relevant[query]` its real ones (the query itself never counts).
    Returns (threshold, precision, recall) rows; precision is 1.0 where nothing is predicted."""
    curve = []
    for threshold in thresholds:
        found = right = 0
        for query, hits in similar.items():
            predicted = {key for key, similarity in hits if similarity >= threshold and key != query}
            found += len(predicted)
            right += len(predicted & relevant[query])
        total = sum(len(relevant[query] - {query}) for query in similar)
        curve.append((threshold, right / found if found else 1.0, right / total if total else 1.0))
    return curve


def best_threshold(curve: Sequence[tuple[float, float, float]]) -> float:
    """The threshold of `threshold_curve` with the highest F1 (the harmonic mean of precision and recall); of
    equal ones, the highest threshold."""
    def f1(row: tuple[float, float, float]) -> float:
        _, precision, recall = row
        return 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return max(curve, key=lambda row: (f1(row), row[0]))[0]


def duplicate_groups(pairs: Iterable[tuple[str, str]]) -> list[list[str]]:
    """The groups that the pairs (a, b: "a is a copy of b") link together, largest first, each sorted."""
    parent: dict[str, str] = {}

    def root(key: str) -> str:
        while parent.setdefault(key, key) != key:
            parent[key] = parent[parent[key]]
            key = parent[key]
        return key
    for first, second in pairs:
        parent[root(first)] = root(second)
    groups: dict[str, list[str]] = {}
    for key in parent:
        groups.setdefault(root(key), []).append(key)
    return sorted((sorted(group) for group in groups.values()), key=lambda group: (-len(group), group[0]))


def content_hash(path: str | os.PathLike) -> str | None:
    """The sha256 of a file's bytes, in hex: what tells a changed file from a touched one when a folder is synced.
    None for a file that cannot be read (a dangling link, no permission): it is skipped, with its reason, when it
    fails to decode."""
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as file:
            for block in iter(lambda: file.read(1 << 20), b""):
                digest.update(block)
    except OSError:
        return None
    return digest.hexdigest()


def folder_changes(stored: Mapping[str, str | None], current: Mapping[str, str]) -> FolderChanges:
    """Compare {path: content hash} of the rows in a collection (`stored`; None where a row has no hash) with
    {path: content hash} of the files in the folder now (`current`). A file changed when its hash differs."""
    return FolderChanges(added=sorted(set(current) - set(stored)),
                         changed=sorted(path for path in current if path in stored and stored[path] != current[path]),
                         removed=sorted(set(stored) - set(current)),
                         unchanged=sorted(path for path in current if stored.get(path) == current[path]))


def distinct_labels(results: Sequence[Sequence[dict]], field: str, k: int) -> float:
    """The mean number of distinct values of `field` among the first `k` hits of each query's results."""
    return statistics.mean(len({hit["entity"][field] for hit in hits[:k]}) for hits in results)


def label_share(results: Sequence[Sequence[dict]], labels: Sequence[str], field: str) -> float:
    """The mean share of each query's hits whose `field` is that query's label."""
    return statistics.mean(sum(hit["entity"][field] == label for hit in hits) / len(hits) if hits else 0.0
                           for hits, label in zip(results, labels))


def label_found(results: Sequence[Sequence[dict]], labels: Sequence[str], field: str) -> float:
    """The share of queries with at least one hit whose `field` is that query's label."""
    return statistics.mean(any(hit["entity"][field] == label for hit in hits) for hits, label in zip(results, labels))


def milvus_refusal(call: Callable[[], object]) -> str:
    """Run `call`, which Milvus is expected to refuse, and return what Milvus said (the error logs of pymilvus
    and of Milvus Lite, which repeat it with a traceback, are held back meanwhile); "accepted" if Milvus did it."""
    loggers = [logging.getLogger(name) for name in QUIETED_LOGGERS]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.CRITICAL + 1)
    try:
        call()
    except MilvusException as error:
        return error.message
    finally:
        for logger, level in zip(loggers, levels):
            logger.setLevel(level)
    return "accepted"


def _edit(image: Image.Image, kind: str) -> Image.Image:
    width, height = image.size
    if kind == "reencoded":
        return image
    if kind == "resized":
        return image.resize((max(1, width // 2), max(1, height // 2)), Image.Resampling.LANCZOS)
    if kind == "cropped":
        return image.crop((width // 10, height // 10, width - width // 10, height - height // 10))
    if kind == "flipped":
        return ImageOps.mirror(image)
    if kind == "colour":
        return ImageEnhance.Brightness(ImageEnhance.Color(image).enhance(1.6)).enhance(1.15)
    raise ValueError(f"Unknown kind of copy {kind!r}: choose from {', '.join(COPY_KINDS)}.")
