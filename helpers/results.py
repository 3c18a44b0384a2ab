"""Reading what `MilvusClient.search` returns: each hit is a dict with `id`, `distance` and `entity`."""

from __future__ import annotations

import os
from pathlib import Path

PATH_FIELDS = ("filepath", "filename")  # the field that holds an image's path: notebooks 02/03, notebook 01


def hit_path(hit: dict) -> str:
    """The image path stored with a search hit (its `filepath` or `filename` field), or "" if it has none."""
    entity = hit.get("entity", {})
    return next((str(entity[key]) for key in PATH_FIELDS if key in entity), "")


def label_of(path: str | os.PathLike) -> str:
    """The label of an image: the name of its class folder, the ground truth in the datasets."""
    return Path(path).parent.name


def hit_label(hit: dict) -> str:
    """The label of a hit's image, a short caption in figures."""
    return label_of(hit_path(hit))
