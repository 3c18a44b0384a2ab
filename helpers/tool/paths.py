"""What the demo page's API tells about where an image lives: its path below the folder `index` was given, else its
file name, never the folders above (the organiser's user name, the machine's layout) unless the organiser asks.

`python -m helpers index FOLDER` records FOLDER (absolute) in the collection's properties; the page reads it.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from pymilvus import MilvusClient

FOLDERS_PROPERTY = "image_search.folders"  # a JSON list of the absolute folders `index` was given


def indexed_folders(client: MilvusClient, name: str) -> list[str]:
    """The folders `index` indexed into collection `name`, deepest first (none for a collection made elsewhere)."""
    recorded = client.describe_collection(name).get("properties", {}).get(FOLDERS_PROPERTY)
    try:
        folders = json.loads(recorded) if recorded else []
    except json.JSONDecodeError:
        folders = []
    return sorted((str(folder) for folder in folders), key=lambda folder: -len(Path(folder).parts))


def record_folder(client: MilvusClient, name: str, folder: str | os.PathLike, *, replace: bool = False) -> None:
    """Add `folder` to the folders recorded in collection `name` (`replace`: it becomes the only one)."""
    folder = os.path.abspath(folder)
    folders = [] if replace else indexed_folders(client, name)
    if folder not in folders:
        client.alter_collection_properties(name, properties={FOLDERS_PROPERTY: json.dumps(sorted([*folders, folder]))})


def shown_path(path: str, folders: list[str]) -> str:
    """`path` below the deepest of `folders` that holds it (as a/b.jpg, with forward slashes), else its file name."""
    for folder in folders:
        if Path(path).is_relative_to(folder):
            return Path(path).relative_to(folder).as_posix()
    return Path(path).name
