"""The datasets the notebooks use: where each comes from, what it must hold, and how it lands in the cache.

`fetch_dataset` keeps each archive in the cache (`config.cache_dir()`, moved by `IMAGE_SEARCH_CACHE`) as
`datasets/<name>/<filename>`, extracted beside it into `datasets/<name>/extracted/`. gdown fetches it from the
first mirror that works into `datasets/<name>/downloading/`, retrying a dropped or stalled transfer and resuming
it (with an HTTP Range request, in a later run too); only a zip whose every member's CRC checks out gets its name;
extraction goes through a temp folder, and a marker written last says it is complete. Offline
(`IMAGE_SEARCH_OFFLINE=1`) `fetch_dataset` returns the bundled samples instead, without the network.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
import zipfile
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import gdown
import requests
from tqdm.auto import tqdm

from . import config
from .errors import DownloadError, InputError
from .images import is_image_file

COMPLETE_MARKER = ".extraction-complete"
RETRIES = 3  # gdown's further tries per mirror; its waits between them (at most 1, 2, 4 s) keep a dead network brief
TIMEOUT_S = 30.0  # how long a silent server is waited for, for the answer and between bytes
BUSY_WAIT_S = 5.0  # before asking a server that answered 5xx once more (gdown retries only broken transfers)


@dataclass(frozen=True)
class Dataset:
    """One downloadable archive: where it comes from, and what its extracted root must hold."""

    name: str
    urls: tuple[str, ...]
    filename: str
    sample: str
    layout: dict[str, int | None]
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


def fetch_dataset(name: str | Dataset, cache: Path | None = None) -> Path:
    """Return the extracted root of a dataset (a registry name or a `Dataset`), downloading it once; offline, the
    bundled sample folder, without the network."""
    ds = name if isinstance(name, Dataset) else DATASETS.get(name)
    if ds is None:
        raise InputError(f"unknown dataset {name!r}; known: {', '.join(sorted(DATASETS))}")
    if config.is_offline():
        config.announce_offline()
        return config.SAMPLES_DIR / ds.sample
    folder = Path(cache or config.cache_dir()) / "datasets" / ds.name
    extracted = folder / "extracted"
    if not (extracted / COMPLETE_MARKER).is_file():
        _require_writable(folder)
        archive = folder / ds.filename
        if not archive.is_file():  # only a checked zip is ever moved to this name
            print(f"Downloading {ds.name}{f' ({ds.approx_size})' if ds.approx_size else ''} into {folder}")
            download_zip(ds.urls, archive)
        if extracted.exists():  # left by an earlier run that stopped before the marker
            shutil.rmtree(extracted)
        extract_zip(archive, extracted)
        _check_layout(_find_root(extracted, ds, folder), ds, folder)
        (extracted / COMPLETE_MARKER).write_text(f"{ds.name}\n", encoding="utf-8")
    return _find_root(extracted, ds, folder)


def download_zip(urls: Sequence[str], dest: Path, retries: int = RETRIES, timeout: float = TIMEOUT_S) -> Path:
    """Download the zip `dest` from the first mirror in `urls` that yields one whose every member checks out.

    gdown writes into `downloading/` beside `dest`, resuming what an earlier try left there; a checked zip is
    then moved to `dest`. A mirror that cannot be reached leaves its bytes for the next mirror or the next run;
    bytes that prove wrong are deleted, and that mirror is asked once more from the start.
    """
    staged = dest.parent / "downloading" / dest.name
    _require_writable(dest.parent)
    failures = []
    for url in urls:
        reason = _try_mirror(url, staged, retries, timeout)
        if reason is None:
            os.replace(staged, dest)
            shutil.rmtree(staged.parent)
            return dest
        failures.append(f"  - {url}: {reason}")
    raise DownloadError(f"Could not download {dest.name} into the cache folder {dest.parent}; every mirror failed:\n"
                        + "\n".join(failures) + f"\nCheck the network, or set {config.OFFLINE_ENV}=1 to run the suite "
                        f"on the bundled samples. {config.NO_NETWORK_HINT}")


def extract_zip(archive: Path, dest: Path) -> Path:
    """Extract `archive` into the new folder `dest` via a temp folder beside it, then rename it into place: an
    interrupted extraction leaves no `dest`. zipfile drops `..`, drive letters and leading slashes from member
    names, so no member lands outside it."""
    archive, dest = Path(archive), Path(dest)
    if dest.exists():
        raise FileExistsError(f"{dest} already exists; delete it to extract {archive.name} again")
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", suffix=".tmp", dir=dest.parent))
    try:
        with zipfile.ZipFile(archive) as zf:
            for member in tqdm(zf.infolist(), desc=f"Extracting {archive.name}", unit="file"):
                zf.extract(member, tmp)
        os.replace(tmp, dest)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return dest


def _require_writable(folder: Path) -> None:
    """Create `folder` and prove it writable, so a bad cache fails early with the fix in the message."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as exc:
        raise DownloadError(f"The download cache folder {folder} cannot be created or written ({exc}). "
                            f"Set {config.CACHE_ENV} to a writable folder to move the cache.") from exc


def _try_mirror(url: str, staged: Path, retries: int, timeout: float) -> str | None:
    """Fetch `staged` from `url` and check it: None when it is whole, else why not. A second try follows a server
    error (5xx), resuming, and wrong bytes (maybe an earlier try's), from nothing."""
    for _ in range(2):
        try:
            _gdown(url, staged, retries, timeout)
            with zipfile.ZipFile(staged) as zf:
                bad_member = zf.testzip()
            if bad_member is None:
                return None
            reason = f"corrupt zip archive: CRC check failed for {bad_member}"
        except (zipfile.BadZipFile, zlib.error, EOFError) as exc:
            reason = f"corrupt zip archive: {exc}"
        except (requests.RequestException, gdown.exceptions.DownloadError) as exc:
            reason, cause = str(exc), exc if isinstance(exc, requests.RequestException) else exc.__cause__
            if getattr(getattr(cause, "response", None), "status_code", 0) >= 500:
                time.sleep(BUSY_WAIT_S)
                continue  # gdown kept what it got
            if isinstance(cause, requests.RequestException):
                return reason  # refused, unreachable or cut off: gdown keeps what it got, to be resumed
        shutil.rmtree(staged.parent)
    return reason


def _gdown(url: str, output: Path, retries: int, timeout: float) -> None:
    """gdown `url` into `output`, quietly (a notebook shows stderr in red), with a bar once it has run a second."""
    output.parent.mkdir(exist_ok=True)
    with tqdm(desc=output.name, unit="B", unit_scale=True, unit_divisor=1024, delay=1) as bar:

        def show(done: int, total: int | None) -> None:
            if total != bar.total:
                bar.reset(total=total)
            bar.update(done - bar.n)

        gdown.download(url, str(output), quiet=True, resume=True, retries=retries, timeout=timeout, progress=show)


def _find_root(extracted: Path, ds: Dataset, folder: Path) -> Path:
    """The folder, at most 2 levels below `extracted`, that directly holds all of the layout's sub-folders."""
    for candidate in [extracted, *sorted(extracted.glob("*/")), *sorted(extracted.glob("*/*/"))]:  # folders only
        if all((candidate / sub).is_dir() for sub in ds.layout):
            return candidate
    found = sorted(p.name for p in extracted.iterdir())
    raise DownloadError(f"{ds.name}: no folder holding {sorted(ds.layout)} in {extracted} (top level has {found}). "
                        f"Delete {folder} to download it again.")


def _check_layout(root: Path, ds: Dataset, folder: Path) -> None:
    """Check each required sub-folder holds the expected number of images (or any, when unknown)."""
    problems = []
    for sub, expected in ds.layout.items():
        found = _count_images(root / sub)
        if (expected is None and found == 0) or (expected is not None and found != expected):
            wanted = "at least 1" if expected is None else str(expected)
            problems.append(f"{sub}/ has {found} images, expected {wanted}")
    if problems:
        raise DownloadError(f"{ds.name} in {root} does not look right: {'; '.join(problems)}. "
                            f"Delete {folder} to download it again.")


def _count_images(folder: Path) -> int:
    """Image files below `folder`, by extension, skipping hidden files such as macOS `._` forks."""
    return sum(is_image_file(path) and not path.name.startswith(".") and path.is_file() for path in folder.rglob("*"))
