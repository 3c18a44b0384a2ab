"""The datasets the notebooks use, and the code that downloads, verifies and extracts them.

Every archive lands in the cache (`config.cache_dir()`, moved by `IMAGE_SEARCH_CACHE`) as
`datasets/<name>/<filename>`, extracted next to it into `datasets/<name>/extracted/`. Nothing
there looks complete before it is: downloads stream into a `.part` file that is moved into place
only once verified, extraction goes through a temp folder, and a marker is written last.
Offline (`IMAGE_SEARCH_OFFLINE=1`) `fetch_dataset` returns the bundled samples instead.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import tempfile
import time
import zipfile
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

import requests
from tqdm.auto import tqdm

from . import config
from .errors import InputError

CHUNK_SIZE = 1 << 20
RETRY_BACKOFF_S = 1.0
IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".gif", ".webp", ".bmp"})
COMPLETE_MARKER = ".extraction-complete"


@dataclass(frozen=True)
class Dataset:
    """One downloadable archive: where it comes from, and what its extracted root must hold."""

    name: str
    urls: tuple[str, ...]
    filename: str
    sample: str
    layout: dict[str, int | None]
    sha256: str | None = None
    approx_size: str = ""


DATASETS: dict[str, Dataset] = {
    "reverse_image_search": Dataset(
        name="reverse_image_search",
        urls=(
            "https://github.com/milvus-io/pymilvus-assets/releases/download/imagedata/reverse_image_search.zip",
            "https://github.com/towhee-io/examples/releases/download/data/reverse_image_search.zip",
        ),
        filename="reverse_image_search.zip",
        sample="reverse_image_search",
        layout={"train": 1000, "test": 100},
    ),
    "paintings": Dataset(
        name="paintings",
        urls=("https://drive.google.com/uc?id=1OYDHLEy992qu5C4C8HV5uDIkOWRTAR1_",),
        filename="paintings.zip",
        sample="paintings",
        layout={"paintings": None, "test_paintings": None},
        approx_size="2.35 GB",
    ),
}


class DownloadError(RuntimeError):
    """A dataset could not be downloaded, verified or extracted; the message says how to fix it."""


class _MirrorFailed(Exception):
    """One mirror gave up (or gave a bad file); the download moves on to the next one."""


class _Retryable(Exception):
    """A transfer broke in a way worth retrying on the same mirror (short read, bad resume)."""


_TRANSIENT = (
    requests.ConnectionError,
    requests.Timeout,
    requests.exceptions.ChunkedEncodingError,
    requests.HTTPError,  # only 5xx get here: a 4xx fails the mirror at once
    _Retryable,
)


def fetch_dataset(name: str | Dataset, cache: Path | None = None) -> Path:
    """Return the extracted root of a dataset (a registry name or a `Dataset`), downloading it once.

    Offline, return the bundled sample folder instead and touch no network.
    """
    ds = name if isinstance(name, Dataset) else _lookup(name)
    if config.is_offline():
        config.announce_offline()
        return config.SAMPLES_DIR / ds.sample
    folder = Path(cache or config.cache_dir()) / "datasets" / ds.name
    extracted = folder / "extracted"
    if not (extracted / COMPLETE_MARKER).is_file():
        _writable_cache(folder)
        archive = folder / ds.filename
        if not archive.is_file():  # only a verified download is ever moved to this name
            size = f" ({ds.approx_size})" if ds.approx_size else ""
            print(f"Downloading {ds.name}{size} into {folder}")
            download_file(ds.urls, archive, ds.sha256)
        if extracted.exists():  # left by an earlier run that stopped before the marker
            shutil.rmtree(extracted)
        extract_zip(archive, extracted)
        _check_layout(_find_root(extracted, ds, folder), ds, folder)
        (extracted / COMPLETE_MARKER).write_text(f"{ds.name}\n", encoding="utf-8")
    return _find_root(extracted, ds, folder)


def download_file(
    urls: Sequence[str],
    dest: Path,
    sha256: str | None = None,
    retries: int = 3,
    timeout: float = 30.0,
) -> Path:
    """Download `dest` from the first mirror in `urls` that yields a verified file.

    Each mirror streams into `<dest>.part` (resumed where possible) and is moved into place only
    after verification; a mirror that fails or yields a bad file is recorded and skipped.
    """
    dest = Path(dest)
    _writable_cache(dest.parent)
    part = dest.with_suffix(dest.suffix + ".part")
    failures = []
    for url in urls:
        try:
            _fetch_verified(url, part, dest.suffix, sha256, retries, timeout)
        except (_MirrorFailed, OSError) as exc:  # requests' errors are OSErrors too
            failures.append(f"  - {url}: {exc}")
            part.unlink(missing_ok=True)
            continue
        os.replace(part, dest)
        return dest
    raise DownloadError(
        f"Could not download {dest.name} into the cache folder {dest.parent}; every mirror failed:\n"
        + "\n".join(failures)
        + f"\nCheck the network, or set {config.OFFLINE_ENV}=1 to run the suite on the bundled samples."
    )


def extract_zip(archive: Path, dest: Path) -> Path:
    """Extract `archive` into the new folder `dest` via a temp folder beside it, then rename it into place.

    An interrupted extraction leaves no `dest`; members that would land outside it are refused.
    """
    archive, dest = Path(archive), Path(dest)
    if dest.exists():
        raise FileExistsError(f"{dest} already exists; delete it to extract {archive.name} again")
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", suffix=".tmp", dir=dest.parent))
    try:
        with zipfile.ZipFile(archive) as zf:
            _reject_zip_slip(zf, tmp, archive)
            for member in tqdm(zf.infolist(), desc=f"Extracting {archive.name}", unit="file"):
                zf.extract(member, tmp)
        os.replace(tmp, dest)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return dest


def _lookup(name: str) -> Dataset:
    """The registry entry for `name`, or a ValueError listing the known names."""
    try:
        return DATASETS[name]
    except KeyError:
        raise InputError(f"unknown dataset {name!r}; known: {', '.join(sorted(DATASETS))}") from None


def _writable_cache(folder: Path) -> None:
    """Create `folder` and prove it writable, so a bad cache fails early with the fix in the message."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as exc:
        raise DownloadError(
            f"The download cache folder {folder} cannot be created or written ({exc}). "
            f"Set {config.CACHE_ENV} to a writable folder to move the cache."
        ) from exc


def _fetch_verified(url: str, part: Path, suffix: str, sha256: str | None, retries: int, timeout: float) -> None:
    """Fetch `url` into `part` and verify it; a bad result built on a leftover `part` gets one fresh try."""
    resumed = part.exists()
    try:
        _fetch(url, part, retries, timeout)
        _verify(part, suffix, sha256)
    except _MirrorFailed:
        if not resumed:
            raise
        part.unlink(missing_ok=True)  # the leftover may come from another mirror or another file
        _fetch(url, part, retries, timeout)
        _verify(part, suffix, sha256)


def _fetch(url: str, part: Path, retries: int, timeout: float) -> None:
    """Fetch `url` into `part`, through gdown for Google Drive and plain HTTP otherwise."""
    if _is_google_drive(url):
        _gdown(url, part)
    else:
        _http_download(url, part, retries, timeout)


def _is_google_drive(url: str) -> bool:
    """True for Google Drive links, which need gdown (confirmation pages, cookies)."""
    return urlparse(url).hostname == "drive.google.com"


def _gdown(url: str, part: Path) -> None:
    """Fetch a Google Drive file into `part` with gdown, which resumes its own partial files."""
    import gdown  # only needed for Google Drive mirrors

    try:
        result = gdown.download(url, output=str(part), quiet=False, resume=True)
    except Exception as exc:  # gdown's error classes differ between its versions
        raise _MirrorFailed(f"gdown failed: {exc}") from exc
    if result is None or not part.is_file():  # older gdown versions return None on failure
        raise _MirrorFailed("gdown could not retrieve the file (is it still shared publicly?)")


def _http_download(url: str, part: Path, retries: int, timeout: float) -> None:
    """Stream `url` into `part`, retrying dropped, short or stalled transfers with backoff."""
    attempts = max(1, retries)
    for attempt in range(1, attempts + 1):
        try:
            _stream_once(url, part, timeout)
            return
        except _TRANSIENT as exc:
            last = exc
        if attempt < attempts:
            time.sleep(RETRY_BACKOFF_S * 2 ** (attempt - 1))
    raise _MirrorFailed(f"gave up after {attempts} attempts, last error: {last}")


def _stream_once(url: str, part: Path, timeout: float) -> None:
    """One GET of `url` into `part`: resume with Range if `part` has bytes, restart if the server says 200."""
    offset = part.stat().st_size if part.exists() else 0
    headers = {"Accept-Encoding": "identity"}
    if offset:
        headers["Range"] = f"bytes={offset}-"
    with requests.get(url, headers=headers, stream=True, timeout=timeout) as resp:
        if resp.status_code == 416:  # the partial file does not fit what the server has
            part.unlink()
            raise _Retryable("server refused to resume the partial file; restarting")
        if 400 <= resp.status_code < 500:
            raise _MirrorFailed(f"HTTP {resp.status_code} {resp.reason}")
        resp.raise_for_status()
        if resp.status_code == 206:
            start, total = _content_range(resp.headers.get("Content-Range", ""))
            if start != offset:
                part.unlink()
                raise _Retryable(f"server resumed at byte {start}, not {offset}; restarting")
            mode = "ab"
        else:
            offset, mode = 0, "wb"
            length = resp.headers.get("Content-Length")
            total = int(length) if length is not None else None
        with open(part, mode) as fh, tqdm(
            total=total, initial=offset, unit="B", unit_scale=True, unit_divisor=1024, desc=part.stem
        ) as bar:
            for chunk in resp.iter_content(CHUNK_SIZE):
                fh.write(chunk)
                bar.update(len(chunk))
    size = part.stat().st_size
    if total is not None and size != total:
        raise _Retryable(f"short read: {size} of {total} bytes")


def _content_range(header: str) -> tuple[int, int | None]:
    """Parse `bytes START-END/TOTAL` into (START, TOTAL); TOTAL is None when the server sends `*`."""
    match = re.fullmatch(r"bytes (\d+)-\d+/(\d+|\*)", header.strip())
    if match is None:
        raise _Retryable(f"unreadable Content-Range {header!r}")
    return int(match[1]), None if match[2] == "*" else int(match[2])


def _verify(part: Path, suffix: str, sha256: str | None) -> None:
    """Check the finished `part` (its sha256 when recorded; for a .zip, every member's CRC) before it is used."""
    if sha256 is not None:
        digest = _sha256(part)
        if digest != sha256.lower():
            raise _MirrorFailed(f"sha256 mismatch: expected {sha256}, got {digest}")
    if suffix.lower() == ".zip":
        try:
            with zipfile.ZipFile(part) as zf:
                bad = zf.testzip()
        except (zipfile.BadZipFile, zlib.error, EOFError) as exc:
            raise _MirrorFailed(f"corrupt zip archive: {exc}") from exc
        if bad is not None:
            raise _MirrorFailed(f"corrupt zip archive: CRC check failed for {bad}")


def _sha256(path: Path) -> str:
    """Hex sha256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(CHUNK_SIZE), b""):
            digest.update(block)
    return digest.hexdigest()


def _reject_zip_slip(zf: zipfile.ZipFile, into: Path, archive: Path) -> None:
    """Refuse the whole archive if any member path would land outside `into` (zip slip)."""
    root = into.resolve()
    for name in zf.namelist():
        if not (root / name).resolve().is_relative_to(root):
            raise DownloadError(f"Refusing to extract {archive}: member {name!r} would land outside {root}")


def _find_root(extracted: Path, ds: Dataset, folder: Path) -> Path:
    """The folder, at most 2 levels below `extracted`, that directly holds all of the layout's sub-folders."""
    levels = [[extracted]]
    for _ in range(2):
        levels.append(sorted(child for parent in levels[-1] for child in parent.iterdir() if child.is_dir()))
    for candidate in (path for level in levels for path in level):
        if all((candidate / sub).is_dir() for sub in ds.layout):
            return candidate
    found = sorted(p.name for p in extracted.iterdir())
    raise DownloadError(
        f"{ds.name}: no folder holding {sorted(ds.layout)} in {extracted} (top level has {found}). "
        f"Delete {folder} to download it again."
    )


def _check_layout(root: Path, ds: Dataset, folder: Path) -> None:
    """Check each required sub-folder holds the expected number of images (or any, when unknown)."""
    problems = []
    for sub, expected in ds.layout.items():
        found = _count_images(root / sub)
        if (expected is None and found == 0) or (expected is not None and found != expected):
            wanted = "at least 1" if expected is None else str(expected)
            problems.append(f"{sub}/ has {found} images, expected {wanted}")
    if problems:
        raise DownloadError(
            f"{ds.name} in {root} does not look right: {'; '.join(problems)}. "
            f"Delete {folder} to download it again."
        )


def _count_images(folder: Path) -> int:
    """Image files below `folder`, by extension, skipping hidden files such as macOS `._` forks."""
    return sum(
        1
        for path in folder.rglob("*")
        if path.suffix.lower() in IMAGE_SUFFIXES and not path.name.startswith(".") and path.is_file()
    )
