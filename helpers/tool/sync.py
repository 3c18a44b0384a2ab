"""`python -m helpers index FOLDER --sync`: bring a collection in step with its folder.

New files are embedded and inserted, changed files (told by their `content_hash`, the sha256 of their bytes;
a file touched but unchanged keeps its hash) are embedded again, and the rows of files no longer in the folder
are deleted. Every new row is written before any old row is deleted, and what a run decides depends only on
the rows and the files, so a run that is interrupted (even by SIGKILL) and run again ends in the same state:
a file's row with its current hash is kept, its other rows (an old version, a duplicate) are deleted.
"""

from __future__ import annotations

import logging
import os
import sys
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from pymilvus import MilvusClient

from ..collection import MODEL_PROPERTY, collection_model, require_collection
from ..encoders import DEFAULT_BATCH_SIZE, Encoder
from ..images import content_hash
from ..indexing import CHUNK_BATCHES, CONTENT_HASH, DELETE_BATCH, images_below, index_folder
from ..inserting import check_lengths, held_interrupt, insert
from ..results import PATH_FIELDS
from .existing import Fields, fields_of


@dataclass
class SyncReport:
    """What one sync did, counted in files: added, replaced (changed), removed; rows deleted that an interrupted
    run left behind; files already as stored; files that could not be decoded, with the reason."""

    added: int = 0
    replaced: int = 0
    removed: int = 0
    leftover: int = 0
    unchanged: int = 0
    skipped: list[tuple[str, str]] = field(default_factory=list)

    def summary(self) -> str:
        """The line `added N, replaced N, removed N` with what else happened, then each skipped file and why."""
        lines = [f"Synced: added {self.added}, replaced {self.replaced}, removed {self.removed}; "
                 f"{self.unchanged} unchanged."]
        if self.leftover:
            lines.append(f"Deleted {self.leftover} rows an interrupted run had left (an old version or a duplicate).")
        if self.skipped:
            lines += [f"Skipped {len(self.skipped)} files that could not be decoded (their rows, if any, are kept):"]
            lines += [f"  {reason}" if reason.startswith(path) else f"  {path}: {reason}" for path, reason in self.skipped]
        return "\n".join(lines)


def sync_folder(client: MilvusClient, name: str, encoder: Encoder, folder: str | os.PathLike, *,
                batch_size: int = DEFAULT_BATCH_SIZE, progress: bool | None = None) -> SyncReport:
    """Bring collection `name` in step with the images below `folder` (a missing collection is indexed anew).

    Rows of paths outside `folder` are left alone. A row without a `content_hash` (written elsewhere or by an
    older version) cannot tell whether its file changed: its file is embedded again, and one line on stderr
    says so.
    """
    images = images_below(folder)
    if not client.has_collection(name):
        report = index_folder(client, name, encoder, folder, batch_size=batch_size, progress=progress)
        return SyncReport(added=report.indexed, skipped=report.skipped)
    require_collection(client, name)
    layout = fields_of(client, name)
    path_field = layout.path or PATH_FIELDS[0]
    hashed = layout.dynamic or CONTENT_HASH in layout.names
    held = _stored_rows(client, name, layout, hashed)
    current = {os.path.realpath(path): (path, content_hash(path)) for path in images}
    _say_unhashed(name, hashed, sum(digest is None for real in current for _, digest in held.get(real, [])))

    report, todo, old_rows, leftovers = SyncReport(), {}, {}, []
    for real, (path, digest) in current.items():
        rows = held.get(real, [])
        keep = next((key for key, stored in rows if stored == digest), None)
        if keep is None:
            todo[path] = {path_field: os.path.abspath(path), **({CONTENT_HASH: digest} if hashed else {})}
            old_rows[path] = [key for key, _ in rows]
        else:
            report.unchanged += 1
            leftovers += [key for key, _ in rows if key != keep]
    root = os.path.realpath(folder)
    gone = [real for real in held if real not in current and (real + os.sep).startswith(root + os.sep)]

    check_lengths(client, name, todo.values())  # a path too long stops the run before anything is written
    written = _write(client, name, encoder, layout.vector, todo, batch_size, progress, report)
    for path in written:
        report.added += not old_rows[path]
        report.replaced += bool(old_rows[path])
    report.removed, report.leftover = len(gone), len(leftovers)
    doomed = leftovers + [key for path in written for key in old_rows[path]]
    doomed += [key for real in gone for key, _ in held[real]]
    with held_interrupt():
        for start in range(0, len(doomed), DELETE_BATCH):
            client.delete(name, ids=doomed[start:start + DELETE_BATCH])
        client.flush(name)
    if collection_model(client, name) is None:  # made elsewhere: its rows are this model's, as `index` records
        client.alter_collection_properties(name, properties={MODEL_PROPERTY: encoder.model_id})
    return report


def _stored_rows(client: MilvusClient, name: str, layout: Fields, hashed: bool) -> dict[str, list[tuple]]:
    """{real path: [(primary key, content hash or None), ...]} of every row that has a path."""
    logging.getLogger("pymilvus.client.iterator.query_iterator").setLevel(logging.ERROR)  # Lite's harmless note
    paths = [name for name in PATH_FIELDS if name in layout.names or layout.dynamic]
    wanted = [layout.primary, *paths] + ([CONTENT_HASH] if hashed else [])
    rows: dict[str, list[tuple]] = defaultdict(list)
    iterator = client.query_iterator(name, batch_size=1000, filter="", output_fields=wanted,
                                     consistency_level="Strong")
    while batch := iterator.next():
        for row in batch:
            path = next((row[key] for key in paths if row.get(key)), None)
            if path is not None:
                rows[os.path.realpath(path)].append((row[layout.primary], row.get(CONTENT_HASH)))
    iterator.close()
    return rows


def _say_unhashed(name: str, hashed: bool, unhashed: int) -> None:
    if not unhashed:
        return
    then = ("and records their hash, so the next --sync re-embeds only what changed" if hashed else
            "every time: the collection has no field 'content_hash' and no dynamic fields to record it in")
    print(f"note: {unhashed} rows of collection '{name}' have no content hash (indexed elsewhere or by an older "
          f"version), so --sync cannot tell whether their files changed; it embeds those files again, {then}.",
          file=sys.stderr)


def _write(client: MilvusClient, name: str, encoder: Encoder, vector_field: str, todo: dict[Path, dict],
           batch_size: int, progress: bool | None, report: SyncReport) -> list[Path]:
    """Embed and insert the rows of `todo` ({image: its other fields}) chunk by chunk; return the images written."""
    paths, written = list(todo), []
    chunk = batch_size * CHUNK_BATCHES
    for first in range(0, len(paths), chunk):
        embeddings = encoder.embed_images(paths[first:first + chunk], batch_size=batch_size, progress=progress)
        rows = [{vector_field: vector, **todo[path]} for vector, path in zip(embeddings.vectors, embeddings.sources)]
        if rows:
            insert(client, name, rows)
        written += embeddings.sources
        report.skipped += [(str(path), reason) for path, reason in embeddings.skipped]
    return written
