"""Each notebook in JupyterLab in Chromium, as a reader meets it: Run All, then its widget, then the figure.

JupyterLab runs on 127.0.0.1 over a copy of the notebooks, offline. A test fails on a traceback in any
output, on "Error displaying widget", or when the figure does not come. `make screenshots` keeps one
picture per notebook (set SCREENSHOTS to a folder).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import nbformat
import pytest

from conftest import IMAGENET_SAMPLE

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"
RUN_ALL_S = 900  # seconds for Run All on 2 busy cores
# True once `count` cells show an execution count ("[7]:") and none shows "[*]:" (running).
ALL_RAN = """count => {
    const prompts = [...document.querySelectorAll('.jp-InputArea-prompt')].map(prompt => prompt.textContent);
    return prompts.filter(text => /\\[\\d+\\]/.test(text)).length >= count && !prompts.some(text => text.includes('*'));
}"""


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The address of a JupyterLab serving a copy of the notebooks; stopped after the module."""
    folder = tmp_path_factory.mktemp("lab")
    for notebook in NOTEBOOKS.glob("*.ipynb"):
        shutil.copy(notebook, folder)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    command = [sys.executable, "-m", "jupyterlab", "--no-browser", "--allow-root", "--ip=127.0.0.1", f"--port={port}",
               "--IdentityProvider.token=", "--ServerApp.password=", f"--ServerApp.root_dir={folder}",
               "--LabApp.news_url=None", "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"]
    log = (folder / "lab.log").open("w")
    server = subprocess.Popen(command, env={**os.environ, "IMAGE_SEARCH_OFFLINE": "1"}, stdout=log,
                              stderr=subprocess.STDOUT)
    address = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and server.poll() is None:
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.5)
        else:
            pytest.fail(f"JupyterLab did not start:\n{(folder / 'lab.log').read_text()[-3000:]}", pytrace=False)
        yield address
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()


def run_all(page, lab: str, notebook: str) -> None:
    """Open the notebook, wait for its kernel, Run > Run All Cells, and wait until the kernel is idle again."""
    page.goto(f"{lab}/lab/workspaces/{Path(notebook).stem}/tree/{notebook}?reset")  # this notebook alone
    page.wait_for_selector(".jp-Notebook", timeout=120_000)
    idle = page.locator("#jp-main-statusbar").get_by_text("Idle")
    idle.wait_for(timeout=120_000)
    news = page.locator(".jp-toast-buttonBar").get_by_role("button", name="No", exact=True)
    if news.count():  # "Would you like to get notified about official Jupyter news?"
        news.click()
    page.get_by_role("menuitem", name="Run", exact=True).click()
    page.get_by_text("Run All Cells", exact=True).click()
    code_cells = sum(cell.cell_type == "code" for cell in nbformat.read(NOTEBOOKS / notebook, as_version=4).cells)
    page.wait_for_function(ALL_RAN, arg=code_cells, timeout=RUN_ALL_S * 1000, polling=500)
    idle.wait_for(timeout=60_000)


def assert_no_error(page) -> None:
    errors = page.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']")
    texts = [errors.nth(i).inner_text() for i in range(errors.count())]
    assert not [text for text in texts if "Traceback" in text or "Error" in text.split(":")[0]], texts
    assert page.get_by_text("Error displaying widget").count() == 0
    assert page.locator(".jp-RenderedText[data-mime-type='application/vnd.jupyter.error']").count() == 0


def keep(page, name: str) -> None:
    if folder := os.environ.get("SCREENSHOTS"):
        Path(folder).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(folder) / name))


def test_notebook_01_run_all_then_upload_a_photo(page, lab):
    run_all(page, lab, "01_reverse_image_search.ipynb")
    assert_no_error(page)
    with page.expect_file_chooser() as chooser:
        page.locator(".widget-upload").click()
    chooser.value.set_files(str(next((IMAGENET_SAMPLE / "test" / "castle").iterdir())))
    figure = page.locator(".widget-output img")
    figure.wait_for(timeout=120_000)
    figure.scroll_into_view_if_needed()
    assert figure.evaluate("image => image.naturalWidth") > 500
    assert_no_error(page)
    keep(page, "notebook_01_upload.png")


def test_notebook_02_run_all_shows_the_query_rows(page, lab):
    run_all(page, lab, "02_paintings_search.ipynb")
    assert_no_error(page)
    figures = page.locator(".jp-OutputArea-output img")
    # every query with its hits, the Monet-only search, the worst query with and without its painter, recall/time
    assert figures.count() == 4
    figures.first.scroll_into_view_if_needed()
    keep(page, "notebook_02_results.png")


def test_notebook_03_run_all_then_type_a_text(page, lab):
    run_all(page, lab, "03_text_to_image_search.ipynb")
    assert_no_error(page)
    box = page.locator(".widget-text input")
    box.fill("a white dog")
    box.press("Enter")
    figure = page.locator(".widget-output img")
    figure.wait_for(timeout=120_000)
    figure.scroll_into_view_if_needed()
    assert_no_error(page)
    keep(page, "notebook_03_text_box.png")
