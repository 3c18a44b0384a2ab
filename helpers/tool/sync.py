"""`python -m helpers index FOLDER --sync`: bring a collection in step with its folder.

New files are embedded and inserted, changed files (told by their `content_hash`, the sha256 of their bytes;
a file touched but unchanged keeps its hash) are embedded again, and the rows of files no longer in the folder
are deleted. Every new row is written before any old row is deleted, and what a run decides depends only on
the rows and the files, so a run that is interrupted (even by SIGKILL) and run again ends in the same state:
a file's row with its current hash is kept, its other rows (an old version, a duplicate) are deleted.
"""

from __future__ import annotations

import os
import sys
from collections import defaultdict
from dataclasses import dataclass, field

from pymilvus import MilvusClient

from ..collection import Layout, layout, rows
from ..encoders import DEFAULT_BATCH_SIZE, Encoder
from ..images import describe_skipped, not_images
from ..indexing import check_lengths, held_interrupt, images_below, index_folder, insert_images
from ..photo_library import content_hash
from .rebuild import (DELETE_BATCH, HASH_FIELD, check_fillable, finish_rebuild, holds_hash, record_model_if_none,
                      target_fields, with_content_hash)
from .searching import require_collection


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
        return "\n".join(lines + describe_skipped(self.skipped))  # the rows of files that failed to decode are kept


def sync_folder(client: MilvusClient, name: str, encoder: Encoder, folder: str | os.PathLike, *,
                batch_size: int = DEFAULT_BATCH_SIZE, progress: bool | None = None) -> SyncReport:
    """Bring collection `name` in step with the images below `folder` (a missing collection is indexed anew).

    Rows of paths outside `folder` are left alone. A row without a `content_hash` (written elsewhere, by a
    notebook's `index_folder` or by an older version) cannot tell whether its file changed: its file is embedded
    again, and one line on stderr says so.
    """
    images = images_below(folder)
    finish_rebuild(client, name)
    if not client.has_collection(name):
        report = index_folder(client, name, encoder, folder, extra_fields=with_content_hash(client, name),
                              batch_size=batch_size, progress=progress)
        return SyncReport(added=report.indexed, skipped=report.skipped)
    require_collection(client, name)  # loaded, for the queries below
    found = layout(client, name)
    target = target_fields(client, name, None, None)  # the path field its rows really use, or CollectionError
    path_field, hashed = target.path, holds_hash(found)
    check_fillable(name, target, {path_field: "", **({HASH_FIELD: ""} if hashed else {})})
    held = _stored_rows(client, name, found, hashed)
    current = {os.path.realpath(path): (path, content_hash(path)) for path in images}
    _say_unhashed(name, hashed, sum(digest is None for real in current for _, digest in held.get(real, [])))

    report, todo, old_rows, leftovers = SyncReport(), {}, {}, []
    for real, (path, digest) in current.items():
        stored_rows = held.get(real, [])
        keep = None if digest is None else next((key for key, stored in stored_rows if stored == digest), None)
        if keep is None:  # new, changed, or unreadable (then it fails to decode, and its rows are kept)
            todo[path] = {path_field: os.path.abspath(path), **({HASH_FIELD: digest} if hashed and digest else {})}
            old_rows[path] = [key for key, _ in stored_rows]
        else:
            report.unchanged += 1
            leftovers += [key for key, _ in stored_rows if key != keep]
    root = os.path.realpath(folder)
    gone = [real for real in held if real not in current and (real + os.sep).startswith(root + os.sep)]

    check_lengths(client, name, todo.values())  # a path too long stops the run before anything is written
    inserted = insert_images(client, name, encoder, todo, found.vector, batch_size=batch_size, progress=progress)
    report.skipped = [(str(path), reason) for path, reason in not_images(folder)] + inserted.skipped
    failed = {path for path, _ in inserted.skipped}
    written = [path for path in todo if str(path) not in failed]
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
    record_model_if_none(client, name, encoder)  # as `index` does
    return report


def _stored_rows(client: MilvusClient, name: str, found: Layout, hashed: bool) -> dict[str, list[tuple]]:
    """{real path: [(primary key, content hash or None), ...]} of every row that has a path."""
    paths = found.path_fields
    wanted = [found.primary, *paths] + ([HASH_FIELD] if hashed else [])
    held: dict[str, list[tuple]] = defaultdict(list)
    for row in rows(client, name, wanted):
        path = next((row[key] for key in paths if row.get(key)), None)
        if path is not None:
            held[os.path.realpath(path)].append((row[found.primary], row.get(HASH_FIELD)))
    return held


def _say_unhashed(name: str, hashed: bool, unhashed: int) -> None:
    if not unhashed:
        return
    then = ("and records their hash, so the next --sync re-embeds only what changed" if hashed else
            "every time: the collection has no field 'content_hash' and no dynamic fields to record it in")
    print(f"note: {unhashed} rows of collection '{name}' have no content hash (indexed elsewhere, from a notebook "
          f"or by an older version), so --sync cannot tell whether their files changed; it embeds those files "
          f"again, {then}.", file=sys.stderr)
