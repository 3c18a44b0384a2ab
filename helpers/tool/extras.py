"""What the demo page needs beyond the core package, Gradio (the `app` extra), and the one command that installs
it where the reader is: a notebook (Colab above all), a terminal, or a checkout of this project."""

from __future__ import annotations

import sys
from importlib import metadata
from pathlib import Path

GRADIO_MAJOR = 6  # as the app extra in pyproject.toml: gradio>=6,<7
SOURCE_URL = "git+https://github.com/image-search-milvus/image-search-milvus"  # the notebooks' install cell's
CHECKOUT = Path(__file__).resolve().parents[2]  # the project's folder when `helpers` runs from a checkout


def where() -> str:
    """"checkout" when `helpers` runs from a checkout (`make setup` installs it editable), else "notebook" in a
    Jupyter or Colab kernel, else "terminal"."""
    if (CHECKOUT / "pyproject.toml").is_file() and (CHECKOUT / "Makefile").is_file():
        return "checkout"
    return "notebook" if "ipykernel" in sys.modules else "terminal"


def install_command(place: str) -> str:
    """The command that installs the app extra in `place` (one of `where()`'s answers)."""
    return {"checkout": f"make setup (in a terminal, in {CHECKOUT})",
            "notebook": f'%pip install "image-search-milvus[app] @ {SOURCE_URL}"',
            "terminal": 'pip install "image-search-milvus[app]"'}[place]


def gradio_problem(version: str | None, place: str) -> str | None:
    """One line saying what is wrong with Gradio `version` (None: not installed) and the command that fixes it
    in `place`, or None when it is the major version the page is written for."""
    command = install_command(place)
    if version is None:
        return f"The demo page needs Gradio {GRADIO_MAJOR} (the app extra), which is not installed: {command}"
    if version.split(".")[0] != str(GRADIO_MAJOR):
        loaded = place == "notebook" and "gradio" in sys.modules  # the old one stays in memory until a restart
        restart = ", then restart the kernel (Colab: Runtime > Restart session)" if loaded else ""
        return (f"The demo page needs Gradio {GRADIO_MAJOR} (the app extra); this environment has Gradio {version}: "
                f"{command}{restart}")
    return None


def require_gradio() -> None:
    """Raise ImportError with `gradio_problem`'s line unless the installed Gradio is the right major version."""
    try:
        version: str | None = metadata.version("gradio")
    except metadata.PackageNotFoundError:
        version = None
    if problem := gradio_problem(version, where()):
        raise ImportError(problem)
