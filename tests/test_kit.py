"""`python -m helpers kit DIR` end to end: built from a local HTTP server (a dataset zip of real JPEGs, and stand-in
weights served the way the Hugging Face hub serves a file), copied elsewhere, then with the network unreachable
(`unshare -n`: no route, no DNS) the kit's README install command fills a fresh venv from its wheelhouse and the
kit's caches serve a search."""

from __future__ import annotations

import hashlib
import io
import json
import re
import shutil
import subprocess
import sys
import threading
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import torch
from PIL import Image

from conftest import HELPERS, LOOPBACK
from helpers import config, standins
from venvs import clean_env, new_venv, packages_without, run

CLASSES = [f"class_{index:03d}" for index in range(100)]  # the layout fetch_dataset checks: 1000 train, 100 test
COMMIT = "0123456789abcdef0123456789abcdef01234567"
WEIGHTS_PATH = "/timm/resnet34.a1_in1k/resolve/main/model.safetensors"


def _jpeg(seed: int) -> bytes:
    image = Image.new("RGB", (32, 32), ((seed * 37) % 256, (seed * 91) % 256, (seed * 53) % 256))
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG")
    return buffer.getvalue()


def _dataset_zip() -> bytes:
    buffer, seed = io.BytesIO(), 0
    with zipfile.ZipFile(buffer, "w") as archive:
        for name in CLASSES:
            for split, count in (("train", 10), ("test", 1)):
                for index in range(count):
                    seed += 1
                    archive.writestr(f"reverse_image_search/{split}/{name}/n{seed:05d}_{index}.JPEG", _jpeg(seed))
    return buffer.getvalue()


def _standin_safetensors() -> bytes:
    """resnet34's seeded stand-in checkpoint as the safetensors file timm's hub repo holds."""
    from safetensors.torch import save

    state = torch.load(standins.timm_checkpoint("resnet34"), map_location="cpu", weights_only=True)
    return save({key: value.contiguous() for key, value in state.items()})


@pytest.fixture(scope="module")
def server():
    """http://127.0.0.1:PORT serving the dataset zip and, as the hub does, resnet34's weights; 404 elsewhere."""
    files = {"/reverse_image_search.zip": _dataset_zip(), WEIGHTS_PATH: _standin_safetensors()}

    class Handler(BaseHTTPRequestHandler):
        def do_HEAD(self):
            self._answer(body=False)

        def do_GET(self):
            self._answer(body=True)

        def _answer(self, body: bool):
            data = files.get(self.path.split("?")[0])
            if data is None:
                self.send_response(404)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self.send_response(200)
            self.send_header("Content-Length", str(len(data)))
            self.send_header("ETag", f'"{hashlib.sha256(data).hexdigest()}"')
            self.send_header("X-Repo-Commit", COMMIT)
            self.end_headers()
            if body:
                self.wfile.write(data)

        def log_message(self, *args):
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_port}"
    httpd.shutdown()


def _online_env(tmp: Path, **settings: str) -> dict:
    """Offline mode off, library caches in a folder of their own (so what the kit serves is the kit's)."""
    (tmp / "home").mkdir(exist_ok=True)
    env = clean_env(HF_HOME=str(tmp / "hf-home"), TORCH_HOME=str(tmp / "torch-home"), HOME=str(tmp / "home"),
                    NO_PROXY=",".join(LOOPBACK), no_proxy=",".join(LOOPBACK), **settings)
    env.pop(config.OFFLINE_ENV, None)
    env.pop(config.CACHE_ENV, None)
    return env


def _unreachable(command: list, cwd: Path, env: dict) -> str:
    """`command` with the network unreachable: no route, no DNS; only the loopback, which Milvus Lite listens on."""
    return run(["unshare", "-n", "sh", "-c", 'ip link set lo up && exec "$@"', "sh", *command], cwd, env)


def test_a_kit_built_here_installs_and_searches_elsewhere_with_no_network(server, tmp_path):
    built = tmp_path / "built"
    env = _online_env(tmp_path, HF_ENDPOINT=server, PYTHONPATH=str(Path(__file__).resolve().parents[1]))
    printed = run([*HELPERS, "kit", built, "--datasets", "reverse_image_search", "--models", "resnet34",
                   "--wheels", "project", "--dataset-url", f"reverse_image_search={server}/reverse_image_search.zip"],
                  tmp_path, env)
    assert "Kit ready" in printed
    assert (built / "huggingface" / "hub" / "models--timm--resnet34.a1_in1k").is_dir()  # the hub's own layout
    assert not list(built.glob("datasets/*/*.zip"))  # extracted once; the zip is not kept
    assert list((built / "notebooks").glob("01_*.ipynb"))

    kit = tmp_path / "usb stick" / "kit"  # another path, with a space in it; the built one is gone
    shutil.copytree(built, kit, symlinks=True)
    shutil.rmtree(built)

    readme = (kit / "README.md").read_text()
    commands = re.search(r"```bash\n(.*?)```", readme, re.DOTALL).group(1).splitlines()
    venv_python = "~/image-search-venv/bin/python"
    install = next(line for line in commands if "pip install" in line)
    assert install.startswith(f"{venv_python} -m pip install --no-index --find-links wheels ")
    python = new_venv(tmp_path / "venv", clean_env(), packages_without(tmp_path / "deps"))
    _unreachable(["bash", "-c", install.replace(venv_python, str(python))], kit, clean_env())

    attendee = _online_env(tmp_path, **{config.KIT_ENV: str(kit)})
    where = _unreachable([python, "-c", "import helpers, json; from helpers.datasets import fetch_dataset; "
                          "print(json.dumps([helpers.__file__, str(fetch_dataset('reverse_image_search'))]))"],
                         tmp_path, attendee)
    module, root = (Path(path) for path in json.loads(where))
    assert module.is_relative_to(tmp_path / "venv") and root.is_relative_to(kit), where
    photos = root / "train" / CLASSES[0]
    db = tmp_path / "kit.db"
    _unreachable([python, "-m", "helpers", "index", photos, "--db", db], tmp_path, attendee)
    query = sorted(photos.iterdir())[3]
    hits = json.loads(_unreachable([python, "-m", "helpers", "search", query, "--db", db, "--json"], tmp_path,
                                   attendee))
    assert Path(hits[0]["path"]).resolve() == query.resolve() and len(hits) == 10
    fetched = _unreachable([python, "-m", "helpers", "download", "resnet34"], tmp_path, attendee)
    assert str(kit / "huggingface" / "hub") in fetched
    assert not (tmp_path / "hf-home").exists()  # nothing went to the library's usual cache


IMPORTS = "import time; started = time.monotonic(); import helpers.tool.cli, helpers.encoders, timm\n"
IN_A_NOTEBOOK = """
from IPython.core.interactiveshell import InteractiveShell
shell = InteractiveShell.instance()
shell.run_cell("from helpers.encoders import load_encoder")
print("--- the cell:", flush=True)
loading = time.monotonic()
shell.run_cell("load_encoder('resnet34', device='cpu')")
print(f"--- {time.monotonic() - loading:.1f} s")
"""
IN_A_TERMINAL = """
import sys
from helpers.tool.cli import main
loading = time.monotonic()
status = main(["download", "resnet34"])
print(f"--- {time.monotonic() - loading:.1f} s status {status}")
"""


@pytest.mark.parametrize("where", ["terminal", "notebook"])
def test_a_failed_weights_download_with_no_network_is_one_quick_line(where, tmp_path):
    """Offline mode off and no network: the weights download fails within 10 s of the imports, in one line that says
    how to switch offline mode on in a running notebook and how to use a kit; no retry noise."""
    env = _online_env(tmp_path, PYTHONPATH=str(Path(__file__).resolve().parents[1]))
    script = IMPORTS + (IN_A_TERMINAL if where == "terminal" else IN_A_NOTEBOOK)
    result = subprocess.run(["unshare", "-n", sys.executable, "-c", script], env=env, capture_output=True, text=True,
                            timeout=300)
    printed = (result.stdout + result.stderr).split("--- the cell:")[-1]
    seconds = float(re.search(r"--- ([0-9.]+) s", printed).group(1))
    lines = [line for line in printed.splitlines() if line.strip() and not line.startswith("---")]
    assert seconds <= 10 and len(lines) == 1, printed
    assert lines[0].startswith("error: Could not download the resnet34 weights" if where == "terminal"
                               else "DownloadError: Could not download the resnet34 weights"), printed
    for needed in ("%env IMAGE_SEARCH_OFFLINE=1", "settings cell", "IMAGE_SEARCH_KIT", "docs/workshop.md"):
        assert needed in lines[0]
