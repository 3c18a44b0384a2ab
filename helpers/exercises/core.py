"""What every exercise shares: the three answers of a check, the placeholder rule, hint() and solution(), the
texts read from the notebook's TOML file, and the rules several judges apply.

An exercise is one code cell of a notebook: a skeleton the learner edits, ending with `qN.check(...)`, which
prints one line. `Correct`, `Not yet: <what exactly is wrong>` or `Your turn` (the skeleton as shipped: an
answer still holds `...` or None). A check never raises: whatever goes wrong becomes a `Not yet` line. It
reads the learner's answers (the arguments) and what the lesson defined (the notebook's globals: `client`,
`COLLECTION`, `encoder`, ...), and judges the answers against Milvus or the data: it searches and queries,
never inserts or deletes, so running it twice gives the same line.
"""

from __future__ import annotations

import sys
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cache
from importlib.resources import files
from typing import Any

import numpy as np

PLACEHOLDERS = (Ellipsis, None)


class NotYet(Exception):
    """Raised by a judge with what exactly is wrong; the check prints it after `Not yet: `."""


def _read_on_first_use(key: str) -> property:
    """An Exercise attribute that holds its text `key`: the judges' module imports without reading any text."""
    return property(lambda exercise: exercise.text(key), doc=f"The exercise's `{key}`, from its TOML file.")


@dataclass(frozen=True)
class Exercise:
    """One exercise: `answers` names the check's arguments (in the skeleton's words); `judge(lesson, *answers)`
    returns what the `Correct` line adds, or raises NotYet. Its texts are the table `[name]` of `texts_file` (a
    TOML file of this package, read on first use): `title`, `task`, `hint` and `solution`, the whole solved cell."""

    name: str
    answers: tuple[str, ...]
    judge: Callable[..., str]
    texts_file: str

    title = _read_on_first_use("title")
    task = _read_on_first_use("task")
    hint_text = _read_on_first_use("hint")
    solution_code = _read_on_first_use("solution")

    def check(self, *answers: Any) -> None:
        """Print this exercise's one line about `answers`, judged with the caller's globals (the notebook's)."""
        print(self.verdict(sys._getframe(1).f_globals, *answers))

    def verdict(self, lesson: Mapping[str, Any], *answers: Any) -> str:
        """The one line `check` prints: Correct, Not yet or Your turn. Never raises."""
        if len(answers) != len(self.answers):
            return (f"Not yet: {self.name}.check takes {len(self.answers)} answer(s), "
                    f"{', '.join(self.answers)}; it got {len(answers)}.")
        unset = [name for name, value in zip(self.answers, answers) if _is_placeholder(value)]
        if unset:
            return (f"Your turn: replace the `...` of {_listed(unset)} with your code and run this cell "
                    f"({self.name}.hint() for a hint, {self.name}.solution() for the answer).")
        try:
            return f"Correct: {self.judge(lesson, *answers)}"
        except NotYet as wrong:
            return f"Not yet: {_one_line(wrong)}"
        except Exception as error:  # the learner's answer is any object: whatever it breaks is reported
            return f"Not yet: checking your answer raised {type(error).__name__}: {_one_line(error)}"

    def hint(self) -> None:
        print(f"Hint: {self.hint_text}")

    def solution(self) -> None:
        print(f"Solution (the whole cell):\n\n{self.solution_code}")

    def text(self, key: str) -> str:
        """This exercise's text `key` (title, task, hint or solution) from its TOML file, or LookupError."""
        found = _texts(self.texts_file).get(self.name, {}).get(key)
        if not isinstance(found, str):
            raise LookupError(f"{self.texts_file} has no text `{key}` for {self.name}: add a table [{self.name}] with "
                              "title, task, hint and solution to that file, beside the module that declares it.")
        return found


def lesson_value(lesson: Mapping[str, Any], name: str) -> Any:
    """A name the lesson's cells defined, or NotYet saying to run them."""
    if name not in lesson:
        raise NotYet(f"`{name}` is not defined: run the notebook's cells above this one first (Run > Run All Above).")
    return lesson[name]


def hits_of(answer: Any, name: str) -> list[dict]:
    """The learner's hits as a list of dicts, or NotYet saying what the value is instead."""
    if isinstance(answer, str) or not hasattr(answer, "__len__"):
        raise NotYet(f"`{name}` should be a list of hits from client.search(...), not a {type(answer).__name__}.")
    hits = list(answer)
    if hits and isinstance(hits[0], (list, tuple)):
        raise NotYet(f"`{name}` holds one list of hits per query vector: take the first, `client.search(...)[0]`.")
    if hits and not isinstance(hits[0], Mapping):
        raise NotYet(f"`{name}` should hold hits (dicts with `id`, `distance`, `entity`), not {type(hits[0]).__name__}s.")
    return hits


def count_of(answer: Any, name: str) -> Any:
    """The number a `count(*)` query answered (or the answer itself, a number), or NotYet saying it holds rows."""
    if isinstance(answer, list) and answer and "count(*)" not in answer[0]:
        raise NotYet(f"`{name}` holds {len(answer)} rows, not their count: ask for output_fields=[\"count(*)\"].")
    if isinstance(answer, list) and not answer:
        raise NotYet(f"`{name}` is an empty list: the query matched no row (see below for a `like` pattern).")
    return answer[0]["count(*)"] if isinstance(answer, list) else answer


def same_count(client: Any, collection: str, number: Any, expected: int, every_row: str, no_row: str,
               other: str) -> None:
    """NotYet unless `number`, what a `count(*)` query answered, is `expected`: `every_row` when it is every row of
    `collection` (the filter kept them all), `no_row` when it is 0 (it kept none), `other` for any other number."""
    if number == expected:
        return
    everything = client.query(collection_name=collection, filter="", output_fields=["count(*)"])[0]["count(*)"]
    raise NotYet(every_row if number == everything else no_row if number == 0 else other)


def entity_field(hit: Mapping, field: str, name: str) -> Any:
    """A stored field of a hit, or NotYet saying to ask for it with output_fields."""
    entity = hit.get("entity") or {}
    if field not in entity:
        raise NotYet(f"the hits in `{name}` carry no `{field}`: add output_fields=[\"{field}\"] to the search.")
    return entity[field]


def same_neighbours(hits: list[dict], ids: list, scores: list[float], name: str, what: str) -> None:
    """NotYet unless `hits` are the exact neighbours `ids` (ties allowed: the same scores, in order, to 1e-4)."""
    if len(hits) != len(ids):
        raise NotYet(f"`{name}` has {len(hits)} hits; the exercise asks for {len(ids)}: `limit={len(ids)}`.")
    theirs = [float(hit["distance"]) for hit in hits]
    if [hit["id"] for hit in hits] != list(ids) and any(abs(a - b) > 1e-4 for a, b in zip(theirs, scores)):
        raise NotYet(f"`{name}` are not the {len(ids)} {what}: their scores are {_rounded(theirs)}, the nearest rows "
                     f"score {_rounded(scores)}. Search with the right query vector, and on an IVF index with "
                     "the cells' search_params (nprobe).")


def exact_nearest(client, collection: str, field: str, vector, k: int, metric: str, filter: str = "",
                  exclude: tuple = ()) -> tuple[list, list[float]]:
    """The ids and scores of the `k` rows nearest `vector`, computed here with numpy over every stored vector
    (up to 16,384 rows, Milvus's cap on one query): COSINE and IP largest first, L2 (squared, as Milvus gives
    it) smallest first. Rows whose id is in `exclude` are left out."""
    rows = [row for row in client.query(collection_name=collection, filter=filter, output_fields=[field], limit=16384)
            if row["id"] not in exclude]
    stored = np.asarray([row[field] for row in rows], dtype=np.float64)
    query = np.asarray(vector, dtype=np.float64)
    if metric == "L2":
        scores = ((stored - query) ** 2).sum(axis=1)
        order = np.argsort(scores, kind="stable")
    else:
        scores = stored @ query
        if metric == "COSINE":
            scores = scores / (np.linalg.norm(stored, axis=1) * np.linalg.norm(query))
        order = np.argsort(-scores, kind="stable")
    return [rows[i]["id"] for i in order[:k]], [float(scores[i]) for i in order[:k]]


@cache
def _texts(file_name: str) -> dict[str, dict[str, Any]]:
    return tomllib.loads(files(__package__).joinpath(file_name).read_text(encoding="utf-8"))


def _one_line(error: Exception) -> str:
    return " ".join(str(error).split())


def _rounded(values: list[float]) -> str:
    return "[" + ", ".join(f"{value:.3f}" for value in values) + "]"


def _is_placeholder(value: Any) -> bool:
    return any(value is placeholder for placeholder in PLACEHOLDERS)


def _listed(names: list[str]) -> str:
    return ", ".join(f"`{name}`" for name in names)
