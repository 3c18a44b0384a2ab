"""`python -m helpers index FOLDER --sync` on a real folder: files added, changed (same name, another picture),
deleted and touched; a run killed halfway (SIGKILL) and run again; a collection whose rows have no content hash.
After each run the collection's rows are exactly the folder's images, once each."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
from pathlib import Path

from pymilvus import DataType

from conftest import IMAGENET_SAMPLE
from helpers.tool.searching import require_collection
from helpers.tool.connecting import connect
from helpers.collection import create_with_schema
from helpers.images import find_images
from helpers.photo_library import content_hash
from helpers.tool.rebuild import index_or_rebuild
from helpers.tool.sync import sync_folder
from test_interrupted_indexing import Indexer, copy_gallery, release, rows_in

SUMMARY = re.compile(r"added (\d+), replaced (\d+), removed (\d+)")


def counts(stdout: str) -> tuple[int, int, int]:
    """The numbers of the `added N, replaced N, removed N` line."""
    (found,) = SUMMARY.findall(stdout)
    return tuple(map(int, found))


def assert_rows_are_the_folder(db: Path, folder: Path) -> None:
    stored, paths = rows_in(db)
    assert paths == {str(path) for path in find_images(folder)} and stored == len(paths), "not one row per image"


def spare_images(count: int) -> list[Path]:
    """Sample images that are not in a gallery copied by `copy_gallery(per_class=2)`."""
    return [path for folder in sorted((IMAGENET_SAMPLE / "train").iterdir()) for path in sorted(folder.iterdir())[2:]
            ][:count]


def test_sync_adds_replaces_and_removes_and_a_search_finds_the_changed_file_first(tmp_path, cli):
    folder, db = tmp_path / "album", tmp_path / "album.db"
    images = copy_gallery(folder, per_class=2)
    assert cli("index", str(folder), "--db", str(db)).returncode == 0

    for spare in spare_images(3):  # added
        shutil.copy(spare, folder / spare.parent.name / spare.name)
    changed = images[0]
    shutil.copyfile(IMAGENET_SAMPLE / "test" / "castle" / next((IMAGENET_SAMPLE / "test" / "castle").iterdir()).name,
                    changed)  # same name, another picture
    for gone in images[-2:]:
        gone.unlink()
    os.utime(images[1], (1e9, 1e9))  # touched: another date, the same bytes
    synced = cli("index", str(folder), "--db", str(db), "--sync")
    assert synced.returncode == 0, synced.stderr
    assert counts(synced.stdout) == (3, 1, 2)
    assert_rows_are_the_folder(db, folder)

    found = cli("search", str(changed), "--db", str(db), "--json", "--top-k", "3")
    first = json.loads(found.stdout)[0]
    assert first["path"] == str(changed) and abs(first["distance"] - 1.0) < 1e-3

    os.utime(images[2])  # touched only: nothing to do
    again = cli("index", str(folder), "--db", str(db), "--sync")
    assert counts(again.stdout) == (0, 0, 0) and "17 unchanged" in again.stdout
    assert_rows_are_the_folder(db, folder)


def test_sync_killed_halfway_then_run_again_ends_with_the_folder(tmp_path, cli):
    folder, db = tmp_path / "album", tmp_path / "album.db"
    images = copy_gallery(folder, per_class=6)  # 48 images
    assert cli("index", str(folder), "--db", str(db)).returncode == 0
    pictures = [path.read_bytes() for path in images]
    for index, image in enumerate(images):  # every file changes: 47 to embed, in chunks of 32 and 15
        image.write_bytes(pictures[(index + 1) % len(pictures)])
    images[-1].unlink()

    syncer = Indexer(folder, db, "--sync")
    try:
        syncer.wait_for_bar(2)  # the first chunk of new rows is written, no old row deleted yet
        syncer.process.send_signal(signal.SIGKILL)
        assert syncer.process.wait(timeout=30) == -signal.SIGKILL
    finally:
        syncer.kill_group()
    stored, paths = rows_in(db)
    assert stored == 48 + 32 and paths == {str(path) for path in images}  # nothing deleted before its replacement

    again = cli("index", str(folder), "--db", str(db), "--sync", "--batch-size", "8")
    assert again.returncode == 0, again.stderr
    assert counts(again.stdout) == (0, 15, 1) and "Deleted 32 rows an interrupted run had left" in again.stdout
    assert_rows_are_the_folder(db, folder)
    client = connect(str(db))
    require_collection(client, "images")
    hashes = {row["filepath"]: row["content_hash"] for row in
              client.query("images", filter="", output_fields=["filepath", "content_hash"], limit=100)}
    release(client, db)
    assert hashes == {str(path): content_hash(path) for path in find_images(folder)}


def test_sync_of_rows_without_a_content_hash_says_so_in_one_line_and_embeds_them_again(tmp_path, cli, resnet34):
    folder, db = tmp_path / "album", tmp_path / "album.db"
    images = copy_gallery(folder, per_class=1)
    client = connect(str(db))  # a collection made elsewhere: its own schema, no dynamic fields, no content_hash
    schema = client.create_schema(auto_id=True, enable_dynamic_field=False)
    schema.add_field("id", DataType.INT64, is_primary=True)
    schema.add_field("vector", DataType.FLOAT_VECTOR, dim=resnet34.dim)
    schema.add_field("filepath", DataType.VARCHAR, max_length=512)
    index = client.prepare_index_params()
    index.add_index(field_name="vector", index_type="FLAT", metric_type="COSINE")
    client.create_collection("images", schema=schema, index_params=index)
    vectors = resnet34.embed_images(images).vectors
    client.insert("images", [{"vector": vector, "filepath": str(path)} for vector, path in zip(vectors, images)])
    release(client, db)
    images[0].unlink()

    synced = cli("index", str(folder), "--db", str(db), "--sync", "--model", "resnet34")
    assert synced.returncode == 0, synced.stderr
    (note,) = [line for line in synced.stderr.splitlines() if line.startswith("note:")]
    assert "7 rows of collection 'images' have no content hash" in note and "cannot tell" in note
    assert counts(synced.stdout) == (0, 7, 1)
    assert_rows_are_the_folder(db, folder)


def _stored_hashes(client, name: str) -> dict[str, str]:
    rows = client.query(name, filter="", output_fields=["filepath", "content_hash"], limit=100)
    return {row["filepath"]: row.get("content_hash") for row in rows}


def test_index_writes_each_files_content_hash_where_the_collection_can_hold_it(tmp_path, resnet34, small_train_copy):
    client = connect(str(tmp_path / "m.db"))
    images = find_images(small_train_copy)
    index_or_rebuild(client, "quick", resnet34, small_train_copy, progress=False)  # new: quick setup, dynamic fields
    assert _stored_hashes(client, "quick") == {str(path): content_hash(path) for path in images}
    index_or_rebuild(client, "quick", resnet34, small_train_copy, progress=False, recreate=True)
    assert _stored_hashes(client, "quick") == {str(path): content_hash(path) for path in images}
    sync_folder(client, "synced", resnet34, small_train_copy, progress=False)  # a missing collection, indexed anew
    assert _stored_hashes(client, "synced") == {str(path): content_hash(path) for path in images}
    create_with_schema(client, "declared", resnet34.dim, text_fields={"content_hash": 64}, index_type="FLAT",
                       index_params={}, recreate=True)
    index_or_rebuild(client, "declared", resnet34, small_train_copy, progress=False)
    assert _stored_hashes(client, "declared") == {str(path): content_hash(path) for path in images}
    create_with_schema(client, "plain", resnet34.dim, index_type="FLAT", index_params={}, recreate=True)
    report = index_or_rebuild(client, "plain", resnet34, small_train_copy, progress=False)
    rows = client.query("plain", filter="", output_fields=["*"], limit=100)
    assert report.indexed == len(images) == len(rows) and not any("content_hash" in row for row in rows)
