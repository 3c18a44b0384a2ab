"""`python -m helpers kit DIR`: what a room of laptops needs for a day with no network, made ahead of time.

DIR gets the datasets, extracted as the notebooks read them; each model's weights in its own library's cache
layout (Hugging Face's hub cache for timm, torch.hub's checkpoints for torchvision, openai-clip's download root);
a wheelhouse of the packages for the platforms named; the notebooks; and README.md with the commands an attendee
runs. Every path the suite reads inside DIR is relative to it, so a copy anywhere works as it is once
`IMAGE_SEARCH_KIT` names it (`helpers.config`).
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import shutil
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

from .. import config
from ..catalog import MODELS
from ..errors import DownloadError, InputError

CHECKOUT = Path(__file__).resolve().parents[2]  # the project's source, whose wheel and notebooks go in the kit
PROJECT = "image-search-milvus"
EXTRAS = "lab,app"  # what a learner installs: the notebooks and the demo page
WHEELHOUSE = "wheels"
VENV = "~/image-search-venv"  # where the README's commands put an attendee's environment
INSTALL = f'python -m pip install --no-index --find-links {WHEELHOUSE} "{PROJECT}[{EXTRAS}]"'
WHEELS = ("all", "project", "none")  # the whole wheelhouse, only the project's own wheel, or none


def build_kit(folder: Path, datasets: Sequence[str], models: Sequence[str], platforms: Sequence[str] = (),
              python_version: str | None = None, wheels: str = "all",
              dataset_urls: Mapping[str, str] | None = None) -> list[str]:
    """Fill `folder` with `datasets`, `models`' weights, a wheelhouse (`wheels`: all, project or none) for
    `platforms` (pip's platform tags; none: this machine), the notebooks and README.md; return what it holds.
    `dataset_urls` fetches a dataset from another address (a copy on the venue's network) than its mirrors."""
    from ..datasets import DATASETS, fetch_dataset
    from .prefetch import prefetch

    if config.is_offline():
        raise InputError(f"A kit holds the real datasets and weights: unset {config.OFFLINE_ENV} to build one.")
    unknown = [name for name in [*datasets, *(dataset_urls or {})] if name not in DATASETS]
    unknown += [name for name in models if name not in MODELS]
    if unknown:
        raise InputError(f"Unknown name(s) {', '.join(unknown)}: datasets are {', '.join(DATASETS)}; "
                         f"models are {', '.join(MODELS)}.")
    folder = folder.expanduser().resolve()
    os.environ[config.KIT_ENV] = str(folder)  # every download below lands in the kit, in its library's layout
    os.environ.pop(config.CACHE_ENV, None)
    held = []
    for name in datasets:
        dataset = DATASETS[name]
        if name in (dataset_urls or {}):
            dataset = dataclasses.replace(dataset, urls=(dataset_urls[name],))
        root = fetch_dataset(dataset)
        (folder / "datasets" / name / dataset.filename).unlink(missing_ok=True)  # the extracted copy is what is read
        held.append(f"{name}: {root.relative_to(folder)}")
    for name in models:
        held.append(f"{name}: {prefetch(name).relative_to(folder)}")
    if wheels != "none":
        held.append(f"{WHEELHOUSE}: {wheelhouse(folder / WHEELHOUSE, platforms, python_version, wheels == 'all')}")
    shutil.copytree(CHECKOUT / "notebooks", folder / "notebooks", dirs_exist_ok=True,
                    ignore=shutil.ignore_patterns("_executed", "*.db", ".ipynb_checkpoints"))
    (folder / "README.md").write_text(readme(held, platforms), encoding="utf-8")
    return held


def wheelhouse(folder: Path, platforms: Sequence[str], python_version: str | None, dependencies: bool) -> str:
    """Build the project's wheel into `folder` and, with `dependencies`, `pip download` every package it needs with
    its lab and app extras, at the versions constraints.txt pins, for each platform; say what it holds."""
    if not (CHECKOUT / "pyproject.toml").is_file():
        raise InputError(f"The kit builds the project's wheel from a checkout; {CHECKOUT} is not one: run "
                         "`python -m helpers kit` from a clone of the project.")
    folder.mkdir(parents=True, exist_ok=True)
    pip = [sys.executable, "-m", "pip"]
    _run([*pip, "wheel", "--no-deps", "--no-build-isolation", "--wheel-dir", folder, CHECKOUT])
    if dependencies:
        for platform in platforms or [None]:
            target = ["--platform", platform, "--only-binary=:all:",
                      "--python-version", python_version or f"{sys.version_info[0]}.{sys.version_info[1]}"]
            _run([*pip, "download", "--dest", folder, "--find-links", folder, "-c", CHECKOUT / "constraints.txt",
                  *(target if platform else []), f"{PROJECT}[{EXTRAS}]"])
    return f"{len(list(folder.iterdir()))} files"


def readme(held: Sequence[str], platforms: Sequence[str]) -> str:
    """The kit's README.md: what it holds and the three commands an attendee runs inside the kit's folder."""
    made_for = ", ".join(platforms) or "the machine that made it"
    lines = "\n".join(f"- {entry}" for entry in held)
    posix, windows = f"{VENV}/bin/python", VENV.replace("~", "$HOME") + "\\Scripts\\python"
    return f"""# Image Search with Milvus: a workshop kit

Made by `python -m helpers kit` for {made_for}. Copy this folder onto the laptop's disk (from a USB stick or a
shared folder; anywhere will do), open a terminal in it and run:

```bash
python -m venv {VENV}
{posix} -m {INSTALL.removeprefix("python -m ")}
IMAGE_SEARCH_KIT="$PWD" {posix} -m jupyter lab notebooks
```

On Windows (PowerShell), in this folder:

```powershell
python -m venv {VENV.replace("~", "$HOME")}
{windows} -m {INSTALL.removeprefix("python -m ")}
$env:IMAGE_SEARCH_KIT = "$PWD"; {windows} -m jupyter lab notebooks
```

`IMAGE_SEARCH_KIT` points the notebooks, `python -m helpers` and its `download` command at this folder: the
datasets and the weights below are read from here, and nothing is downloaded. In a notebook that is already
running, run `%env IMAGE_SEARCH_KIT=/path/to/this/folder` in a new cell, then run again from the settings cell.

What it holds:

{lines}
"""


def add_command(commands: argparse._SubParsersAction) -> None:
    """`python -m helpers kit DIR [...]`, among the command line's commands."""
    from ..datasets import DATASETS

    kit = commands.add_parser("kit", help="a folder with the datasets, weights and packages, for a room with no network")
    kit.add_argument("folder", type=Path)
    kit.add_argument("--datasets", nargs="*", default=list(DATASETS), metavar="NAME", help="default: all")
    kit.add_argument("--models", nargs="*", default=list(MODELS), metavar="NAME", help="default: all")
    kit.add_argument("--platform", action="append", default=[], metavar="TAG",
                     help="a pip platform tag to download wheels for (win_amd64, macosx_11_0_arm64, "
                          "manylinux_2_28_x86_64), repeatable; default: this machine")
    kit.add_argument("--python-version", default=None, help="the attendees' Python, with --platform (default: this one)")
    kit.add_argument("--wheels", choices=WHEELS, default="all",
                     help="all packages (default), only the project's own wheel, or none")
    kit.add_argument("--dataset-url", type=_dataset_url, action="append", default=[], metavar="NAME=URL",
                     help="fetch dataset NAME from URL (a copy on the venue's network) instead of its mirrors")
    kit.set_defaults(run=_run_command)


def _run_command(args: argparse.Namespace) -> int:
    for line in build_kit(args.folder, args.datasets, args.models, args.platform, args.python_version, args.wheels,
                          dict(args.dataset_url)):
        print(line)
    print(f"Kit ready in {args.folder.resolve()}: its README.md says what each attendee runs.")
    return 0


def _dataset_url(text: str) -> tuple[str, str]:
    """`NAME=URL` for --dataset-url."""
    name, equals, url = text.partition("=")
    if not equals or not url:
        raise argparse.ArgumentTypeError(f"takes NAME=URL (got {text!r})")
    return name, url


def _run(command: list) -> None:
    """Run pip; its failure is one line that says what failed."""
    result = subprocess.run([str(part) for part in command], capture_output=True, text=True)
    if result.returncode != 0:
        last = (result.stderr.strip().splitlines() or ["no output"])[-1]
        raise DownloadError(f"pip {command[3]} failed: {last}")
