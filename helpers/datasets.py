"""The datasets the notebooks use: where each comes from, what it must hold, and how it is extracted.

Every archive lands in the cache (`config.cache_dir()`, moved by `IMAGE_SEARCH_CACHE`) as
`datasets/<name>/<filename>`, extracted next to it into `datasets/<name>/extracted/`. Nothing
there looks complete before it is: downloads stream into a `.part` file that is moved into place
only once verified (`helpers.download`), extraction goes through a temp folder, and a marker is
written last.
Offline (`IMAGE_SEARCH_OFFLINE=1`) `fetch_dataset` returns the bundled samples instead.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

from tqdm.auto import tqdm

from . import config
from .download import download_file, require_writable
from .errors import DownloadError, InputError
from .images import is_image_file

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
        require_writable(folder)
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
    """The registry entry for `name`; an `InputError` listing the known names for any other."""
    try:
        return DATASETS[name]
    except KeyError:
        raise InputError(f"unknown dataset {name!r}; known: {', '.join(sorted(DATASETS))}") from None


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
        if is_image_file(path) and not path.name.startswith(".") and path.is_file()
    )
