"""The command line's `index`: the learner's `index_folder`, plus what only collections made elsewhere and
`--recreate` need. Collections made elsewhere are written in their own layout (read by `existing.fields_of`) and
checked before anything is embedded; `--recreate` replaces every row, writing the new rows before deleting
any old one, and rebuilds a quick-setup collection of another vector size beside the old one.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from pymilvus import MilvusClient

from ..collection import MODEL_PROPERTY, NAME_RULE, Layout, create_quick, layout, rows
from ..encoders import DEFAULT_BATCH_SIZE, Encoder
from ..errors import CollectionError
from ..images import not_images
from ..indexing import IndexReport, check_lengths, image_fields, images_below, index_folder, insert_images
from ..photo_library import content_hash
from ..results import PATH_FIELDS
from .existing import Fields, fields_of
from .searching import require_collection

DELETE_BATCH = 1000  # primary keys per `client.delete` call
REBUILD_SUFFIX = "_rebuild"  # a collection of another vector size is rebuilt beside the old one under this name
REBUILD_OF = "image_search.rebuild_of"  # ... which records whose rebuild it is
HASH_FIELD = "content_hash"  # each row's file's `content_hash`, what `index --sync` compares


def index_or_rebuild(client: MilvusClient, name: str, encoder: Encoder, folder: str | os.PathLike, *,
                     path_field: str | None = None, vector_field: str | None = None,
                     extra_fields: Callable[[Path], dict] | None = None, batch_size: int = DEFAULT_BATCH_SIZE,
                     progress: bool | None = None, recreate: bool = False) -> IndexReport:
    """`index_folder` for any collection, also one made elsewhere, first finishing a rebuild that stopped.

    An existing collection is written in its own layout: its one vector field, the path field it uses
    (`filepath` or `filename`, in its schema or dynamic); a collection that records no model records this one
    after. `recreate=True` replaces every row with the images of `folder` (see `replace_rows`). Everything that
    can be checked (the images, the fields, the sizes, the path lengths) is checked before anything is embedded:
    `InputError` for the folder, `CollectionError` for the collection. Each row also carries its file's
    `content_hash` where the collection can hold it (`with_content_hash`), for `index --sync`.
    """
    images = images_below(folder)
    finish_rebuild(client, name)
    extra_fields = with_content_hash(client, name, extra_fields)
    if client.has_collection(name):
        target = target_fields(client, name, path_field, vector_field)
        row = image_fields(target.path, extra_fields)
        check_fillable(name, target, row(images[0]))
        if recreate:
            fields = {image: row(image) for image in images}
            check_lengths(client, name, fields.values())  # a path too long stops the run before anything is written
            report = replace_rows(client, name, encoder, target, fields, batch_size=batch_size, progress=progress)
            report.skipped = [(str(path), reason) for path, reason in not_images(folder)] + report.skipped
            return report
        path_field, vector_field = target.path, target.vector
    report = index_folder(client, name, encoder, folder, path_field=path_field, vector_field=vector_field,
                          extra_fields=extra_fields, batch_size=batch_size, progress=progress)
    record_model_if_none(client, name, encoder)
    return report


def with_content_hash(client: MilvusClient, name: str, extra_fields: Callable[[Path], dict] | None = None
                      ) -> Callable[[Path], dict]:
    """`extra_fields` with each file's `content_hash` added where collection `name` can hold it (`holds_hash`). A
    file that cannot be read gets none."""
    hashed = holds_hash(layout(client, name) if client.has_collection(name) else None)

    def fields(image: Path) -> dict:
        digest = content_hash(image) if hashed else None
        return {**({HASH_FIELD: digest} if digest else {}), **(extra_fields(image) if extra_fields else {})}

    return fields


def holds_hash(found: Layout | None) -> bool:
    """Whether the rows of a collection (`found`; None for one the quick setup is about to create) can carry a
    `content_hash`: dynamic fields, or a field of that name."""
    return found is None or found.dynamic or HASH_FIELD in found.names


def record_model_if_none(client: MilvusClient, name: str, encoder: Encoder) -> None:
    """A collection made elsewhere records no model: its rows are `encoder`'s, as the caller says, so record it."""
    if layout(client, name).model is None:
        client.alter_collection_properties(name, properties={MODEL_PROPERTY: encoder.model_id})


def replace_rows(client: MilvusClient, name: str, encoder: Encoder, target: Fields, fields: dict[Path, dict], *,
                 batch_size: int = DEFAULT_BATCH_SIZE, progress: bool | None = None) -> IndexReport:
    """Replace every row of existing collection `name` with the images that are the keys of `fields` (their
    rows' other fields), embedded by `encoder`: all new rows are written before any old one is deleted.

    Vectors of the collection's size go in beside the old rows, which are then deleted by primary key; a run
    stopped before the end leaves every old row, or every new one. A quick-setup collection of another size is
    rebuilt beside it (`<name>_rebuild`, same metric), then swapped in; a schema of its own of another size is
    refused (`CollectionError`) before anything is written. `InputError` when no image decodes.
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
    old = [each[target.primary] for each in rows(client, name, [target.primary])]
    _say(progress, f"Replacing the {len(old)} rows of collection '{name}': the {len(fields)} new rows are written "
                   "first, then the old ones are deleted.")
    report = insert_images(client, name, encoder, fields, target.vector, batch_size=batch_size, progress=progress)
    if report.indexed == 0:
        raise report.none_decoded("the folder", len(fields))
    _say(progress, f"Deleting the {len(old)} old rows of collection '{name}'.")
    for start in range(0, len(old), DELETE_BATCH):
        client.delete(name, ids=old[start:start + DELETE_BATCH])
    client.flush(name)
    client.alter_collection_properties(name, properties={MODEL_PROPERTY: encoder.model_id})
    return report


def finish_rebuild(client: MilvusClient, name: str) -> None:
    """Give collection `name` its rebuilt rows if a rebuild stopped after the old collection was dropped."""
    aside = name + REBUILD_SUFFIX
    if client.has_collection(name) or not client.has_collection(aside) or _rebuild_of(client, aside) != name:
        return
    client.rename_collection(aside, name)
    client.drop_collection_properties(name, property_keys=[REBUILD_OF])
    client.load_collection(name)


def target_fields(client: MilvusClient, name: str, path_field: str | None, vector_field: str | None) -> Fields:
    """The layout rows are written in: the existing collection's own; `CollectionError` when it cannot take
    the fields asked for, or has nowhere to keep an image's path."""
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


def check_fillable(name: str, target: Fields, row: dict) -> None:
    """Refuse (`CollectionError`), before anything is embedded, a row that misses a required field or has one
    the schema lacks."""
    written = {target.vector, *row}
    missing = [field for field in target.required if field not in written]
    unknown = [] if target.dynamic else sorted(set(row) - target.names)
    if missing or unknown:
        problem = (f"needs field(s) {', '.join(missing)} in every row, which index does not fill (it writes the "
                   "vector and the image path)") if missing else f"has no field(s) {', '.join(unknown)}"
        raise CollectionError(f"Collection '{name}' {problem}. Nothing was written. Insert such rows with pymilvus "
                              "(as notebook 02 does), or index your images into another collection "
                              "(--collection NEW_NAME).")


def _say(progress: bool | None, line: str) -> None:
    if progress is not False:
        print(line, file=sys.stderr, flush=True)


def _rebuild_beside(client: MilvusClient, name: str, encoder: Encoder, target: Fields, fields: dict[Path, dict],
                    batch_size: int, progress: bool | None) -> IndexReport:
    aside = name + REBUILD_SUFFIX
    if not NAME_RULE.fullmatch(aside):  # a Lite collection made elsewhere under a name a server refuses
        raise CollectionError(f"Collection '{name}' cannot be rebuilt beside itself for {encoder.dim}-d vectors: "
                              f"'{aside}' is not a name Milvus takes. Nothing was changed. Index your images into "
                              "a new collection (--collection NEW_NAME).")
    if client.has_collection(aside) and _rebuild_of(client, aside) != name:
        raise CollectionError(f"Collection '{name}' must be rebuilt beside itself as '{aside}', but a collection "
                              f"of that name exists already. Nothing was changed. Rename or drop '{aside}' first.")
    _say(progress, f"Rebuilding collection '{name}' for {encoder.dim}-d vectors as '{aside}'; it replaces "
                   f"'{name}' once all {len(fields)} rows are written.")
    create_quick(client, aside, encoder.dim, vector_field=target.vector, metric=target.metric or "COSINE",
                 model=encoder.model_id, recreate=True)
    client.alter_collection_properties(aside, properties={REBUILD_OF: name})
    report = insert_images(client, aside, encoder, fields, target.vector, batch_size=batch_size, progress=progress)
    if report.indexed == 0:
        client.drop_collection(aside)
        raise report.none_decoded("the folder", len(fields))
    client.drop_collection(name)
    finish_rebuild(client, name)
    return report


def _rebuild_of(client: MilvusClient, name: str) -> str | None:
    return client.describe_collection(name).get("properties", {}).get(REBUILD_OF)
