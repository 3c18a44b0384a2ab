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
def wheel(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    """(the wheel of this checkout, environment to run it in)."""
    base = tmp_path_factory.mktemp("wheel")
    env = {key: value for key, value in os.environ.items() if key not in ("PYTHONPATH", "PYTHONHOME")}
    env.update(IMAGE_SEARCH_OFFLINE="1", PIP_NO_INDEX="1", PIP_DISABLE_PIP_VERSION_CHECK="1")
    source = base / "source"  # a copy, so building writes nothing into the checkout
    shutil.copytree(ROOT, source, ignore=NOT_SOURCE)
    _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-w", base / "dist", source],
         base, env)
    (built,) = (base / "dist").glob("image_search_milvus-*.whl")
    return built, env


def _venv(folder: Path, wheel: Path, env: dict, dependencies: Path) -> Path:
    """The python of a fresh venv in `folder` holding only `wheel`, its dependencies found in `dependencies`,
    after the venv's own packages; a plain path, so the .pth files there (the editable install of the
    checkout) are not run."""
    _run([sys.executable, "-m", "venv", folder], folder.parent, env)
    python = folder / "bin" / "python"
    _run([python, "-m", "pip", "install", "--no-deps", wheel], folder.parent, env)
    packages = Path(_run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], folder.parent,
                         env).strip())
    (packages / "dependencies.pth").write_text(f"{dependencies}\n")
    return python


@pytest.fixture(scope="module")
def installed(wheel: tuple[Path, dict], tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    """(python of a fresh venv with the wheel and this environment's packages, environment to run it in)."""
    built, env = wheel
    return _venv(tmp_path_factory.mktemp("venv") / "venv", built, env, Path(sysconfig.get_paths()["purelib"])), env


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


def test_without_gradio_the_demo_page_names_the_command_that_installs_it_here(wheel, tmp_path):
    """A fresh venv outside the checkout with every dependency but Gradio (the app extra not installed)."""
    built, env = wheel
    without = tmp_path / "without_gradio"
    without.mkdir()
    for entry in Path(sysconfig.get_paths()["purelib"]).iterdir():
        if not entry.name.lower().startswith(("gradio", "__editable__", "image_search_milvus")):
            (without / entry.name).symlink_to(entry)
    python = _venv(tmp_path / "venv", built, env, without)
    run = subprocess.run([str(python), "-m", "helpers", "app", "--db", "photos.db"], cwd=tmp_path, env=env,
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 2 and run.stderr == (
        'error: The demo page needs Gradio 6 (the app extra), which is not installed: '
        'pip install "image-search-milvus[app]"\n')
    in_a_kernel = subprocess.run([str(python), "-c", "import ipykernel\nfrom helpers.app import launch"], cwd=tmp_path,
                                 env=env, capture_output=True, text=True, timeout=300)
    assert in_a_kernel.stderr.strip().splitlines()[-1] == (
        'ImportError: The demo page needs Gradio 6 (the app extra), which is not installed: %pip install '
        '"image-search-milvus[app] @ git+https://github.com/image-search-milvus/image-search-milvus"')
