"""The demo app (helpers/tool/app.py, its queries in helpers/tool/searcher.py): the page in a real Chromium, the gradio_client endpoints, bad input, and what
a share link could reach. Each app runs for real on 127.0.0.1 over the notebooks' collections, built from the
offline samples in a Milvus Lite file, or on the session's Milvus server.
"""

from __future__ import annotations

import io
import re
import socket
import subprocess
import threading
from pathlib import Path

import pytest
import requests
from gradio_client import Client, handle_file
from gradio_client.exceptions import AppError
from PIL import Image
from playwright.sync_api import expect

from helpers import config
from helpers.tool import app
from helpers.collection import CollectionError, create_quick
from helpers.connection import disconnect
from helpers.tool.connecting import connect
from helpers.encoders import load_encoder
from helpers.tool.searcher import Searcher
from helpers.tool.thumbnails import THUMBNAIL_SIDE

import sample_collections as samples
from conftest import HELPERS, IMAGENET_SAMPLE, PAINTINGS_SAMPLE, cli_environment

ROOT = Path(__file__).resolve().parent.parent

QUERY = next((IMAGENET_SAMPLE / "train").glob("*/*.JPEG"))  # in the collections: it must come back first
IMAGES = len(list((IMAGENET_SAMPLE / "train").glob("*/*.JPEG")))  # in the two collections of the ImageNet samples
PAINTING = next((PAINTINGS_SAMPLE / "paintings" / "Monet").glob("*.jpg"))
GALLERY_ITEMS = "#results .thumbnail-item"
NO_PROXY = {"http": None, "https": None}


@pytest.fixture(scope="module")
def resnet50():
    return load_encoder("resnet50", device="cpu")


@pytest.fixture(scope="module")
def encoders(resnet34, resnet50, clip_encoder) -> dict:
    return {"resnet34": resnet34, "resnet50": resnet50, "clip": clip_encoder}


@pytest.fixture(scope="module")
def lite_uri(tmp_path_factory, encoders) -> str:
    """A Milvus Lite file holding the three notebooks' collections of the offline samples."""
    uri = str(tmp_path_factory.mktemp("app") / "notebooks.db")
    client = connect(uri)
    for name, (model, _) in samples.NOTEBOOKS.items():
        samples.build(client, name, encoders[model])
    return uri


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Running:
    """An app serving one collection on 127.0.0.1, started in this process as a notebook does, closed at the end."""

    def __init__(self, uri: str, collection: str, encoder) -> None:
        self.blocks = app.launch(uri, collection, port=free_port(), encoder=encoder)
        self.url = self.blocks.local_url

    def client(self) -> Client:
        return Client(self.url, verbose=False)

    def close(self) -> None:
        self.blocks.close()


@pytest.fixture(scope="module")
def apps(lite_uri, encoders):
    """The running apps by collection name, started on first use."""
    running: dict[str, Running] = {}

    def get(name: str) -> Running:
        if name not in running:
            running[name] = Running(lite_uri, name, encoders[samples.NOTEBOOKS[name][0]])
        return running[name]

    yield get
    for each in running.values():
        each.close()


def captions(page) -> list[str]:
    return [item.inner_text().strip() for item in page.locator(f"{GALLERY_ITEMS} .caption-label").all()]


def open_app(page, url: str) -> None:
    page.goto(url)
    expect(page.locator("#top-k input[type=number]")).to_have_value(str(app.TOP_K_DEFAULT))  # the page is live


def upload(page, path: Path) -> None:
    page.locator("#query-image input[type=file]").set_input_files(str(path))


# ---- the page in Chromium ----

def test_page_upload_gives_k_results_with_the_query_first_and_the_slider_sets_k(apps, page):
    running = apps("image_embeddings")
    open_app(page, running.url)
    expect(page.locator("#query-text")).to_be_hidden()  # an image-only model: no text box
    upload(page, QUERY)
    expect(page.locator(GALLERY_ITEMS)).to_have_count(app.TOP_K_DEFAULT, timeout=60_000)
    first = captions(page)[0]
    assert first == f"1. {QUERY.parent.name} · similarity 1.000", first  # COSINE: the query itself
    expect(page.locator("#query-time")).to_contain_text(re.compile(r"10 results in \d+ ms"))

    number = page.locator("#top-k input[type=number]")
    box = page.locator("#top-k input[type=range]").bounding_box()
    for fraction in (0.02, 0.2):  # press and release the slider there, as a drag ends
        page.mouse.click(box["x"] + box["width"] * fraction, box["y"] + box["height"] / 2)
        k = int(number.input_value())
        assert k != app.TOP_K_DEFAULT
        expect(page.locator("#query-time")).to_contain_text(f"{min(k, IMAGES)} results in")
        expect(page.locator(GALLERY_ITEMS)).to_have_count(min(k, IMAGES))
        assert captions(page)[0] == first


def test_page_text_search_on_a_clip_collection(apps, page):
    open_app(page, apps("image_collection").url)
    page.locator("#query-text textarea").fill("a white dog")
    page.locator("#query-text textarea").press("Enter")
    expect(page.locator(GALLERY_ITEMS)).to_have_count(app.TOP_K_DEFAULT, timeout=60_000)
    assert all(re.fullmatch(r"\d+\. \w+ · similarity -?[\d.]+", caption) for caption in captions(page))
    page.locator("#query-text textarea").fill("   ")
    page.locator("#search-text").click()
    expect(page.locator("#query-time")).to_contain_text("Empty text query")
    expect(page.locator(GALLERY_ITEMS)).to_have_count(0)


@pytest.mark.parametrize("content, message", [
    (b"this is not an image", "notes.png: not an image Pillow can read"),
    (b"", "notes.png: empty file (0 bytes)"),
], ids=["text", "0-byte"])
def test_page_bad_file_gives_a_message(apps, page, tmp_path, content, message):
    bad = tmp_path / "notes.png"
    bad.write_bytes(content)
    open_app(page, apps("image_embeddings").url)
    upload(page, bad)
    expect(page.locator("#query-time")).to_contain_text(f"Could not search: {message}")
    expect(page.locator(GALLERY_ITEMS)).to_have_count(0)
    assert "Traceback" not in page.content()


@pytest.mark.parametrize("wait_between", [True, False], ids=["after-the-prompt", "quick"])
def test_page_crop_by_clicking_two_corners(apps, page, wait_between):
    """Two clicks crop, whether the second waits for the page's prompt or comes at once (a quick double corner):
    the page must not drop a click that arrives while the first one is still being answered."""
    open_app(page, apps("image_embeddings").url)
    upload(page, QUERY)
    expect(page.locator(GALLERY_ITEMS)).to_have_count(app.TOP_K_DEFAULT, timeout=60_000)
    shown = page.locator("#query-image img").first
    box = shown.bounding_box()
    page.mouse.click(box["x"] + box["width"] * 0.25, box["y"] + box["height"] * 0.25)
    if wait_between:
        expect(page.locator("#query-time")).to_contain_text("Click the opposite corner")
    page.mouse.click(box["x"] + box["width"] * 0.75, box["y"] + box["height"] * 0.75)
    with Image.open(QUERY) as original:
        size = original.size
    # The crop replaces the query image and clears the status in one update; the search of the crop follows.
    page.wait_for_function("width => [...document.querySelectorAll('#query-image img')].some("
                           "image => image.naturalWidth > 0 && image.naturalWidth < width)", arg=size[0], timeout=60_000)
    expect(page.locator("#query-time")).to_contain_text("10 results in", timeout=60_000)
    cropped = shown.evaluate("image => [image.naturalWidth, image.naturalHeight]")
    assert 0 < cropped[0] < size[0] and 0 < cropped[1] < size[1]  # the query is now the part between the clicks


def test_page_filter_on_the_painter(apps, page):
    open_app(page, apps("image_search").url)
    upload(page, PAINTING)
    expect(page.locator(GALLERY_ITEMS)).to_have_count(app.TOP_K_DEFAULT, timeout=60_000)
    assert captions(page)[0] == "1. Monet · distance 0.000"  # L2: the query itself
    page.locator("#filter input").click()
    page.get_by_role("option", name="Degas").click()
    expect(page.locator(GALLERY_ITEMS)).to_have_count(4, timeout=60_000)  # the samples hold 4 Degas paintings
    assert all(" Degas · " in caption for caption in captions(page))
    thumbnail = page.locator(f"{GALLERY_ITEMS} img").first.get_attribute("src")
    response = get(thumbnail)  # what the page shows is served: a small JPEG copy, not the original file
    assert response.status_code == 200 and Image.open(io.BytesIO(response.content)).size[0] <= THUMBNAIL_SIDE


def test_a_notebook_cell_ending_in_launch_shows_one_line_with_the_address(apps):
    running = apps("image_embeddings")
    assert repr(running.blocks) == f"Image search page (Image search: image_embeddings): {running.url}"


# ---- the endpoints, as gradio_client sees them ----

def test_search_image_endpoint_returns_paths_and_distances(apps):
    client = apps("image_embeddings").client()
    hits = client.predict(handle_file(QUERY), 3, "", api_name="/search_image")
    assert [hit["rank"] for hit in hits] == [1, 2, 3]
    assert hits[0]["filepath"] == QUERY.name  # no folder recorded by `index`: the file name, as a plain string
    assert hits[0]["label"] == QUERY.parent.name
    assert hits[0]["distance"] == hits[0]["similarity"] == pytest.approx(1.0, abs=1e-5)
    assert all("/" not in hit["filepath"] for hit in hits)
    assert hits == sorted(hits, key=lambda hit: -hit["distance"])


def test_search_text_endpoint_and_the_filter(apps):
    hits = apps("image_collection").client().predict("a white dog", 7, "", api_name="/search_text")
    assert len(hits) == 7 and all(isinstance(hit["distance"], float) for hit in hits)
    monets = apps("image_search").client().predict(handle_file(PAINTING), 10, "Monet", api_name="/search_image")
    assert len(monets) == 4 and {hit["painter"] for hit in monets} == {"Monet"}
    assert monets[0]["filepath"] == PAINTING.name and monets[0]["distance"] == pytest.approx(0.0, abs=1e-4)
    assert "similarity" not in monets[0]  # L2: a distance, lower is closer


def bomb(path: Path) -> Path:
    """A small PNG whose pixel count is over Pillow's limit (but under twice it)."""
    side = int((Image.MAX_IMAGE_PIXELS * 1.2) ** 0.5)
    Image.new("1", (side, side)).save(path)
    return path


@pytest.mark.parametrize("make, message", [
    (lambda folder: folder / "empty.jpg", "empty file (0 bytes)"),
    (lambda folder: folder / "broken.jpg", "cannot be decoded"),
    (lambda folder: folder / "text.png", "not an image Pillow can read"),
    (lambda folder: bomb(folder / "bomb.png"), "too large to decode safely"),
], ids=["0-byte", "corrupt", "not-an-image", "bomb"])
def test_bad_image_files_get_a_clear_error(apps, tmp_path, make, message):
    (tmp_path / "empty.jpg").write_bytes(b"")
    (tmp_path / "broken.jpg").write_bytes(QUERY.read_bytes()[:600])
    (tmp_path / "text.png").write_text("hello")
    path = make(tmp_path)
    with pytest.raises(AppError, match=re.escape(message)) as error:
        apps("image_embeddings").client().predict(handle_file(path), 5, "", api_name="/search_image")
    assert "Traceback" not in str(error.value) and "/tmp/gradio" not in str(error.value)


@pytest.mark.parametrize("text, top_k, name, message", [
    ("  ", 5, "image_collection", "Empty text query"),
    ("a dog", 5, "image_embeddings", "cannot be searched with text"),
    ("a dog", 0, "image_collection", "top_k must be between 1 and 100"),
    ("a dog", 101, "image_collection", "top_k must be between 1 and 100"),
])
def test_bad_text_queries_get_a_clear_error(apps, text, top_k, name, message):
    with pytest.raises(AppError, match=message):
        apps(name).client().predict(text, top_k, "", api_name="/search_text")


# ---- what a share link could reach ----

def get(url: str) -> requests.Response:
    return requests.get(url, timeout=30, proxies=NO_PROXY)


def test_files_outside_the_results_are_never_served(apps):
    base = apps("image_search").url.rstrip("/")
    secret = Path("/etc/passwd")
    for route in ("gradio_api/file=", "file=", "gradio_api/file=/..", "gradio_api/file=%2F"):
        for target in (secret, PAINTING, ROOT / "pyproject.toml"):
            response = get(f"{base}/{route}{target}")
            assert response.status_code in (403, 404), (route, target, response.status_code)
            assert "root:" not in response.text
    assert get(f"{base}/gradio_api/file={Path(config.SAMPLES_DIR).parent}/../../../../etc/passwd").status_code in (403, 404)


def test_an_api_call_cannot_name_a_file_of_the_server(apps):
    url = apps("image_search").url
    session = requests.post(f"{url}gradio_api/call/search_image", json={"data": [
        {"path": "/etc/passwd", "meta": {"_type": "gradio.FileData"}}, 5, ""]}, proxies=NO_PROXY, timeout=30)
    event = session.json()["event_id"]
    answer = get(f"{url}gradio_api/call/search_image/{event}").text
    assert "event: error" in answer and "root:" not in answer


def test_uploads_are_size_limited(apps):
    url = apps("image_embeddings").url
    big = b"\xff" * (11 * 1024 * 1024)
    response = requests.post(f"{url}gradio_api/upload", files={"files": ("big.jpg", big, "image/jpeg")},
                             proxies=NO_PROXY, timeout=60)
    assert response.status_code == 413


def test_a_filter_value_cannot_change_the_expression(apps):
    client = apps("image_search").client()
    for value in ('Monet" || painter != "', "Monet' or 1==1", "/etc/passwd"):
        assert client.predict(handle_file(PAINTING), 10, value, api_name="/search_image") == []


def test_text_is_only_a_query(apps):
    hits = apps("image_collection").client().predict("/etc/passwd", 3, "", api_name="/search_text")
    assert {hit["filepath"] for hit in hits} <= {path.name for path in IMAGENET_SAMPLE.glob("*/*/*.JPEG")}


def test_share_page_warns_that_the_link_is_public(lite_uri, resnet34):
    page = app.build(Searcher(lite_uri, "image_embeddings", encoder=resnet34), app.Thumbnails(), share=True)
    page.launch(server_port=free_port(), prevent_thread_lock=True, quiet=True)
    try:
        assert app.SHARE_WARNING in get(f"{page.local_url}config").text  # shown once a link exists (test_surprises)
    finally:
        page.close()


def test_a_share_link_in_offline_mode_is_not_asked_for_and_one_line_says_so(lite_uri, resnet34, capsys):
    """As on Colab (share by default) offline: nothing asks Gradio's share server, the page is served here."""
    page = app.launch(lite_uri, "image_embeddings", port=free_port(), share=True, encoder=resnet34)
    try:
        assert page.share_url is None and get(page.local_url).status_code == 200
        assert capsys.readouterr().err.splitlines()[-1] == (
            f"No public link in offline mode (IMAGE_SEARCH_OFFLINE=1): the page is served at {page.local_url} only.")
    finally:
        page.close()

# ---- collections that go away or change, the command line, a server ----

def test_wrong_or_missing_collection(lite_uri, resnet34, clip_encoder):
    with pytest.raises(CollectionError, match="No collection named 'nope'"):
        Searcher(lite_uri, "nope")
    with pytest.raises(CollectionError, match="not by this encoder"):
        Searcher(lite_uri, "image_embeddings", encoder=clip_encoder)
    client = connect(lite_uri)
    create_quick(client, "doomed", resnet34.dim, model=resnet34.model_id, recreate=True)
    running = Running(lite_uri, "doomed", resnet34)
    try:
        create_quick(client, "doomed", resnet34.dim, model=clip_encoder.model_id, recreate=True)  # another model
        with pytest.raises(AppError, match="rebuilt with another model"):
            running.client().predict(handle_file(QUERY), 3, "", api_name="/search_image")
        client.drop_collection("doomed")
        with pytest.raises(AppError, match="No collection named 'doomed'"):
            running.client().predict(handle_file(QUERY), 3, "", api_name="/search_image")
    finally:
        running.close()


def test_command_line_serves_on_loopback(tmp_path, resnet34, cli):
    uri = str(tmp_path / "cli.db")
    client = connect(uri)
    samples.build(client, "image_embeddings", resnet34)
    disconnect(client, uri)
    port = free_port()
    missing = cli("app", "--db", uri, "--collection", "nope")
    assert missing.returncode == 2 and missing.stderr.strip().splitlines()[-1].startswith("error: No collection")
    server = subprocess.Popen([*HELPERS, "app", "--db", uri, "--collection", "image_embeddings", "--port", str(port)],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=cli_environment())
    try:
        lines = []
        for line in server.stdout:
            lines.append(line)
            if "Running on local URL" in line:
                break
        assert f"http://127.0.0.1:{port}" in lines[-1], lines
        hits = Client(f"http://127.0.0.1:{port}/", verbose=False).predict(handle_file(QUERY), 2, "",
                                                                       api_name="/search_image")
        assert hits[0]["filepath"] == QUERY.name
    finally:
        server.terminate()
        server.wait(timeout=30)


class Relay:
    """A TCP relay on 127.0.0.1 in front of the Milvus server that can stop and start answering, as a
    server that goes away and comes back (or a network that drops) does."""

    def __init__(self, target_port: int) -> None:
        self.target, self.port, self.sockets = target_port, free_port(), []
        self.start()

    def start(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", self.port))
        threading.Thread(target=self._accept, args=(self.listener,), daemon=True).start()

    def stop(self) -> None:
        for each in [self.listener, *self.sockets]:  # shutdown, not just close, wakes the threads blocked on them
            try:
                each.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            each.close()
        self.sockets.clear()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                inbound, _ = listener.accept()
            except OSError:
                return
            outbound = socket.create_connection(("127.0.0.1", self.target))
            self.sockets += [inbound, outbound]
            for source, sink in ((inbound, outbound), (outbound, inbound)):
                threading.Thread(target=self._pipe, args=(source, sink), daemon=True).start()

    @staticmethod
    def _pipe(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass


def test_on_a_server_that_stops_answering_mid_session(milvus_server, resnet50):
    relay = Relay(int(milvus_server.rsplit(":", 1)[1]))
    uri = f"http://127.0.0.1:{relay.port}"
    samples.build(connect(uri), "image_search", resnet50)
    running = Running(uri, "image_search", resnet50)
    try:
        client = running.client()
        assert client.predict(handle_file(PAINTING), 3, "Monet", api_name="/search_image")[0]["filepath"] == PAINTING.name
        relay.stop()
        with pytest.raises(AppError, match="did not answer"):
            client.predict(handle_file(PAINTING), 3, "", api_name="/search_image")
        relay.start()
        for attempt in range(3):  # gRPC's reconnect backoff may outlast one search's wait: "Search again when it is back"
            try:
                hits = client.predict(handle_file(PAINTING), 3, "", api_name="/search_image")
                break
            except AppError as error:
                assert "did not answer" in str(error) and attempt < 2, error
        assert hits[0]["filepath"] == PAINTING.name
    finally:
        running.close()
        relay.stop()

