"""Fresh virtual environments outside the checkout, for the tests that install the package as users do. They see
the packages `make setup` installed (so nothing is downloaded that this environment has) through a plain path,
never the checkout's editable install of the package."""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
from pathlib import Path

PACKAGES = Path(sysconfig.get_paths()["purelib"])  # this environment's installed packages
THIS_PACKAGE = ("__editable__", "image_search_milvus")  # the checkout's editable install


def run(command: list, cwd: Path, env: dict) -> str:
    """Run `command`, fail with its output unless it succeeds, and return what it printed."""
    result = subprocess.run([str(part) for part in command], cwd=cwd, env=env, capture_output=True, text=True,
                            timeout=600)
    assert result.returncode == 0, f"{' '.join(map(str, command))} failed:\n{result.stdout}\n{result.stderr}"
    return result.stdout


def clean_env(**settings: str) -> dict:
    """This process's environment without PYTHONPATH and PYTHONHOME, with `settings` added."""
    env = {key: value for key, value in os.environ.items() if key not in ("PYTHONPATH", "PYTHONHOME")}
    env.update(PIP_DISABLE_PIP_VERSION_CHECK="1", **settings)
    return env


def packages_without(folder: Path, *names: str) -> Path:
    """`folder` holding links to this environment's packages, but for this package's install and those whose
    names start with one of `names` (lower case)."""
    folder.mkdir()
    for entry in PACKAGES.iterdir():
        if not entry.name.lower().startswith((*THIS_PACKAGE, *names)):
            (folder / entry.name).symlink_to(entry)
    return folder


def new_venv(folder: Path, env: dict, dependencies: Path, wheel: Path | None = None) -> Path:
    """The python of a fresh venv in `folder` (with `wheel` installed, when given) that finds the packages in
    `dependencies` after its own, pip and setuptools among them; a plain path, so the .pth files there are not
    run. The venv gets no pip of its own: Python's bundles an old setuptools that cannot build this package."""
    run([sys.executable, "-m", "venv", "--without-pip", folder], folder.parent, env)
    python = folder / "bin" / "python"
    packages = Path(run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], folder.parent,
                        env).strip())
    (packages / "dependencies.pth").write_text(f"{dependencies}\n")
    if wheel is not None:
        run([python, "-m", "pip", "install", "--no-deps", wheel], folder.parent, env)
    return python
