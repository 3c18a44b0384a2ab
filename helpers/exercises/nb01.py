"""Notebook 01's exercises: a filtered count, a search with another limit, the nearest photo to a photo.
This module judges the answers; each exercise's title, task, hint and solved cell are in nb01.toml beside it."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

import numpy as np

from ..images import labelled_images
from ..results import label_of
from .core import (Exercise, NotYet, count_of, entity_field, exact_nearest, hits_of, lesson_value, same_count,
                   same_neighbours)

NOTEBOOK = "01_reverse_image_search.ipynb"
TEXTS = "nb01.toml"
CLASS = "Afghan_hound"


def _count_one_class(lesson: Mapping[str, Any], counted: Any) -> str:
    client, collection = lesson_value(lesson, "client"), lesson_value(lesson, "COLLECTION")
    number = count_of(counted, "afghan_count")
    expected = sum(label == CLASS for _, label in labelled_images(Path(lesson_value(lesson, "data_root")) / "train"))
    same_count(client, collection, number, expected,
               every_row=f"{number} is every photo in the collection: your filter kept them all. "
                         f"Match the class folder's name anywhere in the path: filename like \"%{CLASS}%\".",
               no_row="no row matched: `filename` holds the whole path (.../train/Afghan_hound/n0....JPEG), so "
                      "`like` needs `%` on both sides of the folder name, and `==` matches only a whole path.",
               other=f"{number} rows, but the gallery holds {expected} photos in train/{CLASS}/: does your pattern "
                     "match other folders too, or only part of this one?")
    return f"{number} Afghan hounds in the collection, counted by Milvus."


q1 = Exercise("q1", ("afghan_count",), _count_one_class, TEXTS)


def _five_hits_and_classes(lesson: Mapping[str, Any], hits5: Any, classes5: Any) -> str:
    client, collection = lesson_value(lesson, "client"), lesson_value(lesson, "COLLECTION")
    hits = hits_of(hits5, "hits5")
    vector = lesson_value(lesson, "encoder").embed_image(lesson_value(lesson, "query"))
    same_neighbours(hits, *exact_nearest(client, collection, "vector", vector, 5, "COSINE"), "hits5",
                    "nearest photos to the query photo")
    truth = [label_of(entity_field(hit, "filename", "hits5")) for hit in hits]
    if isinstance(classes5, str) or len(classes5) != len(truth):
        raise NotYet(f"`classes5` should hold one class name for each of your {len(truth)} hits.")
    if list(classes5) != truth:
        rank = next(rank for rank, (theirs, right) in enumerate(zip(classes5, truth), 1) if theirs != right)
        raise NotYet(f"hit {rank} is in the folder {truth[rank - 1]!r}, your list says {classes5[rank - 1]!r}: "
                     "the class is the name of the folder a hit's `filename` is in (label_of).")
    return f"the 5 nearest photos, of the classes {', '.join(truth)}."


q2 = Exercise("q2", ("hits5", "classes5"), _five_hits_and_classes, TEXTS)


def _nearest_other_photo(lesson: Mapping[str, Any], photo: Any, nearest: Any) -> str:
    client, collection = lesson_value(lesson, "client"), lesson_value(lesson, "COLLECTION")
    nearest = entity_field(nearest, "filename", "nearest") if isinstance(nearest, Mapping) else nearest
    rows = client.query(collection_name=collection, filter="", output_fields=["filename", "vector"], limit=16384)
    by_path = {str(row["filename"]): row for row in rows}
    if str(photo) not in by_path:
        raise NotYet(f"`photo` ({photo}) is not the `filename` of a row in the collection: pick a gallery photo.")
    if str(nearest) == str(photo):
        raise NotYet("that is `photo` itself (similarity 1.000): leave it out, with a filter on `filename` or "
                     "by asking for 2 hits and dropping it.")
    if str(nearest) not in by_path:
        raise NotYet(f"no row of the collection has the filename {nearest!r}: give a hit's `filename`.")
    own = by_path[str(photo)]
    ids, scores = exact_nearest(client, collection, "vector", own["vector"], 1, "COSINE",
                                exclude=tuple(row["id"] for row in rows if row["filename"] == own["filename"]))
    yours = _cosine(by_path[str(nearest)]["vector"], own["vector"])
    best = next(row["filename"] for row in rows if row["id"] == ids[0])
    if yours < scores[0] - 1e-4:
        raise NotYet(f"{Path(nearest).name} has similarity {yours:.3f} to `photo`, but {Path(best).name} has "
                     f"{scores[0]:.3f}: the nearest hit of a search with `photo`'s vector is the answer.")
    return f"{Path(nearest).name}, similarity {yours:.3f} to {Path(photo).name}."


def _cosine(a: Any, b: Any) -> float:
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


q3 = Exercise("q3", ("photo", "nearest"), _nearest_other_photo, TEXTS)

EXERCISES = [q1, q2, q3]
