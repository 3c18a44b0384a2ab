"""Notebook 03's exercises: several texts in one search, a text's hits scored against a class, zero-shot
for one photo.
This module judges the answers; each exercise's title, task, hint and solved cell are in nb03.toml beside it."""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np

from ..images import labelled_images
from ..results import label_of
from .core import Exercise, NotYet, entity_field, exact_nearest, hits_of, lesson_value, same_neighbours

NOTEBOOK = "03_text_to_image_search.ipynb"
TEXTS = "nb03.toml"


def _texts(answer: Any, name: str) -> list[str]:
    if isinstance(answer, str) or not isinstance(answer, (list, tuple)):
        raise NotYet(f"`{name}` should be a list of texts, [\"...\", \"...\"], not a {type(answer).__name__}.")
    if len(answer) < 2 or not all(isinstance(text, str) and text.strip() for text in answer):
        raise NotYet(f"`{name}` should hold at least two texts, none of them empty.")
    return list(answer)


def _several_texts(lesson: Mapping[str, Any], my_texts: Any, my_results: Any) -> str:
    client, collection = lesson_value(lesson, "client"), lesson_value(lesson, "COLLECTION")
    texts = _texts(my_texts, "my_texts")
    if isinstance(my_results, str) or not hasattr(my_results, "__len__"):
        raise NotYet("`my_results` should be what client.search(...) returns: one list of hits per text.")
    if len(my_results) != len(texts) or any(isinstance(hit, Mapping) for hit in my_results):
        raise NotYet(f"`my_results` holds {len(my_results)} {'entry' if len(my_results) == 1 else 'entries'} for your {len(texts)} texts; a search with "
                     "every text's vector in `data` returns one list of hits per text.")
    vectors = lesson_value(lesson, "encoder").embed_texts(texts)
    nearest = [exact_nearest(client, collection, "vector", vector, 3, "COSINE") for vector in vectors]
    for place, (text, hits) in enumerate(zip(texts, my_results)):
        hits = hits_of(hits, f"my_results[{place}]")
        ids = [hit["id"] for hit in hits]
        other = next((other for other, (right, _) in enumerate(nearest) if right == ids and other != place), None)
        if other is not None and nearest[place][0] != ids:
            raise NotYet(f"the hits in place {place} are those of text {other} ({texts[other]!r}): keep the texts "
                         "and their vectors in the same order.")
        same_neighbours(hits, *nearest[place], f"my_results[{place}]", f"nearest photos to {text!r}")
    return f"{len(texts)} texts in one search, 3 nearest photos each."


q1 = Exercise("q1", ("my_texts", "my_results"), _several_texts, TEXTS)


def _text_against_class(lesson: Mapping[str, Any], my_class: Any, my_text: Any, my_hits: Any,
                        my_precision: Any) -> str:
    client, collection = lesson_value(lesson, "client"), lesson_value(lesson, "COLLECTION")
    folders = sorted({label for _, label in labelled_images(lesson_value(lesson, "data_root") / "train")})
    if my_class not in folders:
        raise NotYet(f"{my_class!r} is not a class folder of the gallery; pick one of `classes`, e.g. {folders[0]!r}.")
    if not isinstance(my_text, str) or not my_text.strip():
        raise NotYet(f"`my_text` should be one text that describes {my_class}, not {my_text!r}.")
    text = my_text
    hits = hits_of(my_hits, "my_hits")
    same_neighbours(hits, *exact_nearest(client, collection, "vector", lesson_value(lesson, "encoder").embed_text(text),
                                         10, "COSINE"), "my_hits", f"nearest photos to {text!r}")
    right = sum(label_of(entity_field(hit, "filepath", "my_hits")) == my_class for hit in hits)
    if not isinstance(my_precision, (int, float, np.number)):
        raise NotYet(f"`my_precision` should be a number between 0 and 1, not a {type(my_precision).__name__}.")
    if abs(my_precision - right / len(hits)) > 1e-6:
        counted = " (that is a count: divide it by the number of hits)" if my_precision == right and right > 1 else ""
        raise NotYet(f"{right} of your {len(hits)} hits are in {my_class}/, so the share is {right / len(hits):.2f}, "
                     f"not {my_precision}{counted}.")
    return f"{right} of the 10 nearest photos to {text!r} are in {my_class}/: precision@10 = {my_precision:.2f}."


q2 = Exercise("q2", ("my_class", "my_text", "my_hits", "my_precision"), _text_against_class, TEXTS)


def _zero_shot_one_photo(lesson: Mapping[str, Any], photo: Any, predicted: Any) -> str:
    classes, class_vectors = lesson_value(lesson, "classes"), np.asarray(lesson_value(lesson, "class_vectors"))
    if predicted not in classes:
        raise NotYet(f"{predicted!r} is not one of `classes`: the answer is a class name, such as {classes[0]!r}.")
    similarities = class_vectors @ np.asarray(lesson_value(lesson, "encoder").embed_image(photo))
    best = classes[int(np.argmax(similarities))]
    yours = float(similarities[classes.index(predicted)])
    if yours < float(similarities.max()) - 1e-4:
        least = " (the least similar one: argmin instead of argmax?)" if predicted == classes[int(np.argmin(similarities))] else ""
        folder = " That is the photo's folder; zero-shot names the most similar text's class." if predicted == label_of(photo) else ""
        raise NotYet(f"the text of {predicted!r} scores {yours:.3f} with the photo{least}, the text of {best!r} "
                     f"{similarities.max():.3f}: the class whose text vector has the largest dot product wins.{folder}")
    return f"{predicted!r}, similarity {yours:.3f}; the photo's folder is {label_of(photo)!r}."


q3 = Exercise("q3", ("photo", "predicted"), _zero_shot_one_photo, TEXTS)

EXERCISES = [q1, q2, q3]
