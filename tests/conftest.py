"""Shared fixtures: offline mode for every test, sample folders, encoders loaded once per session."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from helpers import config

pytest_plugins = ["milvus_fixture", "browser", "real_weights"]

# Test tiers, set here from what a test uses, never by hand: `make check` leaves out the slow tiers.
TIER_BY_FIXTURE = {"browser": "browser", "page": "browser", "milvus_server": "server", "cli": "cli"}
TIER_BY_PARAMETER = {"server": "server"}  # a test parametrized over backends, in its "server" case
TIER_BY_FILE = {"test_wheel.py": "wheel", "test_notebooks.py": "notebook", "test_notebooks_online.py": "notebook",
                "test_exercises_notebooks.py": "notebook", "test_kit.py": "wheel", "test_install.py": "wheel",
                "test_clean_notebooks.py": "notebook",
                "test_jupyterlab.py": "browser", "test_interrupted_indexing.py": "cli", "test_sync.py": "cli",
                "test_idle_lite_client.py": "slow"}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark each test with its tiers: `browser` (Chromium), `server` (the Milvus server), `wheel` (a built,
    installed wheel), `notebook` (a notebook executed, under nbval or in a kernel), `cli` (the command line
    run in child processes, a model loaded in each: the `cli` fixture, and the interrupted-indexing file) and
    `slow` (a test that waits on the clock by design)."""
    for item in items:
        tiers = {TIER_BY_FIXTURE[name] for name in getattr(item, "fixturenames", ()) if name in TIER_BY_FIXTURE}
        parameters = getattr(item, "callspec", None)
        tiers |= {TIER_BY_PARAMETER[value] for value in (parameters.params.values() if parameters else ())
                  if isinstance(value, str) and value in TIER_BY_PARAMETER}
        tiers |= {TIER_BY_FILE[item.path.name]} if item.path.name in TIER_BY_FILE else set()
        tiers |= {"notebook"} if item.path.suffix == ".ipynb" else set()
        for tier in sorted(tiers):
            item.add_marker(getattr(pytest.mark, tier))


SAMPLES = config.SAMPLES_DIR
IMAGENET_SAMPLE = SAMPLES / "reverse_image_search"
PAINTINGS_SAMPLE = SAMPLES / "paintings"


LOOPBACK = ("127.0.0.1", "localhost", "::1")
DEAD_PROXY = "http://127.0.0.1:9"  # nothing listens there: a request sent to it fails at once


HELPERS = (sys.executable, "-m", "helpers")  # the command line, as a reader runs it


def cli_environment(env: dict[str, str] | None = None) -> dict[str, str]:
    """The environment of a command-line child process: this one's, offline unless `env` says otherwise."""
    return {**os.environ, config.OFFLINE_ENV: "1", **(env or {})}


def run_cli(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """`python -m helpers ARGS` in a child process, run to its end."""
    return subprocess.run([*HELPERS, *args], capture_output=True, text=True, env=cli_environment(env), cwd=cwd,
                          timeout=300)


@pytest.fixture(scope="session")
def cli():
    """`run_cli`, for the tests that run the command line (those that start it with `HELPERS` ask for it too):
    asking for it puts a test in the `cli` tier."""
    return run_cli


def use_dead_proxy(patch: pytest.MonkeyPatch) -> None:
    """Every proxy variable points at a proxy that does not answer, with no exceptions (NO_PROXY unset):
    what must not touch the network, or must not need a proxy, shows it."""
    for key in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy", "grpc_proxy"):
        patch.setenv(key, DEAD_PROXY)
    for key in ("NO_PROXY", "no_proxy"):
        patch.delenv(key, raising=False)


@pytest.fixture(autouse=True)
def offline(monkeypatch: pytest.MonkeyPatch) -> None:
    """No test touches the network: offline mode is on unless a test removes it. The tests' own servers
    (downloads, Milvus) live on 127.0.0.1, which a proxy from the environment (HTTP_PROXY) cannot reach."""
    monkeypatch.setenv(config.OFFLINE_ENV, "1")
    monkeypatch.delenv(config.URI_ENV, raising=False)
    monkeypatch.delenv(config.TOKEN_ENV, raising=False)
    for key in ("NO_PROXY", "no_proxy"):
        monkeypatch.setenv(key, ",".join(filter(None, [os.environ.get(key), *LOOPBACK])))


@pytest.fixture(scope="session")
def resnet34():
    from helpers.encoders import load_encoder

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(config.OFFLINE_ENV, "1")
        return load_encoder("resnet34", device="cpu")


@pytest.fixture(scope="session")
def clip_encoder():
    from helpers.encoders import load_encoder

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(config.OFFLINE_ENV, "1")
        return load_encoder("clip", device="cpu")


@pytest.fixture
def phone_photo(tmp_path: Path) -> Path:
    """A 1920x1440 JPEG of seeded noise, about 3 MB like a phone photo (on Colab, ipywidgets' upload button
    gets nothing from 1 MB up)."""
    pixels = np.random.default_rng(0).integers(0, 256, size=(1440, 1920, 3), dtype=np.uint8)
    path = tmp_path / "photos" / "phone.jpg"
    path.parent.mkdir()
    Image.fromarray(pixels).save(path, quality=95)
    assert 3_000_000 < path.stat().st_size < 3_500_000
    return path


@pytest.fixture
def train_copy(tmp_path: Path) -> Path:
    """A writable copy of the sample gallery (train/<class>/*.JPEG, 80 images)."""
    target = tmp_path / "train"
    shutil.copytree(IMAGENET_SAMPLE / "train", target)
    return target


@pytest.fixture
def small_train_copy(tmp_path: Path) -> Path:
    """Two images of each class of the sample gallery (16), for tests of what indexing keeps, not of the images."""
    target = tmp_path / "small_train"
    for folder in sorted((IMAGENET_SAMPLE / "train").iterdir()):
        (target / folder.name).mkdir(parents=True)
        for image in sorted(folder.iterdir())[:2]:
            shutil.copy(image, target / folder.name / image.name)
    return target
