"""Each notebook executed offline in a kernel, as shipped (every exercise says `Your turn`) and as
`exercises --solved` writes it (every exercise says `Correct`); then, in the solved notebook's kernel, with its
real Milvus Lite collection, each check run twice (the same line, the collection unchanged) and typical wrong
answers (each says `Not yet` and what is wrong)."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from helpers.exercises import notebook_exercises
from helpers.tool.exercises import TAG, write_solved

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"

# Typical wrong answers, run in the solved notebook's kernel after Run All: (exercise, code, what the line says).
WRONG = {
    "01_reverse_image_search.ipynb": [
        ("q1", 'q1.check(client.query(collection_name=COLLECTION, filter="", output_fields=["count(*)"]))',
         "is every photo in the collection: your filter kept them all"),
        ("q1", "q1.check(client.query(collection_name=COLLECTION, filter='filename like \"Afghan_hound%\"', "
               'output_fields=["count(*)"]))', "no row matched: `filename` holds the whole path"),
        ("q1", "q1.check(client.query(collection_name=COLLECTION, filter='filename like \"%Afghan_hound%\"', "
               'output_fields=["filename"]))', "holds 10 rows, not their count"),
        ("q2", 'q2.check(results[0], [label_of(hit["entity"]["filename"]) for hit in results[0]])',
         "`hits5` has 10 hits; the exercise asks for 5: `limit=5`"),
        ("q2", "q2.check(client.search(collection_name=COLLECTION, data=[encoder.embed_image(query)], limit=5), classes5)",
         "`hits5` holds one list of hits per query vector"),
        ("q2", 'q2.check(hits5, [Path(hit["entity"]["filename"]).name for hit in hits5])',
         "the class is the name of the folder a hit's `filename` is in"),
        ("q3", "q3.check(photo, photo)", "that is `photo` itself (similarity 1.000)"),
    ],
    "02_paintings_search.ipynb": [
        ("q1", "q1.check(results[0])", "a filter with `in` keeps only the painters you list"),
        ("q2", "q2.check(client.query(collection_name=COLLECTION, filter='filepath like \"Degas%\"', "
               'output_fields=["filepath"]))', "no row matched: `filepath` holds the whole path"),
        ("q2", "q2.check(client.query(collection_name=COLLECTION, filter='filepath like \"%Degas%\"', "
               'output_fields=["filepath"], limit=2))', "you have 2 of Degas's 4 paintings"),
        ("q3", "q3.check(TARGET, 3)", "3 is not in the table's nprobe column (1, 2, 4, 5)"),
        ("q3", "q3.check(TARGET, nprobes[-1])", "but nprobe=4 already does"),  # the samples: recall 1.0 from nprobe 4
    ],
    "03_text_to_image_search.ipynb": [
        ("q1", "q1.check(my_texts, client.search(collection_name=COLLECTION, data=[encoder.embed_text(my_texts[-1])], "
               "limit=3))", "`my_results` holds 1 entry for your 3 texts"),
        ("q1", "q1.check(my_texts, client.search(collection_name=COLLECTION, data=encoder.embed_texts(my_texts[::-1]), "
               "limit=3))", "the hits in place 0 are those of text 2"),
        ("q2", "q2.check(my_class, my_text, my_hits[:5], my_precision)", "`my_hits` has 5 hits; the exercise asks for 10"),
        ("q3", "q3.check(photo, classes[int(np.argmin(class_vectors @ encoder.embed_image(photo)))])",
         "(the least similar one: argmin instead of argmax?)"),
    ],
    "04_photo_library.ipynb": [
        ("q1", "q1.check(my_copy, client.search(collection_name=COLLECTION, data=[library.vectors[library.sources.index("
               "my_copy)]], limit=10, output_fields=[\"filepath\"])[0], my_original)",
         "a range search keeps only radius < similarity <= range_filter"),
        ("q1", "q1.check(my_copy, near[:2], my_original)", "a range search still returns at most `limit` hits"),
        ("q1", "q1.check(my_copy, near, str(copy_paths[0]))", "is another copy of the same photo"),
        ("q2", "q2.check(my_class, client.query(collection_name=ALBUM_COLLECTION, filter=f'path like \"{my_class}\"', "
               'output_fields=["count(*)"]))', "no row matched: `path` is the file's path in the album"),
        ("q2", 'q2.check(my_class, client.query(collection_name=ALBUM_COLLECTION, filter="", output_fields=["count(*)"]))',
         "is every row of the album: your filter kept them all"),
        ("q3", "q3.check(client.search(collection_name=COLLECTION, data=[queries.vectors[0]], limit=5, "
               'output_fields=["label"], search_params=search_params)[0])',
         'group_by_field="label" returns one hit per class'),
        ("q3", "q3.check(client.search(collection_name=COLLECTION, data=[queries.vectors[1]], limit=5, "
               'group_by_field="label", output_fields=["label"], search_params=search_params)[0])',
         "search COLLECTION with data=[queries.vectors[0]]"),
    ],
}
COUNT = 'client.query(collection_name=COLLECTION, filter="", output_fields=["count(*)"])[0]["count(*)"]'


def execute(path: Path, tmp_path: Path, cells: list[str] = ()) -> nbformat.NotebookNode:
    notebook = nbformat.read(path, as_version=4)
    notebook.cells += [nbformat.v4.new_code_cell(source) for source in cells]
    NotebookClient(notebook, timeout=900, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    return notebook


def printed(cell: nbformat.NotebookNode) -> str:
    assert not [output for output in cell.outputs if output.get("name") == "stderr" or output["output_type"] == "error"]
    return "".join(output.get("text", "") for output in cell.outputs)


def exercise_lines(notebook: nbformat.NotebookNode) -> list[str]:
    return [printed(cell) for cell in notebook.cells if TAG in cell.metadata.get("tags", [])]


@pytest.mark.parametrize("name", sorted(notebook_exercises()))
def test_as_shipped_every_exercise_says_your_turn(name, tmp_path):
    lines = exercise_lines(execute(NOTEBOOKS / name, tmp_path))
    assert len(lines) == len(notebook_exercises()[name]) >= 3
    assert all(line.startswith("Your turn: replace the `...` of ") and line.count("\n") == 1 for line in lines), lines


def test_every_exercise_has_a_wrong_answer_here():
    assert {(name, exercise.name) for name, exercises in notebook_exercises().items() for exercise in exercises} == {
        (name, exercise) for name, wrongs in WRONG.items() for exercise, _, _ in wrongs}


@pytest.mark.parametrize("name", sorted(notebook_exercises()))
def test_solved_every_exercise_says_correct_twice_changes_nothing_and_wrong_answers_say_what_is_wrong(name, tmp_path):
    (solved,) = [path for path in write_solved(NOTEBOOKS, tmp_path / "solved") if path.name == name]
    twice = [f"rows = {COUNT}\n{exercise.solution_code.splitlines()[-1]}\n{exercise.solution_code.splitlines()[-1]}\n"
             f"assert {COUNT} == rows" for exercise in notebook_exercises()[name]]
    wrong = ["from pathlib import Path\n\nimport numpy as np\nfrom helpers.results import label_of\n" + code for _, code, _ in WRONG[name]]
    notebook = execute(solved, tmp_path, twice + wrong)
    lines = exercise_lines(notebook)
    assert len(lines) == len(notebook_exercises()[name])
    assert all(line.startswith("Correct: ") and line.count("\n") == 1 for line in lines), lines
    again = [printed(cell) for cell in notebook.cells[-len(twice) - len(wrong):-len(wrong)]]
    assert again == [line * 2 for line in lines]
    for (exercise, code, message), cell in zip(WRONG[name], notebook.cells[-len(wrong):]):
        line = printed(cell)
        assert line.startswith("Not yet: ") and line.count("\n") == 1 and message in line, (exercise, code, line)
