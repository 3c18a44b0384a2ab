"""Notebook 04's exercises: a range search that finds a copy's original, a count of one album folder after the
sync, one hit per class with group_by_field.
This module judges the answers; each exercise's title, task, hint and solved cell are in nb04.toml beside it."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from ..images import find_images
from .core import Exercise, NotYet, count_of, entity_field, hits_of, lesson_value, same_count

NOTEBOOK = "04_photo_library.ipynb"
TEXTS = "nb04.toml"
NEAREST_CLASSES = 5  # q3's number of classes, as its task and solved cell in nb04.toml say
TOLERANCE = 1e-4  # float32 similarities: a row this close to a bound may be in or out


def _rows_and_similarities(lesson: Mapping[str, Any], vector: Any = None, filepath: Any = None) -> tuple[list[dict], np.ndarray]:
    """Every row of the lesson's collection and its cosine similarity, computed here with numpy, to `vector` or
    to the stored vector of the row whose filepath is `filepath`."""
    rows = lesson_value(lesson, "client").query(collection_name=lesson_value(lesson, "COLLECTION"), filter="",
                                                output_fields=["filepath", "label", "original", "vector"], limit=16384)
    stored = np.asarray([row["vector"] for row in rows], dtype=np.float64)
    if filepath is not None:
        vector = next((row["vector"] for row in rows if row["filepath"] == str(filepath)), None)
        if vector is None:
            raise NotYet(f"no row of the collection has the filepath {str(filepath)!r}: `my_copy` should be one of "
                         "`copy_paths`.")
    query = np.asarray(vector, dtype=np.float64)
    return rows, stored @ query / (np.linalg.norm(stored, axis=1) * np.linalg.norm(query))


def _copy_and_original(lesson: Mapping[str, Any], my_copy: Any, near: Any, my_original: Any) -> str:
    threshold = float(lesson_value(lesson, "threshold"))
    hits = hits_of(near, "near")
    rows, similarities = _rows_and_similarities(lesson, filepath=my_copy)
    similarity = {row["id"]: float(score) for row, score in zip(rows, similarities)}
    itself = {row["id"] for row in rows if row["filepath"] == str(my_copy)}
    theirs = {hit["id"] for hit in hits} - itself  # the copy's own row is at 1.0, in or out of range by a rounding
    if theirs - similarity.keys():
        raise NotYet("some of your hits are not rows of the collection COLLECTION: search that collection.")
    in_range = {row for row, score in similarity.items() if threshold + TOLERANCE < score <= 1 + TOLERANCE} - itself
    either = {row for row, score in similarity.items() if abs(score - threshold) <= TOLERANCE}
    below = sorted(similarity[row] for row in theirs - in_range - either)
    if below:
        raise NotYet(f"{len(below)} of your {len(hits)} hits have a similarity to `my_copy` of {threshold:.2f} or "
                     f"less (the lowest {below[0]:.3f}): a range search keeps only radius < similarity <= range_filter, "
                     "so put \"radius\": threshold and \"range_filter\": 1.0 in search_params[\"params\"].")
    missing = in_range - theirs
    if missing:
        raise NotYet(f"{len(in_range)} rows besides `my_copy` have a similarity in ({threshold:.2f}, 1.0], your hits "
                     f"miss {len(missing)} of them: a range search still returns at most `limit` hits; raise it (50).")
    original = next(row["original"] for row in rows if row["filepath"] == str(my_copy))
    answer = str(entity_field(my_original, "filepath", "my_original") if isinstance(my_original, Mapping) else my_original)
    if answer == str(my_copy):
        raise NotYet("`my_original` is `my_copy` itself: its original is another hit, the gallery photo it was made from.")
    if answer != original:
        siblings = {row["filepath"] for row in rows if row["original"] == original and row["filepath"] != original}
        if answer in siblings:
            raise NotYet(f"{Path(answer).name} is another copy of the same photo: the original is the hit that is a "
                         "gallery photo, not a copy (not a key of `copies`).")
        raise NotYet(f"{Path(answer).name} is not the photo `my_copy` was made from: among your hits, the original is "
                     "the gallery photo (not a key of `copies`) most similar to the copy.")
    score = next(float(value) for row, value in zip(rows, similarities) if row["filepath"] == original)
    return (f"the {len(theirs)} rows in ({threshold:.2f}, 1.0] besides the copy, no more, no fewer; its original "
            f"{Path(original).name} has similarity {score:.3f}.")


q1 = Exercise("q1", ("my_copy", "near", "my_original"), _copy_and_original, TEXTS)


def _one_folder_after_sync(lesson: Mapping[str, Any], my_class: Any, class_count: Any) -> str:
    client, collection = lesson_value(lesson, "client"), lesson_value(lesson, "ALBUM_COLLECTION")
    folder = Path(lesson_value(lesson, "ALBUM")) / str(my_class)
    if not isinstance(my_class, str) or not folder.is_dir():
        raise NotYet(f"{my_class!r} is not a class folder of the album: pick one of `classes`.")
    number = count_of(class_count, "class_count")
    expected = len(find_images(folder))
    same_count(client, collection, number, expected,
               every_row=f"{number} is every row of the album: your filter kept them all. Match the paths that "
                         f"start with the folder: path like \"{my_class}/%\".",
               no_row=f"no row matched: `path` is the file's path in the album ({my_class}/n0....JPEG), so `like` "
                      "needs `%` after the folder's name, and `==` matches only a whole path.",
               other=f"{number} rows, but the album's {my_class}/ folder holds {expected} photos now: did you count "
                     "the right collection (ALBUM_COLLECTION), with a pattern that matches only this folder?")
    return f"{number} rows for the {expected} photos now in the album's {my_class}/ folder, counted by Milvus."


q2 = Exercise("q2", ("my_class", "class_count"), _one_folder_after_sync, TEXTS)


def _one_hit_per_class(lesson: Mapping[str, Any], one_per_class: Any) -> str:
    hits = hits_of(one_per_class, "one_per_class")
    labels = [entity_field(hit, "label", "one_per_class") for hit in hits]
    label, times = Counter(labels).most_common(1)[0] if labels else ("", 0)
    if times > 1:
        raise NotYet(f"your {len(hits)} hits hold only {len(set(labels))} class(es) ({label} {times} times): "
                     "group_by_field=\"label\" returns one hit per class.")
    if not hits or len(hits) > NEAREST_CLASSES:
        raise NotYet(_how_many(hits))
    rows, similarities = _rows_and_similarities(lesson, vector=lesson_value(lesson, "queries").vectors[0])
    similarity = {row["id"]: float(score) for row, score in zip(rows, similarities)}
    if any(abs(similarity.get(hit["id"], np.inf) - float(hit["distance"])) > 1e-3 for hit in hits):
        raise NotYet("your hits' similarities are not those of the rows to the first query photo: search "
                     "COLLECTION with data=[queries.vectors[0]].")
    best: dict[str, float] = {}
    for row, score in zip(rows, similarities):
        best[row["label"]] = max(best.get(row["label"], -np.inf), float(score))
    ranking = sorted(best, key=best.get, reverse=True)
    for place, (hit, label) in enumerate(zip(hits, labels)):
        if float(hit["distance"]) < best[label] - TOLERANCE:
            raise NotYet(f"hit {place + 1} ({label}) has similarity {hit['distance']:.3f}, but the best photo of "
                         f"{label} has {best[label]:.3f}: one hit per class is the best of each class.")
        if best[ranking[place]] > best[label] + TOLERANCE:
            raise NotYet(f"hit {place + 1} is of {label} ({best[label]:.3f}), but {ranking[place]} has a nearer photo "
                         f"({best[ranking[place]]:.3f}): the classes come in the order of their best photo.")
    # Milvus Lite groups the 10 x limit nearest rows, so it may return fewer groups than `limit`; a server returns all.
    nearest = [rows[i]["label"] for i in np.argsort(-similarities, kind="stable")[:10 * NEAREST_CLASSES]]
    if len(hits) < min(NEAREST_CLASSES, len(set(nearest))):
        raise NotYet(_how_many(hits))
    fewer = (f" (Milvus Lite groups the {10 * NEAREST_CLASSES} nearest rows, and they hold {len(hits)} classes)"
             if len(hits) < NEAREST_CLASSES else "")
    return f"one hit per class, the best of each, for the nearest classes {', '.join(labels)}{fewer}."


def _how_many(hits: list) -> str:
    return (f"`one_per_class` has {len(hits)} hits; the exercise asks for the {NEAREST_CLASSES} nearest classes: "
            f"with group_by_field, `limit` counts groups, limit={NEAREST_CLASSES}.")


q3 = Exercise("q3", ("one_per_class",), _one_hit_per_class, TEXTS)

EXERCISES = [q1, q2, q3]
