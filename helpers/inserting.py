"""Writing rows safely: VARCHAR limits checked before anything is written, Ctrl-C held until a batch is in,
and the image paths a collection already holds (to write each image once).
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from pymilvus import DataType, MilvusClient

from .errors import CollectionError
from .tool.existing import fields_of
from .results import PATH_FIELDS

INSERT_BATCH = 512


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


def stored_paths(client: MilvusClient, name: str) -> set[str]:
    """Every image path already in the collection, under either path field, to index a folder again without
    duplicates."""
    # Lite has no server timestamp for the iterator and says so at WARNING level; the fallback is right.
    logging.getLogger("pymilvus.client.iterator.query_iterator").setLevel(logging.ERROR)
    paths: set[str] = set()
    with held_interrupt():
        layout = fields_of(client, name)
        wanted = [field for field in PATH_FIELDS if field in layout.names or layout.dynamic]
        iterator = client.query_iterator(name, batch_size=1000, filter="", output_fields=wanted,
                                         consistency_level="Strong")  # rows another process inserted count too
        while batch := iterator.next():
            paths.update(row[field] for row in batch for field in wanted if field in row)
        iterator.close()
    return paths
