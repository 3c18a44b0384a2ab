"""The package as users install it (Colab: `%pip install git+...`, not editable): build the wheel, install
it into a fresh virtual environment and run the command line offline from a folder outside the checkout."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from venvs import PACKAGES, clean_env, new_venv, packages_without, run

ROOT = Path(__file__).resolve().parent.parent
NOT_SOURCE = shutil.ignore_patterns(".git", ".venv", "build", "*.egg-info", "__pycache__", ".pytest_cache",
                                    "notebooks", "*.db")
NOTEBOOK_COMMAND = '%pip install "image-search-milvus[app] @ git+https://github.com/image-search-milvus/image-search-milvus"'


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    """(the wheel of this checkout, environment to run it in)."""
    base = tmp_path_factory.mktemp("wheel")
    env = clean_env(IMAGE_SEARCH_OFFLINE="1", PIP_NO_INDEX="1")
    source = base / "source"  # a copy, so building writes nothing into the checkout
    shutil.copytree(ROOT, source, ignore=NOT_SOURCE)
    run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-w", base / "dist", source],
        base, env)
    (built,) = (base / "dist").glob("image_search_milvus-*.whl")
    return built, env


@pytest.fixture(scope="module")
def installed(wheel: tuple[Path, dict], tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    """(python of a fresh venv with the wheel and this environment's packages, environment to run it in)."""
    built, env = wheel
    return new_venv(tmp_path_factory.mktemp("venv") / "venv", env, PACKAGES, built), env


def demo_page_messages(python: Path, folder: Path, env: dict, kernel_imports: str = "ipykernel") -> tuple[str, str]:
    """What `python -m helpers app` prints to stderr in a terminal, and the last line of the traceback of
    `from helpers.tool.app import launch` in a kernel (after `import kernel_imports`), run in `folder`."""
    terminal = subprocess.run([str(python), "-m", "helpers", "app", "--db", "photos.db"], cwd=folder, env=env,
                              capture_output=True, text=True, timeout=300)
    assert terminal.returncode == 2, terminal.stderr
    in_a_kernel = subprocess.run([str(python), "-c", f"import {kernel_imports}\nfrom helpers.tool.app import launch"],
                                 cwd=folder, env=env, capture_output=True, text=True, timeout=300)
    return terminal.stderr, in_a_kernel.stderr.strip().splitlines()[-1]


def test_the_installed_package_runs_offline_outside_the_checkout(installed, tmp_path):
    python, env = installed
    venv = python.parent.parent
    where = json.loads(run([python, "-c", "import json, helpers; from helpers.datasets import fetch_dataset; "
                            "print(json.dumps([helpers.__file__, str(fetch_dataset('reverse_image_search'))]))"],
                           tmp_path, env))
    module, samples = (Path(path) for path in where)
    assert module.is_relative_to(venv) and samples.is_relative_to(venv), where  # the wheel's, not the checkout's
    shutil.copytree(samples / "train", tmp_path / "photos")
    query = next((tmp_path / "photos" / "Afghan_hound").glob("*.JPEG"))

    db = tmp_path / "photos.db"
    run([python, "-m", "helpers", "index", "photos", "--db", db], tmp_path, env)
    hits = json.loads(run([python, "-m", "helpers", "search", query.relative_to(tmp_path), "--db", db, "--json"],
                          tmp_path, env))
    assert len(hits) == 10 and (tmp_path / hits[0]["path"]).resolve() == query.resolve()

    page = tmp_path / "exercises.md"  # the exercises' texts are package data: the wheel's make the same page
    run([python, "-m", "helpers", "exercises", "--page", page], tmp_path, env)
    assert page.read_text(encoding="utf-8") == (ROOT / "docs" / "exercises.md").read_text(encoding="utf-8")


def test_without_gradio_the_demo_page_names_the_command_that_installs_it_here(wheel, tmp_path):
    """A fresh venv outside the checkout with every dependency but Gradio (the app extra not installed)."""
    built, env = wheel
    python = new_venv(tmp_path / "venv", env, packages_without(tmp_path / "without_gradio", "gradio"), built)
    assert demo_page_messages(python, tmp_path, env) == (
        'error: The demo page needs Gradio 6 (the app extra), which is not installed: '
        'pip install "image-search-milvus[app]"\n',
        f'ImportError: The demo page needs Gradio 6 (the app extra), which is not installed: {NOTEBOOK_COMMAND}')


def test_with_gradio_5_the_demo_page_names_the_command_that_installs_gradio_6(wheel, tmp_path):
    """A fresh venv outside the checkout with the wheel and Gradio 5 from PyPI (with the Gradio client it needs),
    the other dependencies this environment's."""
    built, env = wheel
    python = new_venv(tmp_path / "venv", env, packages_without(tmp_path / "without_gradio", "gradio"), built)
    from_pypi = {key: value for key, value in env.items() if key != "PIP_NO_INDEX"}
    run([python, "-m", "pip", "install", "--quiet", "gradio>=5,<6"], tmp_path, from_pypi)
    version = run([python, "-c", "from importlib.metadata import version; print(version('gradio'))"], tmp_path,
                  env).strip()
    assert version.startswith("5.")
    has = f"The demo page needs Gradio 6 (the app extra); this environment has Gradio {version}"
    assert demo_page_messages(python, tmp_path, env) == (
        f'error: {has}: pip install "image-search-milvus[app]"\n', f"ImportError: {has}: {NOTEBOOK_COMMAND}")
    _, loaded = demo_page_messages(python, tmp_path, env, kernel_imports="ipykernel, gradio")
    assert loaded == f"ImportError: {has}: {NOTEBOOK_COMMAND}, then restart the kernel (Colab: Runtime > Restart session)"
