"""The only files the demo page serves: small JPEG copies of the collection's images, in a private temporary folder."""

from __future__ import annotations

import hashlib
import tempfile
import threading
from pathlib import Path

from PIL import Image

from ..images import ImageError, load_rgb

THUMBNAIL_SIDE = 320


class Thumbnails:
    """Small JPEG copies of the collection's images in a private temporary folder: the only files the
    page shows, made once per image."""

    def __init__(self) -> None:
        self._folder = tempfile.TemporaryDirectory(prefix="image-search-app-")
        self._made: dict[str, str] = {}

    @property
    def folder(self) -> str:
        """The folder that holds them: the one folder the app serves."""
        return self._folder.name

    def of(self, path: str) -> str:
        """The thumbnail of the image at `path`; a grey square when it cannot be read any more."""
        if path in self._made:
            return self._made[path]
        target = Path(self._folder.name) / f"{hashlib.sha256(path.encode()).hexdigest()[:32]}.jpg"
        try:
            image = load_rgb(path)
        except ImageError:
            image = Image.new("RGB", (THUMBNAIL_SIDE, THUMBNAIL_SIDE), (200, 200, 200))
        image.thumbnail((THUMBNAIL_SIDE, THUMBNAIL_SIDE))
        partial = target.with_suffix(f".{threading.get_ident()}.part")  # two searches may show the same image
        image.save(partial, "JPEG", quality=85)
        partial.replace(target)
        self._made[path] = str(target)
        return str(target)
