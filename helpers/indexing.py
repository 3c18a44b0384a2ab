"""Index a folder of images into a collection: embed in chunks, insert each chunk, skip what is stored.

Inserting chunk by chunk means an interrupted run loses at most one chunk, and because paths already
in the collection are skipped, running it again completes the collection without duplicates. Each insert
checks the VARCHAR limits before writing anything and holds Ctrl-C until its rows are in.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pymilvus import DataType, MilvusClient

from .collection import create_quick, start_over
from .encoders import DEFAULT_BATCH_SIZE, Encoder
from .errors import CollectionError, InputError
from .images import IMAGE_EXTENSIONS, find_images

CHUNK_BATCHES = 4
INSERT_BATCH = 512


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


def _varchar_limits(client: MilvusClient, name: str) -> dict[str, int]:
    info = client.describe_collection(name)
    return {f["name"]: int(f["params"]["max_length"]) for f in info["fields"] if f["type"] == DataType.VARCHAR}


def check_lengths(client: MilvusClient, name: str, rows: Iterable[dict]) -> None:
    """Raise `CollectionError` if any text in `rows` is longer (in UTF-8 bytes) than its VARCHAR field allows."""
    limits = _varchar_limits(client, name)
    for row in rows:
        for field_name, limit in limits.items():
            value = str(row.get(field_name, ""))
            if len(value.encode("utf-8")) > limit:
                raise CollectionError(
                    f"'{value}' is {len(value.encode('utf-8'))} bytes, longer than field '{field_name}' allows "
                    f"(max_length={limit}). Nothing was inserted: move the images to a shorter path, or create "
                    "the collection with a larger limit."
                )


@contextmanager
def held_interrupt() -> Iterator[None]:
    """Hold Ctrl-C ("Interrupt kernel" in Jupyter) until the block is done, then deliver it.

    A KeyboardInterrupt raised inside a gRPC call can leave the client's channel locked, and every later
    call on that client then hangs. A second Ctrl-C is delivered at once, for a call that does not return.
    Only the main thread receives signals, so in other threads this does nothing.
    """
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


def insert(client: MilvusClient, name: str, rows: Sequence[dict], batch_size: int = INSERT_BATCH,
           flush: bool = True) -> int:
    """Insert rows in batches and return how many went in; over-long text is refused before anything is written.
    An interrupt waits until the rows are in (see `held_interrupt`)."""
    count = 0
    with held_interrupt():
        check_lengths(client, name, rows)
        for start in range(0, len(rows), batch_size):
            count += client.insert(name, list(rows[start:start + batch_size]))["insert_count"]
        if flush and count:
            client.flush(name)
    return count


def stored_paths(client: MilvusClient, name: str, path_field: str = "filepath") -> set[str]:
    """Every image path already in the collection, to index a folder again without duplicates."""
    # Lite has no server timestamp for the iterator and says so at WARNING level; the fallback is right.
    logging.getLogger("pymilvus.client.iterator.query_iterator").setLevel(logging.ERROR)
    paths: set[str] = set()
    with held_interrupt():
        iterator = client.query_iterator(name, batch_size=1000, filter="", output_fields=[path_field],
                                         consistency_level="Strong")  # rows another process inserted count too
        while batch := iterator.next():
            paths.update(row[path_field] for row in batch if path_field in row)
        iterator.close()
    return paths
