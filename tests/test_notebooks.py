"""Each notebook, run from the top in a real kernel (offline): its counts, then its widget, used after Run All."""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
from nbclient import NotebookClient

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"

# Cells appended to a notebook: they use its widget as a reader would, in the same kernel, after every cell ran.
UPLOAD = """
from datetime import datetime, timezone


def upload_file(path):
    content = Path(path).read_bytes()
    upload.children[0].value = ({"name": Path(path).name, "type": "image/jpeg", "size": len(content),
                                 "content": memoryview(content), "last_modified": datetime.now(timezone.utc)},)
"""
SHOW = "print(json.dumps([[o['output_type'], o.get('text', '')] for o in {output}.outputs]))"


def run(notebook: str, tmp_path: Path, steps: list[str], output: str,
        checks: str = "") -> tuple[dict[str, str], list[list]]:
    """Execute the notebook, then `checks` (assertions on its variables, after Run All), then one cell per step,
    each followed by a cell that prints what `output` shows. Returns the printed text of each
    `# NBVAL_CHECK_OUTPUT` cell, and what the widget showed after each step."""
    nb = nbformat.read(NOTEBOOKS / notebook, as_version=4)
    checked = [cell for cell in nb.cells if cell.source.startswith("# NBVAL_CHECK_OUTPUT")]
    shown = []
    if checks:
        nb.cells.append(nbformat.v4.new_code_cell(checks))
    nb.cells.append(nbformat.v4.new_code_cell("import json\nfrom pathlib import Path\n" + UPLOAD))
    for step in steps:
        nb.cells.append(nbformat.v4.new_code_cell(step))
        shown.append(nbformat.v4.new_code_cell(SHOW.format(output=output)))
        nb.cells.append(shown[-1])
    NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    texts = {cell.source: "".join(o.get("text", "") for o in cell.outputs) for cell in checked}
    return texts, [json.loads(cell.outputs[0]["text"]) for cell in shown]


def test_notebook_01_counts_then_the_upload_button_after_run_all(tmp_path):
    texts, shown = run("01_reverse_image_search.ipynb", tmp_path, [
        'upload_file(query)',
        'upload_file(data_root / "test" / "castle" / sorted(p.name for p in (data_root / "test" / "castle").iterdir())[0])\n'
        'Path("not_an_image.jpg").write_bytes(b"plain text")\nupload_file("not_an_image.jpg")',
        'from helpers.app import launch\nimport urllib.request\ndemo = launch(MILVUS_URI, COLLECTION, encoder=encoder)\n'
        'assert urllib.request.urlopen(demo.local_url, timeout=30).status == 200  # a failure here fails the test',
        'client.drop_collection(COLLECTION)\nupload_file(query)',
    ], output="upload.children[1]")
    assert list(texts.values()) == [
        "The collection 'image_embeddings' holds 80 images.\n",
        "Nothing new to index: all 80 images are already in the collection.\n",
    ]
    assert [kind for kind, _ in shown[0]] == ["display_data"]  # the figure of the hits
    (kind, text), = shown[1]
    assert kind == "stream" and text.startswith("Could not search: the uploaded file is not an image")
    assert shown[2] == shown[1]  # launching the demo page from the notebook leaves the widget as it was
    (kind, text), = shown[3]
    assert kind == "stream" and text.startswith("Could not search: Milvus says") and "image_embeddings" in text
    assert text.count("\n") == 1 and "Traceback" not in text


# Colab, as its kernel is after start-up: google.colab imported (the stand-in in tests/colab_standin, whose
# files.upload() returns the file named by $COLAB_STANDIN_UPLOAD). Then the reader runs "Search with your own
# image" again, once choosing a phone-sized photo (over 1 MB, which the FileUpload button cannot take there),
# once cancelling the dialog.
COLAB = f"""
import os, sys
import numpy as np
from PIL import Image
sys.path.insert(0, {str(Path(__file__).resolve().parent / "colab_standin")!r})
import google.colab
Image.fromarray(np.random.default_rng(0).integers(0, 256, size=(1200, 1600, 3), dtype=np.uint8)).save("phone.jpg", quality=95)
assert Path("phone.jpg").stat().st_size > 1024 * 1024
"""


def own_image_cell() -> str:
    cells = nbformat.read(NOTEBOOKS / "01_reverse_image_search.ipynb", as_version=4).cells
    (source,) = [cell.source for cell in cells if "colab_upload(" in cell.source]
    return f"get_ipython().run_cell({source!r})"


def test_notebook_01_on_colab_searches_with_colab_upload_dialog(tmp_path):
    _, shown = run("01_reverse_image_search.ipynb", tmp_path, [
        COLAB + 'os.environ["COLAB_STANDIN_UPLOAD"] = "phone.jpg"\n' + own_image_cell(),
        'os.environ["COLAB_STANDIN_UPLOAD"] = ""\n' + own_image_cell(),
    ], output="upload")
    assert [kind for kind, _ in shown[0]] == ["display_data"]  # the figure of the hits
    assert shown[1] == [["stream", "Could not search: the upload arrived empty. Upload the file again, or set "
                                   "MY_IMAGE to its path and run the cell.\n"]]


# What notebook 02's measurements hold on the samples: 20 paintings give 5 IVF lists, searching all is exact,
# and the filtered search of the worst query returns only its painter.
CHECKS_02 = """
assert (rows, nlist, nprobes) == (20, 5, [1, 2, 4, 5]) and len(recalls) == len(seconds) == 4 and recalls[-1] == 1.0
assert len(same_painter.queries) == 5 and 0.0 <= same_painter.precision <= 1.0
assert {hit["entity"]["painter"] for hit in own_painter[0]} == {worst.label}
assert client.describe_index(collection_name=COLLECTION,
                             index_name=client.list_indexes(collection_name=COLLECTION)[0])["params"] == {"nlist": 5}
"""
CHECKS_03 = """
assert len(class_texts) == len(text_search.queries) == len(test_photos.sources) == 8
assert all(len(hits) == 10 for hits in class_results) and 0.0 <= accuracy <= 1.0
assert class_texts[classes.index("Afghan_hound")] == "a photo of a Afghan hound"
"""


def test_notebook_02_counts_its_measurements_and_its_saved_figure(tmp_path):
    texts, _ = run("02_paintings_search.ipynb", tmp_path, [], output="", checks=CHECKS_02)
    assert list(texts.values()) == [
        "The collection 'image_search' holds 20 paintings.\n",
        "Cezanne: 4 paintings\nDegas: 4 paintings\nMonet: 4 paintings\nRenoir: 4 paintings\nVanGogh: 4 paintings\n",
    ]
    assert (tmp_path / "search_result.png").stat().st_size > 10_000


def test_notebook_03_counts_then_the_text_box_after_run_all(tmp_path):
    texts, shown = run("03_text_to_image_search.ipynb", tmp_path, [
        'text_box.children[0].children[0].value = "a white dog"',
        'text_box.children[0].children[0].value = "   "',
        'client.drop_collection(COLLECTION)\ntext_box.children[0].children[0].value = "a red sports car"',
    ], output="text_box.children[1]", checks=CHECKS_03)
    assert list(texts.values()) == ["Inserted 80 images into Milvus.\n"]
    assert [kind for kind, _ in shown[0]] == ["display_data"]
    (kind, text), = shown[1]
    assert kind == "stream" and text.startswith("Could not search: ") and text.count("\n") == 1
    (kind, text), = shown[2]
    assert kind == "stream" and text.startswith("Could not search: Milvus says") and "image_collection" in text
    assert text.count("\n") == 1 and "Traceback" not in text
