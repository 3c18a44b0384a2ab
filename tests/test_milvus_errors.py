"""Milvus problems readers run into, on real Milvus Lite files: each one is a CollectionError (or, on the command
line, exit status 2 and one line) that says what is wrong and what to do, quickly, never a hang or a traceback."""

from __future__ import annotations

import re
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from helpers import config
from helpers.collection import CollectionError, create_quick, create_with_schema, layout
from helpers.tool.searching import MILVUS_TOP_K_LIMIT, count, require_collection, search
from helpers.tool.connecting import connect
from helpers.indexing import insert
from helpers.tool.rebuild import index_or_rebuild
from helpers.indexing import index_folder
from helpers.results import hit_path

DIM = 8
VECTORS = np.linalg.qr(np.random.default_rng(0).normal(size=(DIM, DIM)))[0].astype(np.float32)


def fill(client, name: str, rows: int = 5, dim: int = DIM, model: str = "test-model") -> None:
    create_quick(client, name, dim, model=model, recreate=True)
    vectors = np.random.default_rng(1).normal(size=(rows, dim)).astype(np.float32) if dim != DIM else VECTORS
    insert(client, name, [{"vector": vectors[i], "filepath": f"img/{i}.jpg"} for i in range(rows)])


def release(client, db: Path) -> None:
    """Let another process open `db`: client.close() alone keeps the Lite file open until this process exits."""
    from milvus_lite.server_manager import server_manager_instance

    client.close()
    server_manager_instance.release_server(str(db))


def one_error_line(result: subprocess.CompletedProcess) -> str:
    """The CLI's only stderr line (besides the offline notice), after checking it exited 2 without a traceback."""
    lines = [line for line in result.stderr.splitlines() if line.strip() and line != config.OFFLINE_NOTICE]
    assert result.returncode == 2, (result.returncode, result.stderr)
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    return lines[0]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def photos(tmp_path) -> Path:
    folder = tmp_path / "photos"
    folder.mkdir()
    for index in range(3):
        Image.fromarray(np.random.default_rng(index).integers(0, 256, (12, 16, 3), dtype=np.uint8)).save(
            folder / f"{index}.png")
    return folder


# --------------------------------------------------------------------------------------------------------------
# A collection built with another model or size


@pytest.mark.parametrize("dim, model, says", [
    (2048, "resnet50", "holds 2048-d vectors from model 'resnet50', but 'resnet34 (offline stand-in)' makes 512-d vectors"),
    (512, "clip", "holds 512-d vectors from model 'clip', but 'resnet34 (offline stand-in)' makes 512-d vectors"),
])
def test_indexing_into_a_collection_of_another_model_is_refused_with_how_to_rebuild(tmp_path, resnet34, photos,
                                                                                     dim, model, says):
    client = connect(str(tmp_path / "x.db"))
    fill(client, "images", rows=4, dim=dim, model=model)
    with pytest.raises(CollectionError) as raised:
        index_folder(client, "images", resnet34, photos, progress=False)
    assert says in str(raised.value)
    assert "recreate=True" in str(raised.value) and "--recreate" in str(raised.value)
    assert count(client, "images") == 4 and layout(client, "images").model == model  # untouched

    report = index_or_rebuild(client, "images", resnet34, photos, recreate=True, progress=False)  # the way out
    assert report.indexed == 3 and count(client, "images") == 3
    assert layout(client, "images").model == "resnet34 (offline stand-in)"


def test_the_schema_setup_refuses_another_size_too(tmp_path):
    client = connect(str(tmp_path / "x.db"))
    create_with_schema(client, "paintings", 2048, index_params={"nlist": 16}, model="resnet50", recreate=True)
    with pytest.raises(CollectionError, match="holds 2048-d vectors from model 'resnet50', but 'resnet34' makes 512"):
        create_with_schema(client, "paintings", 512, index_params={"nlist": 16}, model="resnet34", recreate=False)


def test_searching_with_a_vector_of_another_size_is_a_clear_error(tmp_path):
    client = connect(str(tmp_path / "x.db"))
    fill(client, "images", model="resnet34")
    with pytest.raises(CollectionError, match=f"holds {DIM}-d vectors from model 'resnet34', but the query "
                                              f"vector has {2 * DIM} values"):
        search(client, "images", np.ones(2 * DIM, dtype=np.float32))


def test_the_cli_index_with_another_model_exits_2_and_says_to_use_recreate(cli, tmp_path, photos):
    db = tmp_path / "x.db"
    client = connect(str(db))
    fill(client, "images", rows=4, dim=512, model="clip")
    release(client, db)
    result = cli("index", str(photos), "--db", str(db), "--model", "resnet34")
    line = one_error_line(result)
    assert "records that model clip built it, not resnet34" in line and "--recreate" in line
    client = connect(str(db))
    require_collection(client, "images")
    assert count(client, "images") == 4 and layout(client, "images").model == "clip"


# --------------------------------------------------------------------------------------------------------------
# A Lite file another process has open


HOLD = ("import sys, time; from helpers.tool.connecting import connect; connect(sys.argv[1]); print('open', flush=True); "
        "time.sleep(120)")


def test_a_lite_file_open_in_another_process_is_a_quick_clear_error(cli, tmp_path):
    db = tmp_path / "shared.db"
    client = connect(str(db))
    fill(client, "images")
    release(client, db)
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(db)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "open"
        started = time.monotonic()
        with pytest.raises(CollectionError) as raised:
            connect(str(db))
        assert time.monotonic() - started < 5
        message = str(raised.value)
        assert str(db) in message and "already open in another process" in message
        assert "Stop that kernel or process" in message and "another file name" in message

        line = one_error_line(cli("search", "--text", "a dog", "--db", str(db), "--collection", "images"))
        assert "already open in another process" in line
    finally:
        holder.send_signal(signal.SIGKILL)  # even a killed holder gives the file back: the lock dies with it
        holder.wait(timeout=30)
    client = connect(str(db))
    require_collection(client, "images")
    assert count(client, "images") == 5


@pytest.mark.parametrize("name, says", [
    ("images", "neither a server URI (http://host:19530) nor a Milvus Lite file name"),
    ("old.db", "is a single file, probably written by Milvus Lite 2"),
    ("a_file/x.db", "Cannot create the folder for the Milvus Lite file"),
])
def test_a_lite_path_that_cannot_be_a_lite_file_says_why(tmp_path, name, says):
    (tmp_path / "old.db").write_bytes(b"SQLite format 3\x00" + bytes(4080))  # what Milvus Lite 2 left behind
    (tmp_path / "a_file").write_text("not a folder")
    with pytest.raises(CollectionError, match=re.escape(says)):
        connect(str(tmp_path / name))


def test_the_cli_with_a_db_name_without_db_exits_2(cli, tmp_path):
    line = one_error_line(cli("search", "--text", "a dog", "--db", str(tmp_path / "milvus")))
    assert "Lite file names end in .db" in line


def test_searching_a_lite_file_that_does_not_exist_creates_none(cli, tmp_path):
    typo = tmp_path / "photso.db"
    for command in (["search", "--text", "a dog"], ["app"]):
        line = one_error_line(cli(*command, "--db", str(typo)))
        assert line == (f"error: There is no Milvus Lite file at {typo}. Check the name, or index a folder into it "
                        f"first: `python -m helpers index FOLDER --db {typo}`."), line
        assert not typo.exists()


# --------------------------------------------------------------------------------------------------------------
# A server that does not answer


def test_a_closed_port_is_a_collection_error_within_seconds():
    port = free_port()
    started = time.monotonic()
    with pytest.raises(CollectionError) as raised:
        connect(f"http://127.0.0.1:{port}", token="", timeout=3)
    assert time.monotonic() - started < 8
    assert f"Milvus at http://127.0.0.1:{port} did not answer" in str(raised.value)
    assert config.URI_ENV in str(raised.value)


def test_a_server_that_accepts_but_never_answers_times_out():
    """Like a half-dead connection on flaky Wi-Fi: the TCP connection opens, no reply ever comes."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        accepted = []
        threading.Thread(target=lambda: [accepted.append(listener.accept()) for _ in range(8)], daemon=True).start()
        port = listener.getsockname()[1]
        started = time.monotonic()
        with pytest.raises(CollectionError, match="did not answer within 2 s"):
            connect(f"http://127.0.0.1:{port}", token="", timeout=2)
        elapsed = time.monotonic() - started
        for connection, _ in accepted:
            connection.close()
    # Alone it takes 2.0 s, also with both CPUs busy; in a whole run, after tests that stopped servers their
    # clients still try to recover, it once took 10.0 s. The bound tells a timeout from a hang.
    assert 1.5 < elapsed < 30


def test_the_cli_with_an_unreachable_milvus_uri_exits_2(cli):
    uri = f"http://127.0.0.1:{free_port()}"
    started = time.monotonic()
    line = one_error_line(cli("search", "--text", "a dog", env={config.URI_ENV: uri}))
    assert f"Milvus at {uri} did not answer" in line
    assert time.monotonic() - started < 60


# --------------------------------------------------------------------------------------------------------------
# Searching: empty collections, top_k, missing collections, bad queries


def test_search_on_an_empty_collection_finds_nothing(tmp_path):
    client = connect(str(tmp_path / "x.db"))
    create_quick(client, "empty", DIM, model="test-model", recreate=True)
    assert search(client, "empty", VECTORS[:1]) == [[]]  # a batch of one: one empty list
    assert search(client, "empty", VECTORS[:3]) == [[], [], []]
    assert search(client, "empty", VECTORS[0]) == []  # one vector: its (empty) hits


def test_top_k_larger_than_the_collection_returns_every_row(tmp_path):
    client = connect(str(tmp_path / "x.db"))
    fill(client, "images", rows=5)
    hits = search(client, "images", VECTORS[2], top_k=100)
    assert sorted(hit_path(hit) for hit in hits) == [f"img/{i}.jpg" for i in range(5)]
    assert hit_path(hits[0]) == "img/2.jpg"
    assert [len(found) for found in search(client, "images", VECTORS[:2], top_k=MILVUS_TOP_K_LIMIT)] == [5, 5]


@pytest.mark.parametrize("top_k", [0, -1, MILVUS_TOP_K_LIMIT + 1])
def test_a_top_k_out_of_range_is_a_value_error(tmp_path, top_k):
    client = connect(str(tmp_path / "x.db"))
    fill(client, "images")
    with pytest.raises(ValueError, match=f"top_k must be between 1 and {MILVUS_TOP_K_LIMIT}, got {top_k}"):
        search(client, "images", VECTORS[0], top_k=top_k)


def test_a_missing_collection_names_the_existing_ones_and_how_to_index(tmp_path):
    client = connect(str(tmp_path / "x.db"))
    fill(client, "paintings")
    with pytest.raises(CollectionError) as raised:
        search(client, "images", VECTORS[0])
    assert str(raised.value).startswith("No collection named 'images' (existing: paintings)")
    assert "python -m helpers index FOLDER --collection images" in str(raised.value)


@pytest.fixture
def resnet_db(tmp_path) -> Path:
    """A Lite file with a small collection recorded as built by resnet34, closed so the CLI can open it."""
    db = tmp_path / "r.db"
    client = connect(str(db))
    fill(client, "images", rows=3, dim=512, model="resnet34 (offline stand-in)")
    release(client, db)
    return db


def test_cli_search_errors_are_one_line_each(cli, resnet_db, tmp_path):
    broken = tmp_path / "query.jpg"
    broken.write_text("not a photo")
    cases = {
        ("--text", "a dog", "--top-k", "0"): "error: --top-k must be between 1 and 16384, got 0",
        ("--text", "a dog", "--collection", "nope"): "error: No collection named 'nope' (existing: images)",
        (str(broken),): f"error: {broken}: not an image Pillow can read",
        (str(tmp_path / "missing.jpg"),): f"error: {tmp_path / 'missing.jpg'}: no such file",
        ("--text", "   "): "error: Empty text query",
        ("--text", "a dog"): "error: Collection 'images' holds resnet34 image vectors, which cannot be searched "
                             "with text",
    }
    for args, expected in cases.items():
        line = one_error_line(cli("search", *args, "--db", str(resnet_db)))
        assert line.startswith(expected), (args, line)
        if "No collection" in expected:  # the advice indexes into the database searched, not the default one
            assert line.endswith(f"`python -m helpers index FOLDER --db {resnet_db} --collection nope`."), line
