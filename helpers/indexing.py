"""Index a folder of images into a collection: embed in chunks, insert each chunk, skip what is stored.

Inserting chunk by chunk means an interrupted run loses at most one chunk, and because paths already
in the collection are skipped, running it again completes the collection without duplicates. Each insert
checks the VARCHAR limits before writing anything and holds Ctrl-C until its rows are in.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

from pymilvus import MilvusClient

from .collection import MODEL_PROPERTY, collection_model, create_quick, require_collection
from .encoders import DEFAULT_BATCH_SIZE, Encoder
from .errors import CollectionError, InputError
from .tool.existing import Fields, fields_of
from .images import describe_skipped, find_images, not_images
from .inserting import check_lengths, insert, stored_paths
from .results import PATH_FIELDS

CHUNK_BATCHES = 4
DELETE_BATCH = 1000
REBUILD_SUFFIX = "_rebuild"  # a collection of another vector size is rebuilt beside the old one under this name
REBUILD_OF = "image_search.rebuild_of"  # ... which records whose rebuild it is


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


def images_below(folder: str | os.PathLike) -> list[Path]:
    """The image files below `folder` (see `find_images`), or a `ValueError` saying none were found."""
    images = find_images(folder)
    if not images:
        raise InputError(
            f"No images found in {folder} (looked recursively for every format Pillow reads, HEIC and TIFF "
            "included). Point to the folder that holds your images."
        )
    return images


def index_folder(client: MilvusClient, name: str, encoder: Encoder, folder: str | os.PathLike, *,
                 path_field: str | None = None, vector_field: str | None = None,
                 extra_fields: Callable[[Path], dict] | None = None, batch_size: int = DEFAULT_BATCH_SIZE,
                 progress: bool | None = None, recreate: bool = False) -> IndexReport:
    """Embed every image below `folder` not yet in collection `name` and insert it with its absolute path.

    An existing collection is written in its own layout: its one vector field, the path field it uses
    (`filepath` or `filename`, in its schema or dynamic), and it must hold vectors of this encoder's size and, if
    it records one, of this model (else `CollectionError`); one that records no model records this one after.
    An image counts as stored when its real path (links and `..` resolved; a relative path stored by other
    code is taken from the current folder) is stored under either path field. A missing collection is created
    with the quick setup (`vector_field` and `path_field` default to `vector` and `filepath`).

    `recreate=True` replaces every row with the images of `folder` (see `replace_rows`): the new rows are all
    written before any old one is deleted. Everything that can be checked (the images, the fields, the sizes)
    is checked before anything is embedded.
    """
    images = images_below(folder)
    finish_rebuild(client, name)
    target = _target(client, name, encoder, path_field, vector_field)
    fields = {path: {target.path: os.path.abspath(path), **(extra_fields(path) if extra_fields else {})}
              for path in images}
    if client.has_collection(name):
        _check_fillable(name, target, next(iter(fields.values())))
        check_lengths(client, name, fields.values())  # a path too long stops the run before any insert
        if recreate:
            return replace_rows(client, name, encoder, target, fields, batch_size=batch_size, progress=progress)
    create_quick(client, name, encoder.dim, vector_field=target.vector, model=encoder.model_id, recreate=False)
    stored = {os.path.realpath(path) for path in stored_paths(client, name)}
    todo = [path for path in images if os.path.realpath(path) not in stored]  # `photos` and `~/photos` are one
    report = _fill(client, name, encoder, target.vector, {path: fields[path] for path in todo}, batch_size, progress)
    report.already_indexed = len(images) - len(todo)
    if report.indexed == 0 and report.already_indexed == 0:
        raise _none_decoded(folder, images, report)
    report.skipped = [(str(path), reason) for path, reason in not_images(folder)] + report.skipped
    if collection_model(client, name) is None:  # made elsewhere: its rows are this model's, as its caller says
        client.alter_collection_properties(name, properties={MODEL_PROPERTY: encoder.model_id})
    return report


def _target(client: MilvusClient, name: str, encoder: Encoder, path_field: str | None,
            vector_field: str | None) -> Fields:
    """The layout rows are written in: the existing collection's own, else a new quick setup's."""
    if not client.has_collection(name):
        return Fields(vector_field or "vector", encoder.dim, "COSINE", path_field or "filepath", (),
                      frozenset(), "id", dynamic=True)
    found = fields_of(client, name)
    for asked, held, what in ((vector_field, found.vector, "vectors"), (path_field, found.path, "image paths")):
        if asked is not None and held is not None and asked != held:
            raise CollectionError(f"Collection '{name}' keeps its {what} in field '{held}', not '{asked}': "
                                  f"leave the field name out to write in its own layout.")
    path = found.path or path_field or "filepath"
    if path not in found.names and not found.dynamic:
        raise CollectionError(f"Collection '{name}' has no field for the image path ({' or '.join(PATH_FIELDS)}) "
                              "and no dynamic fields, so `index` cannot record which image a row is. Index your "
                              "images into another collection (--collection NEW_NAME).")
    return replace(found, path=path)


def _check_fillable(name: str, target: Fields, row: dict) -> None:
    """Refuse, before anything is embedded, a row that misses a required field or has one the schema lacks."""
    written = {target.vector, *row}
    missing = [field for field in target.required if field not in written]
    unknown = [] if target.dynamic else sorted(set(row) - target.names)
    if missing or unknown:
        problem = (f"needs field(s) {', '.join(missing)} in every row, which index does not fill (it writes the "
                   "vector and the image path)") if missing else f"has no field(s) {', '.join(unknown)}"
        raise CollectionError(f"Collection '{name}' {problem}. Nothing was written. Insert such rows with pymilvus "
                              "(as notebook 02 does), or index your images into another collection "
                              "(--collection NEW_NAME).")


def _none_decoded(folder: str | os.PathLike, images: list[Path], report: IndexReport) -> InputError:
    reasons = "; ".join(reason for _, reason in report.skipped[:3])
    more = f"; and {len(report.skipped) - 3} more" if len(report.skipped) > 3 else ""
    return InputError(f"None of the {len(images)} image files in {folder} could be decoded: {reasons}{more}.")


def _fill(client: MilvusClient, name: str, encoder: Encoder, vector_field: str, fields: dict[Path, dict],
          batch_size: int, progress: bool | None) -> IndexReport:
    """Embed the images (the keys of `fields`) chunk by chunk and insert each chunk with its fields."""
    todo = list(fields)
    report = IndexReport()
    start = time.perf_counter()
    chunk = batch_size * CHUNK_BATCHES
    for first in range(0, len(todo), chunk):
        embeddings = encoder.embed_images(todo[first:first + chunk], batch_size=batch_size, progress=progress)
        rows = [{vector_field: vector, **fields[path]} for vector, path in zip(embeddings.vectors, embeddings.sources)]
        report.indexed += insert(client, name, rows) if rows else 0
        report.skipped += [(str(path), reason) for path, reason in embeddings.skipped]
    report.seconds = time.perf_counter() - start
    return report




def _say(progress: bool | None, line: str) -> None:
    if progress is not False:
        print(line, file=sys.stderr, flush=True)


def replace_rows(client: MilvusClient, name: str, encoder: Encoder, target: Fields, fields: dict[Path, dict], *,
                 batch_size: int = DEFAULT_BATCH_SIZE, progress: bool | None = None) -> IndexReport:
    """Replace every row of existing collection `name` with the images that are the keys of `fields` (their
    rows' other fields), embedded by `encoder`: all new rows are written before any old one is deleted.

    Vectors of the collection's size go in beside the old rows, which are then deleted by primary key; a run
    stopped before the end leaves every old row, or every new one. A quick-setup collection of another size is
    rebuilt beside it (`<name>_rebuild`, same metric), then swapped in; a schema of its own of another size is
    refused before anything is written.
    """
    if target.dim != encoder.dim and not target.quick:
        raise CollectionError(
            f"Collection '{name}' has a schema of its own ({', '.join(sorted(target.names))}) for {target.dim}-d "
            f"vectors, and {encoder.model_id} makes {encoder.dim}-d vectors. Nothing was changed. Index your "
            f"images into another collection (--collection NEW_NAME), or drop this one yourself "
            f"(client.drop_collection('{name}'), which deletes its rows) and create it for {encoder.dim}-d vectors.")
    if target.dim != encoder.dim:
        return _rebuild_beside(client, name, encoder, target, fields, batch_size, progress)
    require_collection(client, name)  # loaded, to read its keys
    old = _primary_keys(client, name, target.primary)
    _say(progress, f"Replacing the {len(old)} rows of collection '{name}': the {len(fields)} new rows are written "
                   "first, then the old ones are deleted.")
    report = _fill(client, name, encoder, target.vector, fields, batch_size, progress)
    if report.indexed == 0:
        raise _none_decoded("the folder", list(fields), report)
    _say(progress, f"Deleting the {len(old)} old rows of collection '{name}'.")
    for start in range(0, len(old), DELETE_BATCH):
        client.delete(name, ids=old[start:start + DELETE_BATCH])
    client.flush(name)
    client.alter_collection_properties(name, properties={MODEL_PROPERTY: encoder.model_id})
    return report


def _primary_keys(client: MilvusClient, name: str, primary: str) -> list:
    keys: list = []
    iterator = client.query_iterator(name, batch_size=1000, filter="", output_fields=[primary],
                                     consistency_level="Strong")
    while batch := iterator.next():
        keys += [row[primary] for row in batch]
    iterator.close()
    return keys


def _rebuild_beside(client: MilvusClient, name: str, encoder: Encoder, target: Fields, fields: dict[Path, dict],
                    batch_size: int, progress: bool | None) -> IndexReport:
    aside = name + REBUILD_SUFFIX
    if client.has_collection(aside) and _rebuild_of(client, aside) != name:
        raise CollectionError(f"Collection '{name}' must be rebuilt beside itself as '{aside}', but a collection "
                              f"of that name exists already. Nothing was changed. Rename or drop '{aside}' first.")
    _say(progress, f"Rebuilding collection '{name}' for {encoder.dim}-d vectors as '{aside}'; it replaces "
                   f"'{name}' once all {len(fields)} rows are written.")
    create_quick(client, aside, encoder.dim, vector_field=target.vector, metric=target.metric or "COSINE",
                 model=encoder.model_id, recreate=True)
    client.alter_collection_properties(aside, properties={REBUILD_OF: name})
    report = _fill(client, aside, encoder, target.vector, fields, batch_size, progress)
    if report.indexed == 0:
        client.drop_collection(aside)
        raise _none_decoded("the folder", list(fields), report)
    client.drop_collection(name)
    finish_rebuild(client, name)
    return report


def _rebuild_of(client: MilvusClient, name: str) -> str | None:
    return client.describe_collection(name).get("properties", {}).get(REBUILD_OF)


def finish_rebuild(client: MilvusClient, name: str) -> None:
    """Give collection `name` its rebuilt rows if a rebuild stopped after the old collection was dropped."""
    aside = name + REBUILD_SUFFIX
    if client.has_collection(name) or not client.has_collection(aside) or _rebuild_of(client, aside) != name:
        return
    client.rename_collection(aside, name)
    client.drop_collection_properties(name, property_keys=[REBUILD_OF])
    client.load_collection(name)
