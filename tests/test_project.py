"""The project's own promises: clean notebooks, matching environments, the documented commands."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import nbformat
import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
CONDA_NAMES = {"pytorch": "torch"}


def test_there_are_three_notebooks():
    assert [path.name for path in NOTEBOOKS] == [
        "01_reverse_image_search.ipynb", "02_paintings_search.ipynb", "03_text_to_image_search.ipynb"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: path.name)
def test_notebook_is_committed_clean_with_a_python3_kernel(path):
    notebook = nbformat.read(path, as_version=4)
    nbformat.validate(notebook)
    assert notebook.metadata.kernelspec.name == "python3"
    for cell in notebook.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, f"{path.name} has outputs"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: path.name)
def test_notebook_opens_with_a_colab_badge_and_installs_only_on_colab(path):
    cells = nbformat.read(path, as_version=4).cells
    assert "colab-badge.svg" in cells[0].source and f"notebooks/{path.name})" in cells[0].source
    install = cells[1].source
    assert 'IS_COLAB = "google.colab" in sys.modules' in install
    assert re.search(r"if IS_COLAB:\n\s+%pip install", install)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: path.name)
def test_notebook_defines_no_logic_of_its_own(path):
    code = "\n".join(cell.source for cell in nbformat.read(path, as_version=4).cells if cell.cell_type == "code")
    assert "class " not in code
    for match in re.finditer(r"^def \w+\(.*\):\n((?:    .*\n?)+)", code, re.MULTILINE):
        assert len(match.group(1).strip().splitlines()) <= 1, f"a function in {path.name} holds logic"


def _base(requirement: str) -> str:
    return re.split(r"[<>=!~ \[;@]", requirement.strip(), maxsplit=1)[0].lower()


def test_environment_yml_lists_the_same_packages_as_pyproject():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = {_base(r) for r in project["dependencies"]}
    for extra in project["optional-dependencies"].values():
        wanted |= {_base(r) for r in extra}
    conda = yaml.safe_load((ROOT / "environment.yml").read_text())["dependencies"]
    listed = set()
    for entry in conda:
        entries = entry["pip"] if isinstance(entry, dict) else [entry]
        listed |= {CONDA_NAMES.get(_base(e), _base(e)) for e in entries}
    assert listed - {"python", "pip"} == wanted


def test_readme_shows_the_two_commands_first_and_ci_runs_the_test_command():
    readme = (ROOT / "README.md").read_text()
    first_block = re.search(r"```(?:bash|sh)?\n(.*?)```", readme, re.DOTALL).group(1)
    assert "make lab" in first_block and "make test" in first_block
    assert re.search(r"^make test$", (ROOT / ".ci" / "run").read_text(), re.MULTILINE)


def _python_floor() -> tuple[int, ...]:
    requires = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["requires-python"]
    return tuple(int(part) for part in re.fullmatch(r">=\s*(\d+(?:\.\d+)*)", requires).group(1).split("."))


def test_the_python_floor_covers_the_standard_library_the_suite_uses():
    """tomllib (this file) is new in Python 3.11; README and environment.yml say the same floor."""
    floor = _python_floor()
    assert floor >= (3, 11)
    assert f"Python {floor[0]}.{floor[1]}+" in (ROOT / "README.md").read_text()
    conda = yaml.safe_load((ROOT / "environment.yml").read_text())["dependencies"]
    assert f"python={floor[0]}.{floor[1]}" in conda


def _pins() -> dict[str, str]:
    lines = (ROOT / "constraints.txt").read_text().splitlines()
    return dict(line.split("==") for line in lines if "==" in line and not line.startswith("#"))


@pytest.mark.parametrize("package", ["pymilvus", "milvus-lite"])
def test_milvus_floors_are_the_tested_versions(package):
    """The code needs Milvus Lite 3 (a folder per database): the floor is what constraints.txt tests."""
    floor = f"{package}>={_pins()[package]}"
    assert floor in tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    conda = yaml.safe_load((ROOT / "environment.yml").read_text())["dependencies"]
    assert floor in next(entry["pip"] for entry in conda if isinstance(entry, dict))


def _relative_imports(path: Path) -> set[str]:
    """The helpers modules `path` imports, at the top or inside a function."""
    import ast

    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.level == 1:
            found |= {node.module.split(".")[0]} if node.module else {alias.name for alias in node.names}
    return found


def test_helpers_modules_import_each_other_without_a_cycle():
    modules = {path.stem: path for path in (ROOT / "helpers").glob("*.py")}
    graph = {name: _relative_imports(path) & modules.keys() for name, path in modules.items()}
    done: set[str] = set()

    def visit(name: str, trail: tuple[str, ...]) -> None:
        assert name not in trail, f"import cycle: {' -> '.join((*trail, name))}"
        if name not in done:
            for other in sorted(graph[name]):
                visit(other, (*trail, name))
            done.add(name)

    for name in sorted(graph):
        visit(name, ())


def test_importing_helpers_loads_neither_torch_nor_faiss():
    import subprocess
    import sys

    code = "import helpers, sys; print(sorted({'torch', 'faiss'} & set(sys.modules)))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    assert result.stdout.strip() == "[]", result.stderr
