"""What a Colab reader meets: the upload that takes a phone photo, and the line that says how to get the demo
page's Gradio. Colab is a stand-in `google.colab` package (tests/colab_standin) imported as Colab's kernel
imports it; its `files.upload()` answers as Colab's does."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import nbformat  # noqa: E402
import pytest  # noqa: E402
from PIL import Image  # noqa: E402

from helpers import config
from helpers.tool import extras  # noqa: E402
from helpers.interactive import colab_upload, image_upload  # noqa: E402

from test_interactive import upload_value  # noqa: E402

STANDIN = Path(__file__).resolve().parent / "colab_standin"
FIRST_NOTEBOOK = Path(__file__).resolve().parent.parent / "notebooks" / "01_reverse_image_search.ipynb"


@pytest.fixture
def colab(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """This process looks like a Colab kernel until the test ends; uploads land in tmp_path, as in /content."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(STANDIN))
    for name in ("google.colab", "google.colab.files"):
        monkeypatch.delitem(sys.modules, name, raising=False)  # removed again after the test
    importlib.import_module("google.colab")
    assert config.in_colab()


def figure_of(received: list):
    def on_image(image: Image.Image):
        received.append(image)
        figure, _ = plt.subplots()
        return figure
    return on_image


def test_colab_upload_searches_with_a_3_mb_photo(colab, phone_photo, monkeypatch):
    monkeypatch.setenv("COLAB_STANDIN_UPLOAD", str(phone_photo))
    received = []
    output = colab_upload(figure_of(received))
    (image,) = received
    assert image.mode == "RGB" and image.size == (1920, 1440)
    assert [shown["output_type"] for shown in output.outputs] == ["display_data"]


@pytest.mark.parametrize("chosen", ["", "empty.jpg"], ids=["cancelled", "empty file"])
def test_colab_upload_with_nothing_says_so_in_one_line(colab, monkeypatch, tmp_path, chosen):
    if chosen:
        (tmp_path / chosen).write_bytes(b"")
    monkeypatch.setenv("COLAB_STANDIN_UPLOAD", str(tmp_path / chosen) if chosen else "")
    received = []
    output = colab_upload(figure_of(received))
    assert received == []
    (shown,) = output.outputs
    assert shown["name"] == "stdout" and shown["text"].count("\n") == 1
    assert shown["text"].startswith("Could not search: the upload arrived empty.") and "MY_IMAGE" in shown["text"]


def test_the_upload_button_says_when_a_file_arrives_empty_or_too_large():
    received = []
    widget = image_upload(figure_of(received))
    widget.children[0].value = upload_value("phone.jpg", b"")  # what the button delivers on Colab from 1 MB up
    (shown,) = widget.children[1].outputs
    assert shown["text"].startswith("Could not search: the upload arrived empty.")
    widget.children[0].value = upload_value("huge.jpg", b"\xff" * (config.MAX_UPLOAD_MB * 1024 * 1024 + 1))
    (shown,) = widget.children[1].outputs
    assert shown["text"] == (f"Could not search: the file has {config.MAX_UPLOAD_MB:.1f} MB, over the limit of "
                             f"{config.MAX_UPLOAD_MB} MB. Upload a smaller copy, or set MY_IMAGE to its path and "
                             "run the cell.\n")
    assert received == []


def test_the_demo_page_names_the_install_command_of_where_it_runs():
    assert extras.where() == "checkout"  # the tests run from the checkout, installed editable by make setup
    notebook = f'%pip install "image-search-milvus[app] @ {extras.SOURCE_URL}"'
    assert f'"image-search-milvus @ {extras.SOURCE_URL}"' in nbformat.read(FIRST_NOTEBOOK, as_version=4).cells[1].source
    assert extras.gradio_problem(None, "notebook") == (
        f"The demo page needs Gradio 6 (the app extra), which is not installed: {notebook}")
    assert extras.gradio_problem("5.49.1", "terminal") == (
        'The demo page needs Gradio 6 (the app extra); this environment has Gradio 5.49.1: '
        'pip install "image-search-milvus[app]"')
    assert extras.gradio_problem(None, "checkout").endswith(f"make setup (in a terminal, in {extras.CHECKOUT})")
    assert extras.gradio_problem("6.0.2", "notebook") is None
    extras.require_gradio()  # make setup installs the right one
    importlib.import_module("gradio")  # once loaded, a notebook's kernel keeps the old one until a restart
    assert extras.gradio_problem("5.49.1", "notebook").endswith(
        f"{notebook}, then restart the kernel (Colab: Runtime > Restart session)")
