"""The package as users install it (Colab: `%pip install git+...`, not editable): build the wheel, install
it into a fresh virtual environment and run the command line offline from a folder outside the checkout."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
NOT_SOURCE = shutil.ignore_patterns(".git", ".venv", "build", "*.egg-info", "__pycache__", ".pytest_cache",
                                    "notebooks", "*.db")


def _run(command: list, cwd: Path, env: dict) -> str:
    result = subprocess.run([str(part) for part in command], cwd=cwd, env=env, capture_output=True, text=True,
                            timeout=600)
    assert result.returncode == 0, f"{' '.join(map(str, command))} failed:\n{result.stdout}\n{result.stderr}"
    return result.stdout


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    """(python of a fresh venv holding only the wheel of this checkout, environment to run it in)."""
    base = tmp_path_factory.mktemp("wheel")
    env = {key: value for key, value in os.environ.items() if key not in ("PYTHONPATH", "PYTHONHOME")}
    env.update(IMAGE_SEARCH_OFFLINE="1", PIP_NO_INDEX="1", PIP_DISABLE_PIP_VERSION_CHECK="1")
    source = base / "source"  # a copy, so building writes nothing into the checkout
    shutil.copytree(ROOT, source, ignore=NOT_SOURCE)
    _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-w", base / "dist", source],
         base, env)
    (wheel,) = (base / "dist").glob("image_search_milvus-*.whl")
    venv = base / "venv"
    _run([sys.executable, "-m", "venv", venv], base, env)
    python = venv / "bin" / "python"
    _run([python, "-m", "pip", "install", "--no-deps", wheel], base, env)
    # The dependencies (torch, Milvus Lite, ...) come from this environment, after the venv's own packages;
    # a plain path, so this environment's .pth files (the editable install of the checkout) are not run.
    packages = Path(_run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], base, env).strip())
    (packages / "dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    return python, env


def test_the_installed_package_runs_offline_outside_the_checkout(installed, tmp_path):
    python, env = installed
    venv = python.parent.parent
    where = json.loads(_run([python, "-c", "import json, helpers; from helpers.datasets import fetch_dataset; "
                             "print(json.dumps([helpers.__file__, str(fetch_dataset('reverse_image_search'))]))"],
                            tmp_path, env))
    module, samples = (Path(path) for path in where)
    assert module.is_relative_to(venv) and samples.is_relative_to(venv), where  # the wheel's, not the checkout's
    shutil.copytree(samples / "train", tmp_path / "photos")
    query = next((tmp_path / "photos" / "Afghan_hound").glob("*.JPEG"))

    db = tmp_path / "photos.db"
    _run([python, "-m", "helpers", "index", "photos", "--db", db], tmp_path, env)
    hits = json.loads(_run([python, "-m", "helpers", "search", query.relative_to(tmp_path), "--db", db, "--json"],
                           tmp_path, env))
    assert len(hits) == 10 and (tmp_path / hits[0]["path"]).resolve() == query.resolve()
