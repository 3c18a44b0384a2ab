"""The exercises' framework without a notebook run: every notebook's exercise cells, the checks' three
answers on any input, hint() and solution(), the texts read on first use, the count rule two checks share (on
Milvus Lite), the solved copies the command line writes, the solutions page.
The notebooks executed, shipped and solved, with wrong answers: tests/test_exercises_notebooks.py."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from pymilvus import MilvusClient

from helpers.collection import create_quick
from helpers.connection import connection_options
from helpers.exercises import notebook_exercises
from helpers.exercises.core import Exercise, NotYet, count_of, same_count
from helpers.tool.exercises import CHECK_CALL, TAG, solutions_page

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"
EXERCISES = [exercise for exercises in notebook_exercises().values() for exercise in exercises]
IDS = [f"{notebook[:2]}-{exercise.name}" for notebook, exercises in notebook_exercises().items() for exercise in exercises]


def exercise_cells(path: Path) -> list[dict]:
    return [cell for cell in json.loads(path.read_text())["cells"] if TAG in cell["metadata"].get("tags", [])]


@pytest.mark.parametrize("path", sorted(NOTEBOOKS.glob("*.ipynb")), ids=lambda path: path.name[:2])
def test_every_notebook_has_three_to_five_exercise_cells_one_per_exercise_of_its_module(path):
    cells = exercise_cells(path)
    exercises = [exercise.name for exercise in notebook_exercises()[path.name]]
    assert 3 <= len(cells) <= 5 and [CHECK_CALL.findall("".join(cell["source"])) for cell in cells] == [
        [name] for name in exercises]
    for cell in cells:
        source = "".join(cell["source"])
        assert cell["cell_type"] == "code" and cell["id"] and not cell["outputs"]
        assert source.splitlines()[-1].startswith(f"{CHECK_CALL.findall(source)[0]}.check(")  # the check comes last
        solution = next(exercise for exercise in notebook_exercises()[path.name]
                        if exercise.name == CHECK_CALL.findall(source)[0]).solution_code
        assert source != solution and solution.splitlines()[0] == source.splitlines()[0]  # the import, not the answer


@pytest.mark.parametrize("exercise", EXERCISES, ids=IDS)
def test_a_check_never_raises_and_prints_one_line(exercise: Exercise, capsys):
    """As shipped (`...`): Your turn. Anything else, with or without the lesson's names: Not yet, and why."""
    exercise.check(*[...] * len(exercise.answers))
    shipped = capsys.readouterr().out
    assert shipped.startswith("Your turn: replace the `...` of `") and shipped.count("\n") == 1
    assert exercise.verdict({}, *[None] * len(exercise.answers)).startswith("Your turn")
    for answers in ([42] * len(exercise.answers), ["text"] * len(exercise.answers), [[{"id": 1}]] * len(exercise.answers)):
        for lesson in ({}, {"client": object(), "COLLECTION": 3, "encoder": None}):
            line = exercise.verdict(lesson, *answers)
            assert line.startswith("Not yet: ") and "\n" not in line, line
    assert exercise.verdict({}, 1, 2, 3, 4, 5).startswith(f"Not yet: {exercise.name}.check takes ")


@pytest.mark.parametrize("exercise", EXERCISES, ids=IDS)
def test_hint_and_solution_print_the_package_text(exercise: Exercise, capsys):
    exercise.hint()
    assert capsys.readouterr().out == f"Hint: {exercise.hint_text}\n"
    exercise.solution()
    printed = capsys.readouterr().out
    assert printed.endswith(exercise.solution_code + "\n") and f"{exercise.name}.check(" in printed


def test_an_exercise_judges_without_its_texts_and_a_missing_text_says_what_to_add():
    """The texts are read on first use: an exercise whose TOML file has no table for it still judges; asking for its
    hint names the file and the table to add."""
    unwritten = Exercise("q9", ("answer",), lambda lesson, answer: f"{answer} is fine.", "nb01.toml")
    assert unwritten.verdict({}, 42) == "Correct: 42 is fine."
    with pytest.raises(LookupError, match=r"^nb01\.toml has no text `hint` for q9: add a table \[q9\] with title, "):
        unwritten.hint()


def test_a_count_is_judged_against_the_expected_number_then_every_row_then_no_row(tmp_path):
    """The rule of notebook 01's and notebook 04's counts, on a Milvus Lite collection of 8 photos, 3 of them cats."""
    db = str(tmp_path / "m.db")
    client = MilvusClient(db, **connection_options(db))  # as a notebook makes one
    create_quick(client, "c", 4, model="test-model", recreate=True)
    client.insert("c", [{"vector": np.eye(4, dtype=np.float32)[i % 4], "filename": f"{'cat' if i < 3 else 'dog'}/{i}"}
                        for i in range(8)])
    cats = count_of(client.query("c", filter='filename like "cat/%"', output_fields=["count(*)"]), "cats")
    messages = {"every_row": "all of them", "no_row": "none", "other": "some other number"}
    assert cats == 3 and same_count(client, "c", cats, 3, **messages) is None
    for number, message in ((8, "all of them"), (0, "none"), (5, "some other number"), ("3", "some other number")):
        with pytest.raises(NotYet, match=f"^{message}$"):
            same_count(client, "c", number, 3, **messages)


def test_the_solutions_page_in_docs_is_the_one_generated_from_the_exercises():
    page = (ROOT / "docs" / "exercises.md").read_text()
    assert page == solutions_page(), "regenerate it: python -m helpers exercises --page docs/exercises.md"
    assert all(exercise.solution_code in page and exercise.hint_text in page for exercise in EXERCISES)


def test_exercises_solved_writes_every_notebook_under_its_name_with_only_the_exercise_cells_changed(cli, tmp_path):
    run = cli("exercises", "--solved", str(tmp_path / "solved"))
    assert run.returncode == 0, run.stderr
    shipped = sorted(NOTEBOOKS.glob("*.ipynb"))
    assert sorted(path.name for path in (tmp_path / "solved").iterdir()) == [path.name for path in shipped]
    for path in shipped:
        before = json.loads(path.read_text())["cells"]
        after = json.loads((tmp_path / "solved" / path.name).read_text())["cells"]
        solutions = {exercise.name: exercise.solution_code for exercise in notebook_exercises()[path.name]}
        assert [cell["id"] for cell in after] == [cell["id"] for cell in before]
        for old, new in zip(before, after):
            if TAG in old["metadata"].get("tags", []):
                assert "".join(new["source"]) == solutions[CHECK_CALL.findall("".join(old["source"]))[0]]
            else:
                assert new == old
    nothing = cli("exercises")
    assert nothing.returncode == 2 and nothing.stderr.startswith("error: Say what to write: --solved DIR")
    empty = cli("exercises", "--solved", str(tmp_path / "out"), "--notebooks", str(tmp_path / "solved" / "none"))
    assert empty.returncode == 2 and "No notebooks in" in empty.stderr
