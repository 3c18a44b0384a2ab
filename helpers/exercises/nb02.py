"""Notebook 02's exercises: a filter with `in`, a `like` on the path, the smallest nprobe for a recall.
This module judges the answers; each exercise's title, task, hint and solved cell are in nb02.toml beside it."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

from ..images import labelled_images
from ..evaluate import index_recall, nprobe_steps
from .core import Exercise, NotYet, entity_field, exact_nearest, hits_of, lesson_value, same_neighbours

NOTEBOOK = "02_paintings_search.ipynb"
TEXTS = "nb02.toml"
PAINTERS = ("Monet", "Renoir")
FOLDER = "Degas"


def _two_painters(lesson: Mapping[str, Any], two_painters: Any) -> str:
    client, collection = lesson_value(lesson, "client"), lesson_value(lesson, "COLLECTION")
    hits = hits_of(two_painters, "two_painters")
    painters = [entity_field(hit, "painter", "two_painters") for hit in hits]
    others = [painter for painter in painters if painter not in PAINTERS]
    if others:
        raise NotYet(f"{len(others)} of your {len(hits)} hits are by {', '.join(sorted(set(others)))}: a filter "
                     f"with `in` keeps only the painters you list: painter in {list(PAINTERS)}.")
    ids, distances = exact_nearest(client, collection, "image_embedding", lesson_value(lesson, "queries").vectors[0],
                                   lesson_value(lesson, "TOP_K"), "L2", filter=f"painter in {list(PAINTERS)!r}")
    nearest = {row["painter"] for row in client.query(collection_name=collection, filter=f"id in {ids}",
                                                      output_fields=["painter"])}
    if len(set(painters)) == 1 and nearest != set(painters):
        raise NotYet(f"all your hits are by {painters[0]}, but among both painters' paintings the nearest are by "
                     f"{' and '.join(sorted(nearest))}: list both in one filter, painter in {list(PAINTERS)}.")
    same_neighbours(hits, ids, distances, "two_painters", "nearest paintings by Monet or Renoir to the first query")
    return f"the {len(hits)} nearest paintings by Monet or Renoir ({', '.join(painters)})."


q1 = Exercise("q1", ("two_painters",), _two_painters, TEXTS)


def _one_folder(lesson: Mapping[str, Any], degas_rows: Any) -> str:
    if not isinstance(degas_rows, list) or (degas_rows and not isinstance(degas_rows[0], Mapping)):
        raise NotYet("`degas_rows` should be the list of rows client.query(...) returns.")
    paths = {str(entity_field({"entity": row}, "filepath", "degas_rows")) for row in degas_rows}
    folder = Path(lesson_value(lesson, "data_root")) / "paintings"
    expected = {str(path) for path, painter in labelled_images(folder) if painter == FOLDER}
    if not paths:
        raise NotYet("no row matched: `filepath` holds the whole path (.../paintings/Degas/....jpg), so `like` "
                     "needs `%` before and after the folder's name; `==` matches only a whole path.")
    if paths - expected:
        stray = sorted(paths - expected)
        raise NotYet(f"{len(stray)} of your {len(paths)} rows are not in Degas's folder, e.g. {Path(stray[0]).name} "
                     f"in {Path(stray[0]).parent.name}/: make the pattern name the painter's folder, like \"%Degas%\".")
    if expected - paths:
        raise NotYet(f"you have {len(paths)} of Degas's {len(expected)} paintings: a query returns at most `limit` "
                     "rows; leave `limit` out with a filter, or raise it.")
    return f"all {len(paths)} paintings in Degas's folder, found by their path."


q2 = Exercise("q2", ("degas_rows",), _one_folder, TEXTS)


def _smallest_nprobe(lesson: Mapping[str, Any], target: Any, smallest_nprobe: Any) -> str:
    if not isinstance(target, (int, float)) or not 0 < target <= 1:
        raise NotYet(f"TARGET should be a recall between 0 and 1 (0.95, say), not {target!r}.")
    steps = nprobe_steps(lesson_value(lesson, "nlist"))
    if smallest_nprobe not in steps:
        raise NotYet(f"{smallest_nprobe!r} is not in the table's nprobe column ({', '.join(map(str, steps))}).")
    recall = {nprobe: _recall(lesson, nprobe) for nprobe in steps[:steps.index(smallest_nprobe) + 1]}
    if recall[smallest_nprobe] < target:
        raise NotYet(f"at nprobe={smallest_nprobe} recall@{lesson_value(lesson, 'TOP_K')} is "
                     f"{recall[smallest_nprobe]:.3f}, below {target}: look further down the table.")
    enough = next(nprobe for nprobe, value in recall.items() if value >= target)
    if enough != smallest_nprobe:
        raise NotYet(f"nprobe={smallest_nprobe} reaches {target}, but nprobe={enough} already does (recall "
                     f"{recall[enough]:.3f}), and searches fewer lists: the smallest one is the answer.")
    return f"nprobe={smallest_nprobe} reaches recall {recall[smallest_nprobe]:.3f} >= {target} (measured again here)."


def _recall(lesson: Mapping[str, Any], nprobe: int) -> float:
    """recall@TOP_K at `nprobe`, measured as the table does: the lesson's queries against its exact neighbours."""
    client, top_k = lesson_value(lesson, "client"), lesson_value(lesson, "TOP_K")
    approximate = client.search(collection_name=lesson_value(lesson, "COLLECTION"),
                                data=lesson_value(lesson, "queries").vectors, anns_field="image_embedding",
                                limit=top_k, search_params={"metric_type": "L2", "params": {"nprobe": nprobe}})
    return index_recall(approximate, lesson_value(lesson, "exact"), top_k)


q3 = Exercise("q3", ("TARGET", "smallest_nprobe"), _smallest_nprobe, TEXTS)

EXERCISES = [q1, q2, q3]
