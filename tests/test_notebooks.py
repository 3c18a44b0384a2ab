"""Each notebook, run from the top in a real kernel (offline): its counts, then its widget, used after Run All."""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from venvs import clean_env, new_venv, packages_without

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"
CHECKED = "checked-output"  # the tag of the cells whose printed counts the tests compare

# Cells appended to a notebook: they use its widget as a reader would, in the same kernel, after every cell ran.
UPLOAD = """
from datetime import datetime, timezone


def upload_file(path):
    content = Path(path).read_bytes()
    upload.children[0].value = ({"name": Path(path).name, "type": "image/jpeg", "size": len(content),
                                 "content": memoryview(content), "last_modified": datetime.now(timezone.utc)},)
"""
SHOW = "print(json.dumps([[o['output_type'], o.get('text', '')] for o in {output}.outputs]))"


def run(notebook: str, tmp_path: Path, steps: list[str], output: str, checks: str = "",
        kernel: str = "python3") -> tuple[dict[str, str], list[list], nbformat.NotebookNode]:
    """Execute the notebook in `kernel`, then `checks` (assertions on its variables, after Run All), then one cell
    per step, each followed by a cell that prints what `output` shows. Returns the printed text of each
    cell tagged `checked-output`, what the widget showed after each step, and the executed notebook."""
    nb = nbformat.read(NOTEBOOKS / notebook, as_version=4)
    checked = [cell for cell in nb.cells if CHECKED in cell.metadata.get("tags", [])]
    shown = []
    if checks:
        nb.cells.append(nbformat.v4.new_code_cell(checks))
    nb.cells.append(nbformat.v4.new_code_cell("import json\nfrom pathlib import Path\n" + UPLOAD))
    for step in steps:
        nb.cells.append(nbformat.v4.new_code_cell(step))
        shown.append(nbformat.v4.new_code_cell(SHOW.format(output=output)))
        nb.cells.append(shown[-1])
    NotebookClient(nb, timeout=600, kernel_name=kernel, resources={"metadata": {"path": str(tmp_path)}}).execute()
    texts = {cell.source: "".join(o.get("text", "") for o in cell.outputs) for cell in checked}
    return texts, [json.loads(cell.outputs[0]["text"]) for cell in shown], nb


def test_notebook_01_counts_then_the_upload_button_after_run_all(tmp_path):
    texts, shown, _ = run("01_reverse_image_search.ipynb", tmp_path, [
        'upload_file(query)',
        'upload_file(data_root / "test" / "castle" / sorted(p.name for p in (data_root / "test" / "castle").iterdir())[0])\n'
        'Path("not_an_image.jpg").write_bytes(b"plain text")\nupload_file("not_an_image.jpg")',
        'import urllib.request\nassert urllib.request.urlopen(demo.local_url, timeout=30).status == 200  # Quick deploy\'s',
        'client.drop_collection(COLLECTION)\nupload_file(query)',
    ], output="upload.children[1]")
    assert list(texts.values()) == [
        "The collection 'image_embeddings' holds 80 images.\n",
        "Nothing new to index: all 80 images are already in the collection.\n",
    ]
    assert [kind for kind, _ in shown[0]] == ["display_data"]  # the figure of the hits
    (kind, text), = shown[1]
    assert kind == "stream" and text.startswith("Could not search: the uploaded file is not an image")
    assert shown[2] == shown[1]  # the demo page Run All launched serves, and the widget is as it was
    (kind, text), = shown[3]
    assert kind == "stream" and text.startswith("Could not search: Milvus says") and "image_embeddings" in text
    assert text.count("\n") == 1 and "Traceback" not in text


# Colab's kernel, which imports google.colab as it starts: here an IPython start-up file imports the stand-in in
# tests/colab_standin (its files.upload() returns the file named by $COLAB_STANDIN_UPLOAD), in a venv of its own.
# Its pip finds the packages `make setup` installed and clones the notebook's GitHub URL from this repository
# (git's insteadOf), so the install cells build the package from the last commit, offline.
REPOSITORY = "https://github.com/image-search-milvus/image-search-milvus"
STANDIN = Path(__file__).resolve().parent / "colab_standin"


@pytest.fixture
def colab_kernel(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, phone_photo: Path) -> str:
    """The name of a kernel that looks like Colab's and uploads `phone_photo` when the dialog opens."""
    startup = tmp_path / "ipython" / "profile_default" / "startup"
    startup.mkdir(parents=True)
    (startup / "00-colab.py").write_text(f"import sys\nsys.path.insert(0, {str(STANDIN)!r})\nimport google.colab\n")
    gitconfig = tmp_path / "gitconfig"
    gitconfig.write_text(f'[url "file://{ROOT}"]\n\tinsteadOf = {REPOSITORY}\n')
    python = new_venv(tmp_path / "colab_venv", clean_env(), packages_without(tmp_path / "packages"))
    spec = tmp_path / "jupyter" / "kernels" / "colab"
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [str(python), "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "Colab (stand-in)", "language": "python",
        "env": {"IPYTHONDIR": str(tmp_path / "ipython"), "GIT_CONFIG_GLOBAL": str(gitconfig),
                "PIP_NO_INDEX": "1", "PIP_NO_BUILD_ISOLATION": "0",  # pip reads this one inverted: 0 is no isolation
                "PIP_DISABLE_PIP_VERSION_CHECK": "1", "COLAB_STANDIN_UPLOAD": str(phone_photo)}}))
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "jupyter"))
    return "colab"


def own_image_cell() -> str:
    cells = nbformat.read(NOTEBOOKS / "01_reverse_image_search.ipynb", as_version=4).cells
    (source,) = [cell.source for cell in cells if "colab_upload(" in cell.source]
    return f"get_ipython().run_cell({source!r})"


# After Run All on Colab: helpers is the package the install cell built, the dialog's 3 MB photo was searched
# (the figure of its hits), and the quick-deploy cell's page serves with no share link (offline).
COLAB_CHECKS = """
import helpers, sys, urllib.request
from pathlib import Path
assert IS_COLAB and config.in_colab() and Path(helpers.__file__).is_relative_to(sys.prefix)
assert Path("phone.jpg").stat().st_size > 3_000_000  # Colab's dialog saves the file in the working folder
assert [shown["output_type"] for shown in upload.outputs] == ["display_data"]
assert demo.share_url is None and urllib.request.urlopen(demo.local_url, timeout=30).status == 200
"""


def test_notebook_01_on_colab_installs_searches_with_colab_upload_dialog_and_serves_the_page(tmp_path, colab_kernel):
    _, shown, nb = run("01_reverse_image_search.ipynb", tmp_path, [
        'import os\nos.environ["COLAB_STANDIN_UPLOAD"] = ""\n' + own_image_cell(),  # the dialog cancelled
    ], output="upload", checks=COLAB_CHECKS, kernel=colab_kernel)
    assert "Installed." in "".join(output.get("text", "") for output in nb.cells[1].outputs)
    assert shown[0] == [["stream", "Could not search: the upload arrived empty. Upload the file again, or set "
                                   "MY_IMAGE to its path and run the cell.\n"]]
    (deploy,) = [cell for cell in nb.cells if "demo = launch(" in cell.source]
    printed = "".join(output.get("text", "") for output in deploy.outputs if output.get("name") == "stderr")
    (page,) = [output["data"]["text/plain"] for output in deploy.outputs if output["output_type"] == "execute_result"]
    assert page.startswith("Image search page (Image search: image_embeddings): http://127.0.0.1:")
    assert printed.splitlines()[-1] == ("No public link in offline mode (IMAGE_SEARCH_OFFLINE=1): the page is served "
                                        f"at {page.split(': ')[-1]} only.")



@pytest.mark.parametrize("notebook", ["02_paintings_search.ipynb", "03_text_to_image_search.ipynb"])
def test_the_install_cell_of_notebooks_02_and_03_on_colab_installs_the_package(notebook, tmp_path, colab_kernel):
    install = nbformat.read(NOTEBOOKS / notebook, as_version=4).cells[1]
    check = nbformat.v4.new_code_cell("import helpers\nfrom pathlib import Path\n"
                                      "assert IS_COLAB and Path(helpers.__file__).is_relative_to(sys.prefix)")
    nb = nbformat.v4.new_notebook(cells=[install, check])
    NotebookClient(nb, timeout=600, kernel_name=colab_kernel, resources={"metadata": {"path": str(tmp_path)}}).execute()

# What notebook 02's measurements hold on the samples: 20 paintings give 5 IVF lists, searching all is exact,
# and the filtered search of the worst query returns only its painter.
CHECKS_02 = """
assert (rows, nlist, nprobes) == (20, 5, [1, 2, 4, 5]) and len(recalls) == len(seconds) == 4 and recalls[-1] == 1.0
assert recalls[0] < recalls[-1] and recalls == sorted(recalls)  # the index is built: one list of 5 misses neighbours
assert all(len(timings) == REPEATS > 1 for timings in seconds)
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
    texts, _, _ = run("02_paintings_search.ipynb", tmp_path, [], output="", checks=CHECKS_02)
    assert list(texts.values()) == [
        "The collection 'image_search' holds 20 paintings.\n",
        "Cezanne: 4 paintings\nDegas: 4 paintings\nMonet: 4 paintings\nRenoir: 4 paintings\nVanGogh: 4 paintings\n",
    ]
    assert (tmp_path / "search_result.png").stat().st_size > 10_000


def test_notebook_03_counts_then_the_text_box_after_run_all(tmp_path):
    texts, shown, _ = run("03_text_to_image_search.ipynb", tmp_path, [
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


# What notebook 04's measurements hold on the samples: every index searched was built over all 200 rows, recall
# is against the exact search, the sync left one row per file, grouping spreads the classes, and each of the four
# searches of the hybrid comparison answered every photo + text pair.
CHECKS_04 = """
assert len(rows) == 200 and nlist == 5 and list(INDEXES) == ["FLAT", "HNSW_SQ", "IVF_FLAT", "IVF_SQ8", "HNSW"]
assert client.describe_index(collection_name=COLLECTION, index_name="vector")["index_type"] == "HNSW"
assert len(ef_recalls) == len(efs) == 6 and all(0.0 <= recall <= 1.0 for recall in ef_recalls)
assert len(curve) == 30 and threshold in thresholds and len(similar) == len(copies) == 120
assert all(len(group) >= 2 for group in groups) and not client.has_collection(CHECK)
assert distinct_labels(grouped, "label", TOP_K) > distinct_labels(plain, "label", TOP_K)
assert len(pairs) == 24 and all(len(found) == 24 and all(len(hits) == TOP_K for hits in found) for found in results.values())
"""


def test_notebook_04_counts_its_sync_and_its_measurements(tmp_path):
    texts, _, nb = run("04_photo_library.ipynb", tmp_path, [], output="", checks=CHECKS_04)
    (changed,) = [cell.outputs for cell in nb.cells if "changed_path = " in cell.source]
    changed_path = "".join(output.get("text", "") for output in changed).split("changed ")[1].split(", deleted")[0]
    assert list(texts.values()) == [
        "80 gallery photos in 8 classes, 8 query photos\n"
        "120 near-copies (reencoded, resized, cropped, flipped, colour) of 24 photos\n",
        "The collection 'photo_library' holds 200 photos: 80 gallery photos and 120 near-copies.\n",
        "IVF_PQ:        index_type='IVF_PQ' is reserved for a future phase; supported: HNSW, HNSW_SQ, IVF_FLAT, "
        "IVF_SQ8, BRUTE_FORCE\n"
        "HNSW_PQ:       unknown index_type: 'HNSW_PQ'\n"
        "IVF_RABITQ:    unknown index_type: 'IVF_RABITQ'\n"
        "BINARY_VECTOR: field 'code' uses Milvus type BinaryVector which MilvusLite does not support. Phase 10.2 "
        "supports: BOOL, INT8/16/32/64, FLOAT, DOUBLE, VARCHAR, JSON, ARRAY, GEOMETRY, TIMESTAMPTZ, FLOAT_VECTOR, "
        "SPARSE_FLOAT_VECTOR.\n",
        "The album holds 16 photos; the collection 'album' holds 16 rows.\n",
        "Sync: added 3, changed 1, removed 2, unchanged 13\n",
        "Again: added 0, changed 0, removed 0, unchanged 17\n"
        "Files in the album: 17; rows: 17; the same paths: True; paths stored twice: 0; rows of deleted files: 0\n"
        f"{changed_path}: similarity of its stored vector to its new picture 1.000\n",
    ]
