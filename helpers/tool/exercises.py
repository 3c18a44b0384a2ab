"""`python -m helpers exercises`: solved copies of the notebooks, and the solutions page, both made from the
one source of every solution, helpers/exercises.

An exercise cell is a code cell tagged `exercise` whose code calls `qN.check(...)`; its notebook's module in
helpers/exercises (NOTEBOOK names the file) holds qN, whose `solution_code` is the whole solved cell.
"""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path

from ..errors import InputError

TAG = "exercise"
CHECK_CALL = re.compile(r"^(q\d+)\.check\(", re.MULTILINE)
NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"  # the checkout's notebooks folder
PAGE_HEAD = """# Exercises and their solutions

Every exercise of the notebooks, with its hint and its solution. This page is generated from the
solutions in `helpers/exercises/` (the same text `qN.hint()` and `qN.solution()` print in a notebook) by
`python -m helpers exercises --page docs/exercises.md`; a test checks it is current. For notebooks with every
exercise solved: `python -m helpers exercises --solved DIR`.

Each exercise is one code cell: edit it and run it, and its last line checks what your code found and prints
`Correct`, `Not yet` (with what is wrong) or `Your turn` (not tried yet). The checks search and query Milvus,
never change the collection, and judge results, not code: any code that finds the right answer is right.
"""


def add_command(commands: argparse._SubParsersAction) -> None:
    """The `exercises` subcommand of `python -m helpers`."""
    sub = commands.add_parser("exercises", help="write the notebooks with every exercise solved, or the solutions page")
    sub.add_argument("--solved", type=Path, metavar="DIR", help="write a solved copy of every notebook into DIR")
    sub.add_argument("--page", type=Path, metavar="FILE", help="write the solutions page (docs/exercises.md)")
    sub.add_argument("--notebooks", type=Path, default=NOTEBOOKS, metavar="DIR",
                     help="the notebooks to copy (default: this checkout's notebooks/)")
    sub.set_defaults(run=cmd_exercises)


def cmd_exercises(args: argparse.Namespace) -> int:
    if not args.solved and not args.page:
        raise InputError("Say what to write: --solved DIR (solved notebooks) and/or --page FILE (the solutions page).")
    if args.solved:
        for path in write_solved(args.notebooks, args.solved):
            print(f"solved: {path}")
    if args.page:
        args.page.write_text(solutions_page(), encoding="utf-8")
        print(f"solutions page: {args.page}")
    return 0


def write_solved(notebooks: Path, target: Path) -> list[Path]:
    """A copy of every notebook in `notebooks`, under the same file name in `target`, with each exercise cell's
    skeleton replaced by its solution. Returns the paths written."""
    sources = sorted(Path(notebooks).glob("*.ipynb"))
    if not sources:
        raise InputError(f"No notebooks in {notebooks}: pass the folder that holds them with --notebooks DIR.")
    target.mkdir(parents=True, exist_ok=True)
    written = []
    for source in sources:
        notebook = json.loads(source.read_text(encoding="utf-8"))
        solve(notebook, source.name)
        written.append(target / source.name)
        written[-1].write_text(json.dumps(notebook, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    return written


def solve(notebook: dict, name: str) -> None:
    """Replace, in place, the source of each exercise cell of `notebook` (file name `name`) with its solution."""
    from ..exercises import notebook_exercises

    exercises = {exercise.name: exercise for exercise in notebook_exercises().get(name, [])}
    for cell in notebook["cells"]:
        if TAG not in cell.get("metadata", {}).get("tags", []):
            continue
        calls = CHECK_CALL.findall("".join(cell["source"]))
        if len(calls) != 1 or calls[0] not in exercises:
            raise InputError(f"{name}, cell {cell.get('id')}: an exercise cell must call one check of "
                             f"helpers/exercises ({', '.join(exercises) or 'none for this notebook'}), found {calls}.")
        lines = exercises[calls[0]].solution_code.split("\n")
        cell["source"] = [line + "\n" for line in lines[:-1]] + [lines[-1]]


def solutions_page() -> str:
    """docs/exercises.md: every notebook's exercises, each with its task, hint and solution."""
    from ..exercises import notebook_exercises

    parts = [PAGE_HEAD]
    for notebook, exercises in notebook_exercises().items():
        parts.append(f"## {notebook}\n")
        for exercise in exercises:
            parts.append(f"### {exercise.name}: {exercise.title}\n\n{exercise.task}\n\n*Hint:* {exercise.hint_text}\n\n"
                         f"```python\n{exercise.solution_code}\n```\n")
    return "\n".join(parts)
