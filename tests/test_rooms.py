"""The two rooms of `helpers`: the modules a learner opens from the notebooks, and `helpers.tool` (the command line,
the demo page, collections made elsewhere). Read from the code's imports (tests/rooms.py), nothing is run."""

from __future__ import annotations

from pathlib import Path

import pytest

from rooms import cycles, import_graph, learner_closure, lines, module_files, notebook_imports

ROOT = Path(__file__).resolve().parent.parent
# Lines a learner may have to read to follow notebooks 01-03 into helpers: 2,466 before the two rooms, 2,032 after,
# 2,263 with HEIC photos, the collection-name rule, weights read from a cache or a kit and the faiss note; 1,900 once
# gdown does the downloading on the datasets page and what only the command line and notebook 04 need (the content
# hash) left the lessons' modules. The budget is 1,900.
CLOSURE_BUDGET = 1900
MAX_MODULE_LINES = 250
BANNED_IN_LESSONS = ("argparse", "gradio")


def _learner_modules() -> list[str]:
    return [name for name in module_files(ROOT) if not name.startswith(("helpers.tool", "helpers.exercises"))
            and name != "helpers.__main__"]


@pytest.mark.parametrize("module", _learner_modules())
def test_the_learners_room_never_imports_the_tools_room(module):
    reached = {name for name in import_graph(ROOT)[module] if name.startswith("helpers.tool")}
    assert not reached, f"{module} imports {sorted(reached)}: move what it needs into the learner's room"


def test_the_lessons_reach_no_tool_module_and_no_command_line_or_web_library():
    reached = learner_closure(ROOT)
    assert not {name for name in reached if name.startswith("helpers.tool")}
    files = module_files(ROOT)
    for name in reached:
        text = files[name].read_text(encoding="utf-8")
        assert not any(f"import {library}" in text for library in BANNED_IN_LESSONS), name


def test_the_lessons_import_what_they_use_and_the_quick_deploy_cell_imports_the_tool():
    imported = notebook_imports(ROOT)
    assert {"helpers.indexing", "helpers.evaluate", "helpers.collection", "helpers.encoders"} <= imported
    assert "helpers.tool.app" in imported  # notebook 01's quick-deploy cell, left out of the closure


def test_a_learner_reads_at_most_the_budget_to_follow_the_lessons():
    reached = learner_closure(ROOT)
    assert lines(ROOT, reached) <= CLOSURE_BUDGET, (
        f"the lessons reach {len(reached)} modules of {lines(ROOT, reached)} lines: {sorted(reached)}")


def test_no_module_is_over_the_page_limit():
    long = {name: lines(ROOT, {name}) for name in module_files(ROOT) if lines(ROOT, {name}) > MAX_MODULE_LINES}
    assert not long, f"split these modules by job (at most {MAX_MODULE_LINES} lines each): {long}"


def test_no_import_cycle_anywhere_in_helpers():
    assert cycles(import_graph(ROOT)) == []


def test_the_measure_reads_a_cycle_and_a_tool_import_when_there_is_one(tmp_path):
    """The reader itself: a made-up package with a cycle and a lesson that reaches the tool through a module."""
    (tmp_path / "helpers" / "tool").mkdir(parents=True)
    (tmp_path / "notebooks").mkdir()
    (tmp_path / "helpers" / "__init__.py").write_text("")
    (tmp_path / "helpers" / "a.py").write_text("from . import b\n")
    (tmp_path / "helpers" / "b.py").write_text("def f():\n    from .tool.c import g\n")
    (tmp_path / "helpers" / "tool" / "__init__.py").write_text("")
    (tmp_path / "helpers" / "tool" / "c.py").write_text("from ..a import x\n")
    (tmp_path / "notebooks" / "01_x.ipynb").write_text(
        '{"cells": [{"cell_type": "code", "source": ["%pip install x\\n", "from helpers.a import f"]}]}')
    assert learner_closure(tmp_path) == {"helpers", "helpers.a", "helpers.b", "helpers.tool", "helpers.tool.c"}
    assert cycles(import_graph(tmp_path)) == [["helpers.a", "helpers.b", "helpers.tool.c", "helpers.a"]]
