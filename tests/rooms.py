"""The helpers package as a learner meets it: which modules the notebooks' lessons reach through their imports.

Read statically (no code runs): every `import` in the notebooks' code cells and in the helpers modules, at the
top or inside a function, followed from module to module. The learner's closure is what the lessons reach;
`helpers.tool` (the command line, the demo page) and `helpers.exercises` (the exercises' checks) are left out
of the start, so a lesson that reaches them shows up as a tool module in the closure.
"""

from __future__ import annotations

import ast
import json
from pathlib import Path

from IPython.core.inputtransformer2 import TransformerManager

LEFT_OUT = ("helpers.tool", "helpers.exercises")  # imported by the quick-deploy cell and the exercises' checks
LESSONS = ("01", "02", "03")  # the reading budget's lessons; notebook 04 adds modules of its own (photo_library, ...)


def module_files(root: Path) -> dict[str, Path]:
    """Every module of the package below `root`, by dotted name (`helpers.indexing`, `helpers.tool.cli`)."""
    files = {}
    for path in sorted((root / "helpers").rglob("*.py")):
        parts = path.relative_to(root).with_suffix("").parts
        files[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return files


def _imported(tree: ast.AST, package: str, known: dict[str, Path]) -> set[str]:
    """The helpers modules `tree` imports (with their packages, which Python runs first); `package` is the
    package relative imports start from."""
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[:len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([node.module] if node.module else []))
            names |= {base} | {f"{base}.{alias.name}" for alias in node.names}
    found = set()
    for name in names:
        parts = name.split(".")
        found |= {".".join(parts[:end]) for end in range(1, len(parts) + 1)} & known.keys()
    return found


def import_graph(root: Path) -> dict[str, set[str]]:
    """For each helpers module, the helpers modules it imports."""
    files = module_files(root)
    graph = {}
    for name, path in files.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        graph[name] = _imported(ast.parse(path.read_text(encoding="utf-8")), package, files) - {name}
    return graph


def notebook_imports(root: Path, prefixes: tuple[str, ...] = LESSONS) -> set[str]:
    """The helpers modules the lessons' code cells import (notebooks whose names start with `prefixes`)."""
    files = module_files(root)
    found: set[str] = set()
    for notebook in sorted((root / "notebooks").glob("*.ipynb")):
        if notebook.name.startswith(prefixes):
            for cell in json.loads(notebook.read_text(encoding="utf-8"))["cells"]:
                if cell["cell_type"] == "code":
                    code = TransformerManager().transform_cell("".join(cell["source"]))  # `%pip` as Python
                    found |= _imported(ast.parse(code), "", files)
    return found


def closure(graph: dict[str, set[str]], start: set[str]) -> set[str]:
    """`start` and every module reached from it through the graph."""
    reached, todo = set(), list(start)
    while todo:
        name = todo.pop()
        if name not in reached:
            reached.add(name)
            todo += graph.get(name, ())
    return reached


def is_left_out(name: str, left_out: tuple[str, ...] = LEFT_OUT) -> bool:
    return any(name == prefix or name.startswith(prefix + ".") for prefix in left_out)


def learner_closure(root: Path, left_out: tuple[str, ...] = LEFT_OUT) -> set[str]:
    """The helpers modules the lessons reach, starting from their imports but the tool's and the exercises'."""
    start = {name for name in notebook_imports(root) if not is_left_out(name, left_out)}
    return closure(import_graph(root), start)


def lines(root: Path, modules: set[str]) -> int:
    """The lines of `modules`' files, all counted."""
    files = module_files(root)
    return sum(len(files[name].read_text(encoding="utf-8").splitlines()) for name in modules)


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One import loop per module that starts one (empty when the graph has no loop)."""
    found, done = [], set()

    def visit(name: str, trail: list[str]) -> None:
        if name in trail:
            found.append(trail[trail.index(name):] + [name])
            return
        if name not in done:
            for other in sorted(graph[name]):
                visit(other, trail + [name])
            done.add(name)

    for name in sorted(graph):
        visit(name, [])
    return found


if __name__ == "__main__":
    import sys

    where = Path(sys.argv[1] if len(sys.argv) > 1 else Path(__file__).resolve().parent.parent)
    reached = learner_closure(where, tuple(sys.argv[2:]) or LEFT_OUT)
    print(f"{len(reached)} modules, {lines(where, reached)} lines")
    for name in sorted(reached):
        print(f"  {lines(where, {name}):>5}  {name}")
    print("cycles:", cycles(import_graph(where)) or "none")
