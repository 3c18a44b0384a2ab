"""Finding and decoding images: any mode to upright RGB, with a reason for every file that fails. Readers point
the suite at their own folders, so every decoder problem becomes an `ImageError` with a sentence a person can
act on, and the walk over a folder never hangs or stops early.
"""

from __future__ import annotations

import functools
import inspect
import os
import re
import warnings
from collections import defaultdict
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import pillow_heif
from PIL import Image, ImageFile, ImageOps, UnidentifiedImageError

from .errors import InputError
from .results import label_of

SKIPPED_LISTED = 20  # up to this many skipped files are listed one by one; more are counted by reason
SKIPPED_SHOWN = 3  # ... with the first few of each reason

ImageSource = str | os.PathLike | Image.Image


class ImageError(InputError):
    """An image that cannot be used, with the reason in words."""


@functools.cache
def image_extensions() -> frozenset[str]:
    """The lower-case file name extensions of every format Pillow decodes, HEIC/HEIF included (pillow-heif): not
    those it can only write (PDF), only recognise (MPEG video) or only hand to a plug-in of yours (HDF5, GRIB)."""
    _register_heif()

    def decodes(kind: str) -> bool:
        opener = Image.OPEN.get(kind, (None,))[0]
        stub = inspect.isclass(opener) and issubclass(opener, ImageFile.StubImageFile)
        return opener is not None and not stub and not Image.MIME.get(kind, "").startswith("video/")
    return frozenset(ext.lower() for ext, kind in Image.registered_extensions().items() if decodes(kind))


def is_image_file(path: str | os.PathLike) -> bool:
    """True for a file name with the extension of a format Pillow decodes, whatever its case."""
    return Path(path).suffix.lower() in image_extensions()


def _walk(folder: Path) -> Iterator[Path]:
    """Every file below `folder`, following links to folders but never the same folder twice."""
    seen: set[str] = set()
    for root, dirs, files in os.walk(folder, followlinks=True):
        real = os.path.realpath(root)
        if real in seen:
            dirs[:] = []
            continue
        seen.add(real)
        dirs.sort()
        for name in sorted(files):
            yield Path(root) / name


def find_images(folder: str | os.PathLike) -> list[Path]:
    """All image files below `folder`, recursively, sorted; other files are ignored."""
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError(f"{folder} is not a folder: pass a folder that holds images.")
    return [path for path in _walk(folder) if is_image_file(path)]


def not_images(folder: str | os.PathLike) -> list[tuple[Path, str]]:
    """The files below `folder` that `find_images` leaves out, each with the reason."""
    return [(path, f"not an image ({f'Pillow reads no {path.suffix} files' if path.suffix else 'no extension'})")
            for path in _walk(Path(folder)) if not is_image_file(path)]


def describe_skipped(skipped: Sequence[tuple[str, str]]) -> list[str]:
    """Lines that say which files were skipped and why: each one, or, for more than `SKIPPED_LISTED`, the count
    of each reason with its first `SKIPPED_SHOWN` files."""
    if not skipped:
        return []
    lines = [f"Skipped {len(skipped)} file{'s' if len(skipped) > 1 else ''}:"]
    if len(skipped) <= SKIPPED_LISTED:
        return lines + [f"  {_with_path(path, reason)}" for path, reason in skipped]
    by_reason: dict[str, list[str]] = defaultdict(list)
    for path, reason in skipped:
        by_reason[_kind(path, reason)].append(_with_path(path, reason))
    for kind, files in sorted(by_reason.items(), key=lambda item: -len(item[1])):
        lines.append(f"  {len(files)} {kind}, for example:")
        lines += [f"    {line}" for line in files[:SKIPPED_SHOWN]]
        lines += [f"    ... and {len(files) - SKIPPED_SHOWN} more"] if len(files) > SKIPPED_SHOWN else []
    return lines


def _with_path(path: str, reason: str) -> str:
    return reason if reason.startswith(str(path)) else f"{path}: {reason}"


def _kind(path: str, reason: str) -> str:
    """The reason without its file and its details: "not an image", "empty file", "too large to decode safely"."""
    return re.split(r" \(|, ", reason.removeprefix(f"{path}: "), maxsplit=1)[0]


def labelled_images(folder: str | os.PathLike) -> list[tuple[Path, str]]:
    """Images in class folders below `folder`, with their label (`results.label_of`: the folder an image is in, so
    `cats/indoor/1.jpg` is `indoor`); images directly in `folder` have no class and are left out. `InputError` if
    `folder` is not a folder."""
    folder = Path(folder)
    return [(path, label_of(path)) for path in find_images(folder) if path.parent != folder]


def _to_8bit(image: Image.Image) -> Image.Image:
    """Scale 16-bit and 32-bit grey images to 8 bits instead of clipping them to white."""
    array = np.asarray(image, dtype=np.float64)
    top = array.max() if image.mode == "F" else 65535.0  # floats: their own range; integers: 16 bits
    return Image.fromarray(np.clip(np.rint(array / top * 255.0 if top > 0 else array), 0, 255).astype(np.uint8), "L")


def _to_rgb(image: Image.Image) -> Image.Image:
    """Convert any Pillow mode to RGB; transparency is laid over white."""
    if image.mode in {"RGBA", "LA", "PA", "RGBa", "La"} or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        return Image.alpha_composite(Image.new("RGBA", rgba.size, "white"), rgba).convert("RGB")
    if image.mode.startswith("I") or image.mode == "F":
        image = _to_8bit(image)
    return image if image.mode == "RGB" else image.convert("RGB")


def load_rgb(source: ImageSource) -> Image.Image:
    """Decode a path or PIL image to an upright RGB image, or raise `ImageError` saying why not. A file is decoded
    in full, as a PIL image given directly is, so one image gets one vector whichever way it arrives."""
    if isinstance(source, Image.Image):
        return _to_rgb(ImageOps.exif_transpose(source))
    path = Path(source)
    if not path.is_file():
        raise ImageError(f"{path}: no such file")
    _register_heif()
    try:
        if path.stat().st_size == 0:
            raise ImageError(f"{path}: empty file (0 bytes)")
        # Pillow refuses a file of over twice its limit and only warns about one over the limit; the
        # limit is checked here, since warning filters are process-wide and threads decode side by side.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = Image.open(path)
        with image:
            pixels, limit = image.width * image.height, Image.MAX_IMAGE_PIXELS
            if limit and pixels > limit:
                raise ImageError(f"{path}: too large to decode safely ({image.width}x{image.height} = {pixels} "
                                 f"pixels, over PIL.Image.MAX_IMAGE_PIXELS = {limit}; raise it for files you trust)")
            image.load()
            return _to_rgb(ImageOps.exif_transpose(image))
    except ImageError:
        raise
    except Image.DecompressionBombError as error:  # over twice the limit: Image.open refuses it itself
        raise ImageError(f"{path}: too large to decode safely ({error})") from None
    except UnidentifiedImageError:
        raise ImageError(f"{path}: not an image Pillow can read (wrong extension or not an image)") from None
    except (OSError, SyntaxError, ValueError) as error:
        raise ImageError(f"{path}: cannot be decoded, the file is corrupt or truncated ({error})") from None


@functools.cache
def _register_heif() -> None:
    """Teach Pillow HEIC/HEIF (what iPhones save), once, when it is first needed rather than on import."""
    pillow_heif.register_heif_opener()
