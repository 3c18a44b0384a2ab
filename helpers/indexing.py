"""Index a folder of images into a collection, as notebook 01 does it: skip what is stored, embed the rest in
chunks, insert each chunk. An interrupted run loses at most one chunk, and running it again completes the
collection without duplicates. Each insert checks the VARCHAR limits before writing anything and holds Ctrl-C
until its rows are in.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pymilvus import MilvusClient

from .collection import create_quick, layout, rows
from .encoders import DEFAULT_BATCH_SIZE, Encoder
from .errors import CollectionError, InputError
from .images import describe_skipped, find_images, not_images

CHUNK_BATCHES = 4  # batches embedded before each insert: a stopped run loses at most this much work
INSERT_BATCH = 512  # rows per `client.insert` call


def index_folder(client: MilvusClient, name: str, encoder: Encoder, folder: str | os.PathLike, *,
                 path_field: str | None = None, vector_field: str | None = None,
                 extra_fields: Callable[[Path], dict] | None = None, batch_size: int = DEFAULT_BATCH_SIZE,
                 progress: bool | None = None) -> IndexReport:
    """Embed every image below `folder` not yet in collection `name` and insert it with its absolute path.

    A missing collection is created with the quick setup (`vector_field` and `path_field` default to `vector`
    and `filepath`); an existing one is written in its own vector and path fields; `extra_fields(image)` adds
    fields of your own to each row. Raises `InputError` for a folder without images or none that decodes,
    `CollectionError` for a collection of another vector size or model, or for a path longer than its field
    allows (before anything is embedded).
    """
    images = images_below(folder)
    create_quick(client, name, encoder.dim, vector_field=vector_field or "vector", model=encoder.model_id,
                 recreate=False)  # or check that the existing one holds this encoder's vectors
    found = layout(client, name)
    row = image_fields(path_field or found.path or "filepath", extra_fields)
    stored = {os.path.realpath(stored) for stored in stored_paths(client, name)}
    todo = {image: row(image) for image in images if os.path.realpath(image) not in stored}  # `~/a` and `a` are one
    check_lengths(client, name, todo.values())  # a path too long stops the run before anything is embedded
    report = insert_images(client, name, encoder, todo, vector_field or found.vector, batch_size=batch_size,
                           progress=progress)
    report.already_indexed = len(images) - len(todo)
    if not report.indexed and not report.already_indexed:
        raise report.none_decoded(folder, len(images))
    report.skipped = [(str(path), reason) for path, reason in not_images(folder)] + report.skipped
    return report


def image_fields(path_field: str, extra_fields: Callable[[Path], dict] | None = None) -> Callable[[Path], dict]:
    """A row's fields besides its vector, for an image: its absolute path in `path_field`, and `extra_fields(image)`."""
    return lambda image: {path_field: os.path.abspath(image), **(extra_fields(image) if extra_fields else {})}


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
        return "\n".join([first, *describe_skipped(self.skipped)])

    def none_decoded(self, folder: str | os.PathLike, images: int) -> InputError:
        """The error for a run whose `images` image files in `folder` all failed to decode, with the first reasons."""
        reasons = "; ".join(reason for _, reason in self.skipped[:3])
        more = f"; and {len(self.skipped) - 3} more" if len(self.skipped) > 3 else ""
        return InputError(f"None of the {images} image files in {folder} could be decoded: {reasons}{more}.")


def images_below(folder: str | os.PathLike) -> list[Path]:
    """The image files below `folder` (see `find_images`); an `InputError` when there are none."""
    images = find_images(folder)
    if not images:
        raise InputError(f"No images found in {folder} (looked recursively for every format Pillow reads, HEIC and "
                         "TIFF included). Point to the folder that holds your images.")
    return images


def insert_images(client: MilvusClient, name: str, encoder: Encoder, fields: dict[Path, dict], vector_field: str, *,
                  batch_size: int = DEFAULT_BATCH_SIZE, progress: bool | None = None) -> IndexReport:
    """Embed the images (the keys of `fields`) chunk by chunk and insert each chunk, each vector with its image's
    fields; raises what `insert` raises. Images that do not decode are skipped, with the reason in the report."""
    images, report, start = list(fields), IndexReport(), time.perf_counter()
    chunk = batch_size * CHUNK_BATCHES
    for first in range(0, len(images), chunk):
        embeddings = encoder.embed_images(images[first:first + chunk], batch_size=batch_size, progress=progress)
        report.indexed += insert(client, name, [{vector_field: vector, **fields[image]}
                                                for vector, image in zip(embeddings.vectors, embeddings.sources)])
        report.skipped += [(str(image), reason) for image, reason in embeddings.skipped]
    report.seconds = time.perf_counter() - start
    return report


def insert(client: MilvusClient, name: str, rows: Sequence[dict], batch_size: int = INSERT_BATCH,
           flush: bool = True) -> int:
    """Insert rows in batches and return how many went in. Text longer than its field allows raises
    `CollectionError` before anything is written; an interrupt waits until the rows are in (`held_interrupt`)."""
    count = 0
    with held_interrupt():
        check_lengths(client, name, rows)
        for start in range(0, len(rows), batch_size):
            count += client.insert(name, list(rows[start:start + batch_size]))["insert_count"]
        if flush and count:
            client.flush(name)
    return count


def check_lengths(client: MilvusClient, name: str, rows: Iterable[dict]) -> None:
    """Raise `CollectionError` if any text in `rows` is longer (in UTF-8 bytes) than its VARCHAR field allows."""
    limits = layout(client, name).max_lengths
    for each in rows:
        for field_name, limit in limits.items():
            value = str(each.get(field_name, ""))
            if (size := len(value.encode("utf-8"))) > limit:
                raise CollectionError(f"'{value}' is {size} bytes, longer than field '{field_name}' allows (max_length="
                                      f"{limit}). Nothing was inserted: move the images to a shorter path, or create "
                                      "the collection with a larger limit.")


def stored_paths(client: MilvusClient, name: str) -> set[str]:
    """Every image path already in the collection, under either path field: what indexing again skips."""
    with held_interrupt():
        wanted = layout(client, name).path_fields
        return {row[field] for row in rows(client, name, wanted) for field in wanted if field in row}


@contextmanager
def held_interrupt() -> Iterator[None]:
    """Hold Ctrl-C ("Interrupt kernel" in Jupyter) until the block is done, then deliver it: a KeyboardInterrupt
    inside a gRPC call can leave the client's channel locked, and every later call on it hangs. A second Ctrl-C
    is delivered at once, for a call that does not return. Only the main thread gets signals; elsewhere this
    does nothing."""
    previous = signal.getsignal(signal.SIGINT)
    if threading.current_thread() is not threading.main_thread() or not callable(previous):
        yield
        return
    held: list[int] = []

    def hold(signum: int, frame: Any) -> None:
        held.append(signum)
        if len(held) == 2:
            signal.signal(signal.SIGINT, previous)
            previous(signum, frame)

    signal.signal(signal.SIGINT, hold)
    try:
        yield
    finally:
        if signal.getsignal(signal.SIGINT) is hold:
            signal.signal(signal.SIGINT, previous)
        if len(held) == 1:
            previous(signal.SIGINT, None)
