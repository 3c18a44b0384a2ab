"""The project's own promises: clean notebooks, matching environments, the documented commands."""

from __future__ import annotations

import ast
import re
import json
import subprocess
import sys
import tomllib
from pathlib import Path

import nbformat
import pytest
import yaml
from IPython.core.inputtransformer2 import TransformerManager

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
CONDA_NAMES = {"pytorch": "torch"}


def test_there_are_four_notebooks():
    assert [path.name for path in NOTEBOOKS] == [
        "01_reverse_image_search.ipynb", "02_paintings_search.ipynb", "03_text_to_image_search.ipynb",
        "04_photo_library.ipynb"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: path.name)
def test_notebook_is_committed_clean_with_a_python3_kernel(path):
    notebook = nbformat.read(path, as_version=4)
    nbformat.validate(notebook)
    assert notebook.metadata.kernelspec.name == "python3"
    stored = json.loads(path.read_text(encoding="utf-8"))["cells"]
    assert all("id" in cell for cell in stored), f"{path.name} has a cell without an id (nbformat will require one)"
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


def code_of(path: Path) -> ast.Module:
    """A notebook's code cells as one Python module (IPython's `%pip` lines turned into plain Python)."""
    cells = nbformat.read(path, as_version=4).cells
    return ast.parse("\n".join(TransformerManager().transform_cell(c.source) for c in cells if c.cell_type == "code"))


def client_calls(module: ast.Module) -> dict[str, list[dict[str, str]]]:
    """Every `client.<method>(...)` call, by method, with the source of each keyword argument."""
    calls: dict[str, list[dict[str, str]]] = {}
    for node in ast.walk(module):
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                and isinstance(node.func.value, ast.Name) and node.func.value.id == "client"):
            keywords = {k.arg: ast.unparse(k.value) for k in node.keywords if k.arg}
            calls.setdefault(node.func.attr, []).append(keywords)
    return calls


# What each lesson teaches: pymilvus calls written out in the cells, with the original tutorials' parameters.
TAUGHT = {
    "01_reverse_image_search.ipynb": [
        ("insert", {"data": "rows[start:start + 256]"}),
        ("search", {"limit": "TOP_K", "output_fields": "['filename']", "search_params": "{'metric_type': 'COSINE'}"}),
        ("query", {"output_fields": "['count(*)']"}),
        ("query", {"output_fields": "['vector', 'filename']"}),
    ],
    "02_paintings_search.ipynb": [
        ("insert", {}),
        ("flush", {}),
        ("search", {"data": "queries.vectors", "limit": "TOP_K",
                    "search_params": "{'metric_type': 'L2', 'params': {'nprobe': 128}}"}),
        ("search", {"filter": "'painter == \"Monet\"'"}),
        ("query", {"filter": "'painter == \"Monet\"'", "output_fields": "['filepath']"}),
        ("release_collection", {}),
        ("drop_index", {"index_name": "index_name"}),
        ("create_index", {"index_params": "flat"}),
        ("create_index", {"index_params": "ivf"}),
        ("load_collection", {}),
        ("search", {"data": "queries.vectors", "search_params": "{'metric_type': 'IP'}"}),
        ("search", {"search_params": "{'metric_type': 'L2', 'params': {'nprobe': nprobe}}"}),
    ],
    "03_text_to_image_search.ipynb": [
        ("insert", {"data": "rows"}),
        ("search", {"data": "[encoder.embed_text(query_text)]", "limit": "10", "output_fields": "['filepath']"}),
        ("search", {"data": "encoder.embed_texts(texts)"}),
        ("search", {"data": "[encoder.embed_image(query_image)]"}),
        ("search", {"data": "class_vectors", "limit": "10"}),
    ],
    "04_photo_library.ipynb": [
        ("insert", {}),
        ("flush", {"collection_name": "COLLECTION"}),
        ("create_index", {"index_params": "index_params"}),
        ("describe_index", {}),
        ("search", {"search_params": "params"}),
        ("search", {"search_params": "{'metric_type': 'COSINE', 'params': {'radius': threshold, 'range_filter': 1.0, "
                                     "'ef': 64}}"}),
        ("upsert", {"collection_name": "ALBUM_COLLECTION"}),
        ("delete", {"filter": "f'path in {changes.removed}'"}),
        ("search", {"group_by_field": "'label'"}),
        ("hybrid_search", {"reqs": "[by_image, by_text]", "ranker": "RRFRanker(60)"}),
        ("hybrid_search", {"reqs": "[by_image, by_text]", "ranker": "WeightedRanker(0.5, 0.5)"}),
    ],
}
LESSON_IMPORTS = {"helpers", "pymilvus", "tqdm"}  # besides the standard library


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: path.name)
def test_notebook_writes_out_the_pymilvus_calls_it_teaches(path):
    module = code_of(path)
    calls = client_calls(module)
    for method, keywords in TAUGHT[path.name]:
        assert any(keywords.items() <= call.items() for call in calls.get(method, [])), \
            f"{path.name} has no client.{method}(...) with {keywords}"
    constructors = [n for n in ast.walk(module) if isinstance(n, ast.Call) and ast.unparse(n.func) == "MilvusClient"]
    assert constructors, f"{path.name} does not make its MilvusClient in a cell"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: path.name)
def test_notebook_defines_no_class_no_multi_line_function_and_imports_only_what_it_teaches(path):
    module = code_of(path)
    assert not [n for n in ast.walk(module) if isinstance(n, ast.ClassDef)], f"{path.name} defines a class"
    for function in (n for n in ast.walk(module) if isinstance(n, ast.FunctionDef)):
        assert len(function.body) == 1 and function.body[0].lineno == function.body[0].end_lineno, \
            f"{function.name} in {path.name} holds logic: move it to helpers and test it there"
    imported = {alias.name for n in ast.walk(module) if isinstance(n, ast.Import) for alias in n.names}
    imported |= {n.module for n in ast.walk(module) if isinstance(n, ast.ImportFrom)}
    allowed = LESSON_IMPORTS | set(sys.stdlib_module_names)
    assert {name.split(".")[0] for name in imported} <= allowed, f"{path.name} imports {imported}"


def _base(requirement: str) -> str:
    return re.split(r"[<>=!~ \[;@]", requirement.strip(), maxsplit=1)[0].lower()


def _floor(requirement: str) -> str:
    """The lowest version a requirement allows ("" when it names none)."""
    found = re.search(r">=\s*([\w.]+)", requirement.split(";")[0])
    return found[1] if found else ""


def test_environment_yml_lists_the_learners_packages_of_pyproject_with_the_same_floors():
    """The learner's environment, as `make lab` installs it: the dependencies and the lab and app extras, no test,
    each no older than pyproject allows (`pip install --no-deps` there checks no version)."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    requirements = project["dependencies"] + project["optional-dependencies"]["lab"] + project[
        "optional-dependencies"]["app"]
    wanted = {_base(r): _floor(r) for r in requirements}
    listed = {}
    for entry in yaml.safe_load((ROOT / "environment.yml").read_text())["dependencies"]:
        for each in entry["pip"] if isinstance(entry, dict) else [entry]:
            listed[CONDA_NAMES.get(_base(each), _base(each))] = _floor(each.split("#")[0])
    assert set(listed) - {"python", "pip"} == set(wanted)
    assert {name: floor for name, floor in listed.items() if name in wanted} == wanted


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


def _anchors(markdown: Path) -> set[str]:
    """GitHub's anchors of a Markdown file's headings: lower case, punctuation dropped, spaces as hyphens."""
    headings = re.findall(r"^#+ (.+)$", markdown.read_text(), re.MULTILINE)
    return {re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-") for heading in headings}


def test_every_relative_link_in_the_markdown_files_resolves():
    tracked = subprocess.run(["git", "ls-files", "*.md"], cwd=ROOT, capture_output=True, text=True, check=True)
    broken = []
    for name in tracked.stdout.split():
        source = ROOT / name
        for target in re.findall(r"\]\(([^)\s]+)\)", source.read_text()):
            if re.match(r"[a-z]+:", target):
                continue
            path, _, anchor = target.partition("#")
            linked = (source.parent / path).resolve() if path else source
            if not linked.exists() or (anchor and linked.suffix == ".md" and anchor not in _anchors(linked)):
                broken.append(f"{name}: {target}")
    assert not broken
