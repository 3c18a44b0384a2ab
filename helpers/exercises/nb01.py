"""Notebook 01's exercises: a filtered count, a search with another limit, the nearest photo to a photo."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

import numpy as np

from ..images import labelled_images
from ..results import label_of
from .core import Exercise, NotYet, count_of, entity_field, exact_nearest, hits_of, lesson_value, same_neighbours

NOTEBOOK = "01_reverse_image_search.ipynb"
CLASS = "Afghan_hound"


def _count_one_class(lesson: Mapping[str, Any], counted: Any) -> str:
    client, collection = lesson_value(lesson, "client"), lesson_value(lesson, "COLLECTION")
    number = count_of(counted, "afghan_count")
    expected = sum(label == CLASS for _, label in labelled_images(Path(lesson_value(lesson, "data_root")) / "train"))
    everything = client.query(collection_name=collection, filter="", output_fields=["count(*)"])[0]["count(*)"]
    if number == expected:
        return f"{number} Afghan hounds in the collection, counted by Milvus."
    if number == everything:
        raise NotYet(f"{number} is every photo in the collection: your filter kept them all. "
                     f"Match the class folder's name anywhere in the path: filename like \"%{CLASS}%\".")
    if number == 0:
        raise NotYet("no row matched: `filename` holds the whole path (.../train/Afghan_hound/n0....JPEG), so "
                     "`like` needs `%` on both sides of the folder name, and `==` matches only a whole path.")
    raise NotYet(f"{number} rows, but the gallery holds {expected} photos in train/{CLASS}/: does your pattern "
                 "match other folders too, or only part of this one?")


q1 = Exercise(
    name="q1", title="Count one class with a filter",
    task="Count the gallery's Afghan hounds with one `client.query`: a `filter` on `filename` and `count(*)`.",
    answers=("afghan_count",), judge=_count_one_class,
    hint_text='The class is the folder in each path: filter=\'filename like "%Afghan_hound%"\' matches it '
              '(`%` stands for any characters), and output_fields=["count(*)"] asks for the count.',
    solution_code='''from helpers.exercises.nb01 import q1

afghan_count = client.query(collection_name=COLLECTION, filter='filename like "%Afghan_hound%"',
                            output_fields=["count(*)"])
q1.check(afghan_count)''')


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


q2 = Exercise(
    name="q2", title="Another limit, and the classes of the hits",
    task="Search with the same query photo for its 5 nearest gallery photos and list the class of each hit.",
    answers=("hits5", "classes5"), judge=_five_hits_and_classes,
    hint_text='Copy the search above with limit=5 and take `[0]`; then label_of(hit["entity"]["filename"]) '
              "for each hit (from helpers.results import label_of).",
    solution_code='''from helpers.exercises.nb01 import q2
from helpers.results import label_of

hits5 = client.search(collection_name=COLLECTION, data=[encoder.embed_image(query)], limit=5,
                      output_fields=["filename"], search_params={"metric_type": "COSINE"})[0]
classes5 = [label_of(hit["entity"]["filename"]) for hit in hits5]
q2.check(hits5, classes5)''')


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


q3 = Exercise(
    name="q3", title="The nearest photo to a gallery photo, itself left out",
    task="Find the gallery photo most like the gallery photo `photo`, the photo itself left out.",
    answers=("photo", "nearest"), judge=_nearest_other_photo,
    hint_text="A search with `photo`'s own vector finds `photo` first (similarity 1.0): ask for limit=2 and "
              "keep the hit whose filename is not `photo` (or filter it out with `filename != ...`).",
    solution_code='''from helpers.exercises.nb01 import q3

photo = str(embeddings.sources[0])
two_hits = client.search(collection_name=COLLECTION, data=[encoder.embed_image(photo)], limit=2,
                         output_fields=["filename"])[0]
nearest = next(hit["entity"]["filename"] for hit in two_hits if hit["entity"]["filename"] != photo)
q3.check(photo, nearest)''')

EXERCISES = [q1, q2, q3]
