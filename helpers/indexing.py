"""Index a folder of images into a collection: embed in chunks, insert each chunk, skip what is stored.

Inserting chunk by chunk means an interrupted run loses at most one chunk, and because paths already
in the collection are skipped, running it again completes the collection without duplicates.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from pymilvus import MilvusClient

from .collection import check_lengths, create_quick, insert, start_over, stored_paths
from .encoders import DEFAULT_BATCH_SIZE, Encoder
from .errors import InputError
from .images import IMAGE_EXTENSIONS, find_images

CHUNK_BATCHES = 4


@dataclass
class IndexReport:
    """What one indexing run did: rows inserted, images already there, files skipped with reasons."""

    indexed: int = 0
    already_indexed: int = 0
    skipped: list[tuple[str, str]] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def images_per_second(self) -> float:
        """Embedding and insert throughput of this run."""
        return self.indexed / self.seconds if self.seconds > 0 else float("nan")

    def summary(self) -> str:
        """A few lines for people: what was added (or that nothing was new), then each skipped file and why."""
        if self.indexed:
            first = (f"Indexed {self.indexed} new images in {self.seconds:.1f} s ({self.images_per_second:.1f} "
                     f"images/s); {self.already_indexed} were already in the collection.")
        elif self.already_indexed:
            first = f"Nothing new to index: all {self.already_indexed} images are already in the collection."
        else:
            first = "Indexed no images."
        lines = [first] + ([f"Skipped {len(self.skipped)} files:"] if self.skipped else [])
        lines += [f"  {reason}" if reason.startswith(path) else f"  {path}: {reason}" for path, reason in self.skipped]
        return "\n".join(lines)


def images_below(folder: str | os.PathLike) -> list[Path]:
    """The image files below `folder` (see `find_images`), or a `ValueError` saying none were found."""
    images = find_images(folder)
    if not images:
        raise InputError(
            f"No images found in {folder} (looked for {', '.join(sorted(IMAGE_EXTENSIONS))} in any case, "
            "recursively). Point to the folder that holds your images."
        )
    return images


def index_folder(client: MilvusClient, name: str, encoder: Encoder, folder: str | os.PathLike, *,
                 path_field: str = "filepath", vector_field: str = "vector",
                 extra_fields: Callable[[Path], dict] | None = None, batch_size: int = DEFAULT_BATCH_SIZE,
                 progress: bool | None = None, recreate: bool = False) -> IndexReport:
    """Embed every image below `folder` not yet in collection `name` and insert it with its absolute path.

    An image counts as stored when its real path (links and `..` resolved) is, however the folder was spelled.

    A missing collection is created with the quick setup; an existing one must hold vectors of this
    encoder (else `CollectionError`); with `recreate=True` it is emptied first (see `start_over`) once the
    folder is known to hold images. Raises `ValueError` for a folder with no usable image.
    """
    images = images_below(folder)
    if recreate:
        start_over(client, name, encoder.dim, encoder.model_id)
    create_quick(client, name, encoder.dim, vector_field=vector_field, model=encoder.model_id, recreate=False)
    stored = {os.path.realpath(path) for path in stored_paths(client, name, path_field)}
    todo = [path for path in images if os.path.realpath(path) not in stored]  # `photos` and `~/photos` are one
    fields = {path: {path_field: os.path.abspath(path), **(extra_fields(path) if extra_fields else {})}
              for path in todo}
    check_lengths(client, name, fields.values())  # a path too long for the collection stops the run before any insert
    report = IndexReport(already_indexed=len(images) - len(todo))
    start = time.perf_counter()
    chunk = batch_size * CHUNK_BATCHES
    for first in range(0, len(todo), chunk):
        embeddings = encoder.embed_images(todo[first:first + chunk], batch_size=batch_size, progress=progress)
        rows = [{vector_field: vector, **fields[path]} for vector, path in zip(embeddings.vectors, embeddings.sources)]
        report.indexed += insert(client, name, rows) if rows else 0
        report.skipped += [(str(path), reason) for path, reason in embeddings.skipped]
    report.seconds = time.perf_counter() - start
    if report.indexed == 0 and report.already_indexed == 0:
        reasons = "; ".join(reason for _, reason in report.skipped[:3])
        more = f"; and {len(report.skipped) - 3} more" if len(report.skipped) > 3 else ""
        raise InputError(f"None of the {len(images)} image files in {folder} could be decoded: {reasons}{more}.")
    return report
