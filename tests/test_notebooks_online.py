"""With the offline switch off and no way out, each notebook stops at its first download, clearly."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

from helpers import config

from conftest import use_dead_proxy

NOTEBOOKS = sorted((Path(__file__).resolve().parent.parent / "notebooks").glob("*.ipynb"))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: path.name)
def test_without_the_switch_the_first_download_fails_with_the_helpers_message(path, tmp_path, monkeypatch):
    monkeypatch.delenv(config.OFFLINE_ENV)
    monkeypatch.setenv(config.CACHE_ENV, str(tmp_path / "cache"))
    use_dead_proxy(monkeypatch)
    notebook = nbformat.read(path, as_version=4)
    client = NotebookClient(notebook, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}})
    with pytest.raises(CellExecutionError) as failure:
        client.execute()
    executed = [cell for cell in notebook.cells if cell.cell_type == "code" and cell.get("execution_count")]
    failed_cell = executed[-1]
    assert "fetch_dataset(" in failed_cell.source
    assert all("fetch_dataset(" not in cell.source for cell in executed[:-1])
    message = str(failure.value)
    assert "DownloadError" in message and "every mirror failed" in message
    assert str(tmp_path / "cache") in message and "IMAGE_SEARCH_OFFLINE=1" in message
    assert "%env IMAGE_SEARCH_OFFLINE=1" in message and "IMAGE_SEARCH_KIT" in message  # in a running notebook
    assert not [p for p in (tmp_path / "cache").rglob("*") if p.suffix == ".zip"]  # nothing looks complete
