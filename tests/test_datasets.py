"""Tests for helpers.datasets (gdown doing the downloading) against a real HTTP server on 127.0.0.1 serving zips of real
JPEGs."""

from __future__ import annotations

import io
import random
import re
import signal
import struct
import subprocess
import sys
import threading
import time
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from PIL import Image

from helpers import config, datasets
from helpers.datasets import DATASETS, Dataset, download_zip, extract_zip, fetch_dataset
from helpers.errors import DownloadError

CLASSES = ("Afghan_hound", "tabby_cat")
TRAIN_PER_CLASS = 4
LAYOUT = {"train": len(CLASSES) * TRAIN_PER_CLASS, "test": len(CLASSES)}
CHUNK_SIZE = 1 << 20
DROP_AFTER = CHUNK_SIZE * 3 // 2  # past the first 1 MiB, so a resume has something to build on
STALL_S = 5.0


def _jpeg(seed: int) -> bytes:
    """A 448x448 noise JPEG (about 200 KB: noise hardly compresses, so the zips pass DROP_AFTER)."""
    rng = random.Random(seed)
    image = Image.frombytes("RGB", (448, 448), rng.randbytes(448 * 448 * 3))
    buf = io.BytesIO()
    image.save(buf, format="JPEG", quality=95)
    return buf.getvalue()


def _zip(members: dict[str, bytes], compression: int = zipfile.ZIP_DEFLATED) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buf.getvalue()


def _dataset_members(top: str = "reverse_image_search/") -> dict[str, bytes]:
    """train/<class>/*.JPEG and test/<class>/*.JPEG under one top folder, as in the real archive."""
    members, seed = {}, 0
    for cls in CLASSES:
        for split, count in (("train", TRAIN_PER_CLASS), ("test", 1)):
            for i in range(count):
                seed += 1
                members[f"{top}{split}/{cls}/n{seed:04d}_{i}.JPEG"] = _jpeg(seed)
    members[f"{top}reverse_image_search.csv"] = b"id,path,label\n"
    return members


def _corrupt(data: bytes) -> bytes:
    """Flip 16 bytes in the middle of the first member's data, leaving the zip structure intact."""
    info = zipfile.ZipFile(io.BytesIO(data)).infolist()[0]
    name_len, extra_len = struct.unpack("<HH", data[info.header_offset + 26 : info.header_offset + 30])
    start = info.header_offset + 30 + name_len + extra_len + info.compress_size // 2
    out = bytearray(data)
    for i in range(start, start + 16):
        out[i] ^= 0xFF
    return bytes(out)


@pytest.fixture(scope="session")
def archives() -> dict[str, bytes]:
    good = _zip(_dataset_members())
    stored = _zip(_dataset_members(), zipfile.ZIP_STORED)
    assert len(good) > DROP_AFTER + CHUNK_SIZE // 2
    return {"good.zip": good, "corrupt-deflated.zip": _corrupt(good), "corrupt-stored.zip": _corrupt(stored)}


class _Handler(BaseHTTPRequestHandler):
    """GET /<mode>/<file>: ok (Range support), norange, drop, dropnorange, missing, busy (503 first), stall,
    trickle."""

    def log_message(self, *args) -> None:
        pass

    def do_GET(self) -> None:
        srv = self.server
        mode, _, name = self.path.strip("/").partition("/")
        with srv.lock:
            srv.log.append((mode, self.headers.get("Range")))
            first = srv.seen.setdefault(self.path, 0) == 0
            srv.seen[self.path] += 1
        body = srv.files.get(name)
        if mode == "missing" or body is None:
            self.send_error(404)
        elif mode == "busy" and first:
            self.send_error(503)
        elif mode == "stall":
            srv.stop.wait(STALL_S)
        elif mode == "trickle":
            self._send(body, allow_range=False, cut=DROP_AFTER)
            srv.stop.wait(10)
        else:
            drop = mode.startswith("drop") and first
            self._send(body, allow_range=not mode.endswith("norange"), cut=DROP_AFTER if drop else None)

    def _send(self, body: bytes, allow_range: bool, cut: int | None) -> None:
        start = 0
        match = re.fullmatch(r"bytes=(\d+)-", self.headers.get("Range") or "")
        if allow_range and match:
            start = int(match[1])
            if start >= len(body):
                self.send_error(416)
                return
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
        else:
            self.send_response(200)
        payload = body[start:]
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload[:cut])
        self.wfile.flush()


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address) -> None:
        pass  # clients hanging up mid-response is what several tests do on purpose


class LocalServer:
    """A running _Server plus helpers to build URLs and read what was requested."""

    def __init__(self, files: dict[str, bytes]) -> None:
        self.srv = _Server(("127.0.0.1", 0), _Handler)
        self.srv.files, self.srv.log, self.srv.seen = files, [], {}
        self.srv.lock, self.srv.stop = threading.Lock(), threading.Event()
        threading.Thread(target=self.srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def url(self, mode: str, name: str = "good.zip") -> str:
        return f"http://127.0.0.1:{self.srv.server_address[1]}/{mode}/{name}"

    def ranges(self, mode: str) -> list[str | None]:
        """The Range header of every request made in `mode`, in order."""
        with self.srv.lock:
            return [rng for m, rng in self.srv.log if m == mode]

    @property
    def total_requests(self) -> int:
        with self.srv.lock:
            return len(self.srv.log)

    def close(self) -> None:
        self.srv.stop.set()
        self.srv.shutdown()
        self.srv.server_close()


@pytest.fixture
def server(archives):
    local = LocalServer(archives)
    yield local
    local.close()


@pytest.fixture(autouse=True)
def online(monkeypatch):
    monkeypatch.delenv(config.OFFLINE_ENV, raising=False)


def _local_dataset(*urls: str, layout: dict[str, int | None] | None = None) -> Dataset:
    return Dataset(
        name="local_test",
        urls=urls,
        filename="local_test.zip",
        sample="reverse_image_search",
        layout=dict(LAYOUT if layout is None else layout),
    )


def _assert_good_zip(path: Path, archives: dict[str, bytes]) -> None:
    """`path` holds the whole archive, and nothing is left in the download folder beside it."""
    assert path.read_bytes() == archives["good.zip"]
    with zipfile.ZipFile(path) as zf:
        assert zf.testzip() is None
    assert not (path.parent / "downloading").exists()


def _partials(folder: Path) -> list[Path]:
    """gdown's partial files (`<name><8 random characters>.part`) in `downloading/` under `folder`."""
    return sorted((folder / "downloading").glob("*.part"))


def test_registry_matches_spec():
    ris, paintings = DATASETS["reverse_image_search"], DATASETS["paintings"]
    assert ris.urls == (
        "https://github.com/milvus-io/pymilvus-assets/releases/download/imagedata/reverse_image_search.zip",
        "https://github.com/towhee-io/examples/releases/download/data/reverse_image_search.zip",
    )
    assert ris.layout == {"train": 1000, "test": 100}
    assert paintings.urls == ("https://drive.google.com/uc?id=1OYDHLEy992qu5C4C8HV5uDIkOWRTAR1_",)
    assert paintings.layout == {"paintings": None, "test_paintings": None}
    assert all(name == ds.name for name, ds in DATASETS.items())


def test_download_streams_and_verifies(server, archives, tmp_path):
    dest = download_zip([server.url("ok")], tmp_path / "good.zip")
    _assert_good_zip(dest, archives)
    assert server.ranges("ok") == [None]


def test_dropped_connection_resumes_with_range(server, archives, tmp_path):
    dest = download_zip([server.url("drop")], tmp_path / "good.zip")
    _assert_good_zip(dest, archives)
    first, resumed = server.ranges("drop")
    assert first is None and re.fullmatch(r"bytes=[1-9]\d*-", resumed)


def test_server_ignoring_range_starts_over(server, archives, tmp_path):
    dest = download_zip([server.url("dropnorange")], tmp_path / "good.zip")
    _assert_good_zip(dest, archives)
    first, resumed, fresh = server.ranges("dropnorange")  # the resume was answered 200: refused, fetched afresh
    assert first is None and re.fullmatch(r"bytes=[1-9]\d*-", resumed) and fresh is None


def test_a_mirror_that_drops_for_good_leaves_its_bytes_to_the_next(server, archives, tmp_path):
    dest = download_zip([server.url("drop"), server.url("ok")], tmp_path / "good.zip", retries=0)
    _assert_good_zip(dest, archives)
    assert server.ranges("drop") == [None]
    first, resumed = server.ranges("ok")
    assert first is None and re.fullmatch(r"bytes=[1-9]\d*-", resumed)


def test_404_moves_to_next_mirror_at_once(server, archives, tmp_path):
    dest = download_zip([server.url("missing"), server.url("ok")], tmp_path / "good.zip")
    _assert_good_zip(dest, archives)
    assert server.ranges("missing") == [None]  # a 4xx is not retried


def test_a_server_error_is_asked_once_more_on_the_same_mirror(server, archives, tmp_path, monkeypatch):
    monkeypatch.setattr(datasets, "BUSY_WAIT_S", 0.1)
    _assert_good_zip(download_zip([server.url("busy")], tmp_path / "good.zip"), archives)
    assert server.ranges("busy") == [None, None]


def test_stalled_mirror_times_out_then_next_mirror(server, archives, tmp_path):
    start = time.monotonic()
    dest = download_zip([server.url("stall"), server.url("ok")], tmp_path / "good.zip", retries=1, timeout=0.3)
    _assert_good_zip(dest, archives)
    assert len(server.ranges("stall")) == 2
    assert time.monotonic() - start < STALL_S


@pytest.mark.parametrize("name", ["corrupt-deflated.zip", "corrupt-stored.zip"])
def test_corrupt_zip_rejected_everywhere(server, tmp_path, name):
    urls = (server.url("ok", name), server.url("norange", name))
    with pytest.raises(DownloadError) as err:
        fetch_dataset(_local_dataset(*urls), cache=tmp_path)
    message = str(err.value)
    folder = tmp_path / "datasets" / "local_test"
    assert all(url in message for url in urls)
    assert "corrupt zip" in message and str(folder) in message
    assert f"{config.OFFLINE_ENV}=1" in message
    assert server.ranges("ok") == server.ranges("norange") == [None, None]  # each mirror asked once more, afresh
    assert list(folder.iterdir()) == []  # no archive, no partial, no extracted folder, no marker


@pytest.mark.parametrize(
    ("leftover", "ranges"),
    [
        ("good.zip12345678.part", [None, "bytes=15-", None]),  # gdown's partial: resumed, wrong, fetched afresh
        ("good.zip", [None, None]),  # a file gdown finished before its check: gdown keeps it, the check does not
    ],
)
def test_leftover_is_never_taken_as_complete(server, archives, tmp_path, leftover, ranges):
    (tmp_path / "downloading").mkdir()
    (tmp_path / "downloading" / leftover).write_bytes(b"not the archive")  # e.g. from another mirror
    _assert_good_zip(download_zip([server.url("ok")], tmp_path / "good.zip"), archives)
    assert server.ranges("ok") == ranges


def test_unwritable_cache_names_folder_and_variable(server, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    cache = blocker / "cache"
    with pytest.raises(DownloadError) as err:
        fetch_dataset(_local_dataset(server.url("ok")), cache=cache)
    assert str(cache) in str(err.value) and config.CACHE_ENV in str(err.value)
    with pytest.raises(DownloadError, match=config.CACHE_ENV):
        download_zip([server.url("ok")], cache / "x.zip")
    assert server.total_requests == 0


def test_keyboard_interrupt_leaves_only_a_partial_then_resumes(server, archives, tmp_path):
    dest = tmp_path / "good.zip"
    code = (
        "import sys; from pathlib import Path; from helpers.datasets import download_zip; "
        "download_zip([sys.argv[1]], Path(sys.argv[2]), retries=0, timeout=20)"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", code, server.url("trickle"), str(dest)],
        cwd=Path(__file__).resolve().parent.parent,  # the checkout, whose helpers is under test
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 15
        while not (_partials(tmp_path) and _partials(tmp_path)[0].stat().st_size >= CHUNK_SIZE):
            assert proc.poll() is None, proc.communicate()[1].decode()
            assert time.monotonic() < deadline, "the download never started"
            time.sleep(0.02)
        proc.send_signal(signal.SIGINT)
        # Python runs the handler in the main thread; a signal the kernel hands to another thread (faiss has
        # one) waits for the stalled read to return, at the latest when the server hangs up after 10 s.
        _, stderr = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode != 0 and b"KeyboardInterrupt" in stderr
    [partial] = _partials(tmp_path)
    assert not dest.exists() and not (tmp_path / "downloading" / dest.name).exists()
    kept = partial.stat().st_size
    _assert_good_zip(download_zip([server.url("ok")], dest), archives)
    assert server.ranges("ok") == [None, f"bytes={kept}-"]  # gdown asks once, then resumes from the partial


def test_fetch_dataset_extracts_once(server, tmp_path):
    ds = _local_dataset(server.url("missing"), server.url("ok"))
    root = fetch_dataset(ds, cache=tmp_path)
    assert root == tmp_path / "datasets" / "local_test" / "extracted" / "reverse_image_search"
    assert len(list((root / "train" / "Afghan_hound").glob("*.JPEG"))) == TRAIN_PER_CLASS
    requests_made = server.total_requests
    assert fetch_dataset(ds, cache=tmp_path) == root
    assert server.total_requests == requests_made


def test_fetch_dataset_uses_the_cache_env(server, tmp_path, monkeypatch):
    monkeypatch.setenv(config.CACHE_ENV, str(tmp_path / "moved"))
    root = fetch_dataset(_local_dataset(server.url("ok")))
    assert root.is_relative_to(tmp_path / "moved")


def test_offline_returns_samples_without_network(server, tmp_path, monkeypatch):
    monkeypatch.setenv(config.OFFLINE_ENV, "1")
    assert fetch_dataset("reverse_image_search") == config.SAMPLES_DIR / "reverse_image_search"
    assert fetch_dataset("paintings") == config.SAMPLES_DIR / "paintings"
    cache = tmp_path / "cache"
    assert fetch_dataset(_local_dataset(server.url("ok")), cache=cache) == config.SAMPLES_DIR / "reverse_image_search"
    assert server.total_requests == 0 and not cache.exists()


def test_unknown_dataset_name():
    with pytest.raises(ValueError, match="reverse_image_search"):
        fetch_dataset("imagenet")


@pytest.mark.parametrize(
    ("evil", "lands_at"),
    [
        ("../evil.txt", "evil.txt"),
        ("sub/../../evil.txt", "sub/evil.txt"),
        ("/tmp/evil-image-search.txt", "tmp/evil-image-search.txt"),
        ("//server/share/evil.txt", "server/share/evil.txt"),
    ],
)
def test_zip_slip_lands_inside(tmp_path, evil, lands_at):
    archive = tmp_path / "evil.zip"
    archive.write_bytes(_zip({"ok/a.JPEG": _jpeg(1), evil: b"owned"}))
    out = extract_zip(archive, tmp_path / "out")
    assert (out / lands_at).read_bytes() == b"owned"
    assert sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*") if p.is_file()) == sorted(
        ["evil.zip", "out/ok/a.JPEG", f"out/{lands_at}"]
    )
    assert not Path("/tmp/evil-image-search.txt").exists()


def test_failed_extraction_leaves_nothing(tmp_path):
    archive = tmp_path / "broken.zip"
    archive.write_bytes(_corrupt(_zip(_dataset_members(), zipfile.ZIP_STORED)))
    with pytest.raises(zipfile.BadZipFile):
        extract_zip(archive, tmp_path / "out")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["broken.zip"]


@pytest.mark.parametrize(
    ("layout", "expected"),
    [
        ({"train": 9, "test": 2}, "train/ has 8 images, expected 9"),
        ({"train": 8, "val": None}, "no folder holding"),
    ],
)
def test_layout_mismatch_is_a_clear_error(server, tmp_path, layout, expected):
    with pytest.raises(DownloadError) as err:
        fetch_dataset(_local_dataset(server.url("ok"), layout=layout), cache=tmp_path)
    folder = tmp_path / "datasets" / "local_test"
    assert expected in str(err.value) and f"Delete {folder}" in str(err.value)
    assert not (folder / "extracted" / datasets.COMPLETE_MARKER).exists()
