"""Every notebook, run from the top offline in a real kernel, writes nothing on stderr: a notebook shows stderr in
red, which a learner takes for "something broke". Each runs with an empty cache, as on a first run, when the
stand-in weights are built. A notebook added later is checked too."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from helpers import config

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"


def red_text(nb: nbformat.NotebookNode) -> list[str]:
    """Each stderr output and error of the executed notebook, with its cell's id."""
    return [f"cell {cell.get('id')}: {output.get('text') or output.get('ename')}"
            for cell in nb.cells if cell.cell_type == "code" for output in cell.outputs
            if output.get("name") == "stderr" or output["output_type"] == "error"]


@pytest.mark.parametrize("notebook", sorted(path.name for path in NOTEBOOKS.glob("*.ipynb")))
def test_an_offline_run_all_writes_nothing_on_stderr(notebook, tmp_path, monkeypatch):
    monkeypatch.setenv(config.CACHE_ENV, str(tmp_path / "cache"))  # a first run: the stand-ins are built in it
    nb = nbformat.read(NOTEBOOKS / notebook, as_version=4)
    NotebookClient(nb, timeout=900, kernel_name="python3", allow_errors=True,
                   resources={"metadata": {"path": str(tmp_path)}}).execute()
    assert red_text(nb) == []


def test_red_text_finds_a_warning_in_a_run(tmp_path):
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("import warnings\nwarnings.warn('stale')"),
                                         nbformat.v4.new_code_cell("print('fine')")])
    NotebookClient(nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    [line] = red_text(nb)
    assert line.startswith("cell ") and "UserWarning: stale" in line
