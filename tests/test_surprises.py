"""What a new user or an organiser meets, as they meet it: photos a phone or a scanner leaves (HEIC, TIFF) and
the files `index` did not take, collection names a Milvus server refuses, a port that is taken, the paths the
demo page's API gives away, similarity against distance, `--share` without internet, and an upload over the limit.
"""

from __future__ import annotations

import json
import socket
import subprocess
from pathlib import Path

import numpy as np
import pillow_heif
import pytest
from gradio_client import Client, handle_file
from PIL import Image
from playwright.sync_api import expect

from helpers import config
from helpers.connection import disconnect
from helpers.tool.connecting import connect
from helpers.encoders import load_encoder
from helpers.indexing import index_folder
from helpers.tool import app

from conftest import HELPERS, cli_environment

HEIC = "trip/IMG_0001.HEIC"
SHOWN = {"trip/beach.jpg", "scans/page1.tif", "scans/page2.TIFF", HEIC}  # what the API may say of each image


def noise(seed: int) -> Image.Image:
    return Image.fromarray(np.random.default_rng(seed).integers(0, 256, (48, 64, 3), dtype=np.uint8))


def errors(result: subprocess.CompletedProcess) -> list[str]:
    return [line for line in result.stderr.splitlines() if line.strip() and line != config.OFFLINE_NOTICE]


def make_photos(root: Path) -> Path:
    """A folder as a phone and a scanner leave it: a JPEG, two TIFFs, an iPhone's HEIC, and a note."""
    for folder in ("trip", "scans"):
        (root / folder).mkdir(parents=True)
    noise(1).save(root / "trip" / "beach.jpg")
    noise(2).save(root / "scans" / "page1.tif")
    noise(3).save(root / "scans" / "page2.TIFF", compression="tiff_lzw")
    pillow_heif.from_pillow(noise(4)).save(root / HEIC, quality=90)
    (root / "notes.txt").write_text("the trip, day one\n")
    return root


@pytest.fixture(scope="module")
def photos(tmp_path_factory) -> Path:
    return make_photos(tmp_path_factory.mktemp("home") / "organiser" / "photos")


@pytest.fixture(scope="module")
def indexed(photos, cli, tmp_path_factory) -> tuple[Path, subprocess.CompletedProcess]:
    db = tmp_path_factory.mktemp("db") / "photos.db"
    return db, cli("index", str(photos), "--db", str(db), "--collection", "my_photos")


# ---- the command line: files ----

def test_index_takes_heic_and_tiff_and_lists_the_file_it_did_not_index(indexed, photos):
    _, result = indexed
    assert result.returncode == 0, result.stderr
    assert "Indexed 4 new images" in result.stdout
    assert f"Skipped 1 file:\n  {photos / 'notes.txt'}: not an image (Pillow reads no .txt files)\n" in result.stdout


def test_a_heic_photo_finds_itself_first_and_json_says_similarity(cli, indexed, photos):
    db, _ = indexed
    result = cli("search", str(photos / HEIC), "--db", str(db), "--collection", "my_photos", "--json", "--top-k", "4")
    assert result.returncode == 0, result.stderr
    hits = json.loads(result.stdout)
    assert [set(hit) for hit in hits] == [{"path", "distance", "similarity"}] * 4  # COSINE: higher is closer
    assert hits[0]["path"] == str(photos / HEIC) and hits[0]["similarity"] == pytest.approx(1.0, abs=1e-4)
    assert all(hit["similarity"] == hit["distance"] for hit in hits)


def test_hundreds_of_skipped_files_are_counted_by_reason_with_the_first_few(cli, tmp_path):
    folder = tmp_path / "export"
    folder.mkdir()
    noise(5).save(folder / "keep.jpg")
    for number in range(300):
        (folder / f"sidecar_{number:03d}.xmp").write_text("<x:xmpmeta/>")
    for number in range(25):
        (folder / f"empty_{number:02d}.jpg").write_bytes(b"")
    result = cli("index", str(folder), "--db", str(tmp_path / "x.db"))
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    start = lines.index("Skipped 325 files:")
    assert lines[start + 1:start + 11] == [
        "  300 not an image, for example:",
        *[f"    {folder / f'sidecar_{number:03d}.xmp'}: not an image (Pillow reads no .xmp files)" for number in range(3)],
        "    ... and 297 more",
        "  25 empty file, for example:",
        *[f"    {folder / f'empty_{number:02d}.jpg'}: empty file (0 bytes)" for number in range(3)],
        "    ... and 22 more",
    ]
    assert len(lines) < 20


# ---- the command line: collection names ----

def check_refused(result: subprocess.CompletedProcess, name: str) -> None:
    assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr
    assert errors(result) == [
        f"error: Collection name {name!r} is not one Milvus takes: use letters, digits and underscores, starting with "
        "a letter or an underscore, at most 255 characters, e.g. 'my_photos'."]


@pytest.mark.parametrize("name", ["my-photos", "my photos"])
def test_a_name_milvus_refuses_is_refused_on_lite_before_anything_is_made(cli, photos, tmp_path, name):
    db = tmp_path / "x.db"
    check_refused(cli("index", str(photos), "--db", str(db), "--collection", name), name)
    client = connect(str(db))
    assert client.list_collections() == []
    disconnect(client, str(db))


def test_a_name_milvus_refuses_is_refused_on_a_server_with_the_same_line(cli, photos, milvus_server):
    check_refused(cli("index", str(photos), "--db", milvus_server, "--collection", "my-photos"), "my-photos")
    check_refused(cli("search", str(photos / HEIC), "--db", milvus_server, "--collection", "my-photos"), "my-photos")
    assert "my-photos" not in connect(milvus_server).list_collections()


def test_a_collection_made_elsewhere_under_such_a_name_is_still_indexed_and_searched(cli, photos, tmp_path,
                                                                                      resnet34):
    db = str(tmp_path / "elsewhere.db")
    client = connect(db)
    client.create_collection("my-photos", dimension=resnet34.dim, auto_id=True, enable_dynamic_field=True)
    disconnect(client, db)  # Milvus Lite takes the name; a server would not
    common = ("--db", db, "--collection", "my-photos", "--model", "resnet34")
    assert cli("index", str(photos), *common).returncode == 0
    found = cli("search", str(photos / "trip" / "beach.jpg"), *common, "--json")
    assert found.returncode == 0, found.stderr
    assert json.loads(found.stdout)[0]["path"] == str(photos / "trip" / "beach.jpg")


# ---- the command line: the port, and the API's paths ----

def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_a_taken_port_is_one_line_naming_port_and_a_free_one(cli, indexed):
    db, _ = indexed
    with socket.create_server(("127.0.0.1", free_port())) as taken:
        port = taken.getsockname()[1]
        result = cli("app", "--db", str(db), "--collection", "my_photos", "--port", str(port))
    assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr
    [line] = errors(result)
    assert line.startswith(f"error: Port {port} on 127.0.0.1 is taken") and "pass another with --port, e.g. --port " in line
    assert "GRADIO_SERVER_PORT" not in result.stderr


def serve(db: Path, *flags: str) -> tuple[subprocess.Popen, str, list[str]]:
    """`python -m helpers app` on the photos, started and read up to its address; (process, URL, lines so far)."""
    port = free_port()
    server = subprocess.Popen([*HELPERS, "app", "--db", str(db), "--collection", "my_photos", "--port", str(port),
                               *flags], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                              env=cli_environment())
    lines = []
    for line in server.stdout:
        lines.append(line)
        if "Running on local URL" in line:
            break
    return server, f"http://127.0.0.1:{port}/", lines


@pytest.mark.parametrize("flags", [[], ["--show-full-paths"]])
def test_the_api_gives_paths_below_the_indexed_folder_unless_the_organiser_asks(cli, indexed, photos, flags):
    db, _ = indexed
    server, url, lines = serve(db, *flags)
    try:
        assert not any("share=True" in line for line in lines), lines  # Gradio's hint names launch()'s argument
        hits = Client(url, verbose=False).predict(handle_file(photos / "trip" / "beach.jpg"), 4, "",
                                                  api_name="/search_image")
    finally:
        server.terminate()
        server.wait(timeout=30)
    paths = {hit["filepath"] for hit in hits}
    if flags:
        assert paths == {str(photos / path) for path in SHOWN}
    else:
        assert paths == SHOWN and "organiser" not in json.dumps(hits)
    assert hits[0]["filepath"].endswith("trip/beach.jpg") and hits[0]["similarity"] == pytest.approx(1.0, abs=1e-4)


# ---- the page in Chromium: --share without internet, an upload over the limit ----

def test_share_without_internet_says_why_in_one_line_and_the_page_warns_of_no_link(page, real_weights_online, tmp_path,
                                                                                 capsys, monkeypatch):
    for key in ("NO_PROXY", "no_proxy"):  # the dead proxy stands for no internet; this machine is still reachable
        monkeypatch.setenv(key, "127.0.0.1,localhost")
    encoder = load_encoder("efficientnet_lite0")  # real weights: offline mode is off, so a link is asked for
    db = str(tmp_path / "online.db")
    index_folder(connect(db), "my_photos", encoder, make_photos(tmp_path / "photos"), progress=False)
    blocks = app.launch(db, "my_photos", port=free_port(), share=True, encoder=encoder)
    try:
        out, err = capsys.readouterr()
        assert blocks.share_url is None and "share=True" not in out and "Could not create" not in out + err
        assert err.splitlines()[-1].startswith("No public link: ") and blocks.local_url in err.splitlines()[-1]
        assert app.SHARE_WARNING not in err
        page.goto(blocks.local_url)
        expect(page.locator("#top-k input[type=number]")).to_have_value(str(app.TOP_K_DEFAULT))
        expect(page.locator("#share-warning")).to_have_count(0)
        blocks.share_url = "https://example.gradio.live"  # as once Gradio made a link: the next page load warns
        page.reload()
        expect(page.locator("#share-warning")).to_contain_text(app.SHARE_WARNING.split(".")[0])
    finally:
        blocks.close()


def test_an_upload_over_the_limit_leaves_a_message_that_stays_naming_the_limit(page, indexed, photos, tmp_path):
    db, _ = indexed
    big = tmp_path / "phone photo.jpg"
    big.write_bytes((photos / "trip" / "beach.jpg").read_bytes() + bytes(11 * 1024 * 1024))  # 11 MB
    blocks = app.launch(str(db), "my_photos", port=free_port())
    try:
        page.goto(blocks.local_url)
        expect(page.locator("#top-k input[type=number]")).to_have_value(str(app.TOP_K_DEFAULT))
        page.locator("#query-image input[type=file]").set_input_files(str(big))
        note = page.locator("#upload-note")
        expect(note).to_contain_text(f"phone photo.jpg (11.0 MB) is over the page's limit of {config.MAX_UPLOAD_MB} MB")
        page.wait_for_timeout(8_000)  # Gradio's toast is gone by now; the line stays
        expect(note).to_contain_text(f"limit of {config.MAX_UPLOAD_MB} MB")
        page.screenshot(path=str(tmp_path / "upload-over-the-limit.png"))
        page.locator("#query-image input[type=file]").set_input_files(str(photos / "trip" / "beach.jpg"))
        expect(page.locator("#results .thumbnail-item")).to_have_count(4, timeout=60_000)
        expect(note).to_have_text("")
        assert page.locator("#results .caption-label").first.inner_text().strip() == "1. trip · similarity 1.000"
    finally:
        blocks.close()
