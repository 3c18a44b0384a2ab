"""Downloading one file into the cache: from the first of several mirrors, resumed, retried, verified.

A download streams into `<name>.part` and is moved to its name only once verified (its sha256 when
recorded, for a .zip every member's CRC), so a file under its real name is always a whole one; a bad
file is deleted. Google Drive links go through gdown, which knows its confirmation pages.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
import time
import zipfile
import zlib
from collections.abc import Sequence
from pathlib import Path
from urllib.parse import urlparse

import requests
from tqdm.auto import tqdm

from . import config
from .errors import DownloadError

CHUNK_SIZE = 1 << 20
RETRY_BACKOFF_S = 1.0


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
    require_writable(dest.parent)
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
        + f"\nCheck the network, or set {config.OFFLINE_ENV}=1 to run the suite on the bundled samples. "
        + config.NO_NETWORK_HINT
    )


def require_writable(folder: Path) -> None:
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
