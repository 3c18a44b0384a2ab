"""Every environment switch the suite reads, in one place.

`IMAGE_SEARCH_OFFLINE=1` puts the whole suite in a small, network-free mode (sample data, stand-in
weights); `IMAGE_SEARCH_CACHE` moves the download cache; `IMAGE_SEARCH_KIT` points the datasets and every
library's weights cache at a workshop kit (`python -m helpers kit DIR`); `MILVUS_URI` / `MILVUS_TOKEN` move
every notebook and the CLI from Milvus Lite to a server or Zilliz Cloud.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

OFFLINE_ENV = "IMAGE_SEARCH_OFFLINE"
CACHE_ENV = "IMAGE_SEARCH_CACHE"
KIT_ENV = "IMAGE_SEARCH_KIT"
URI_ENV = "MILVUS_URI"
TOKEN_ENV = "MILVUS_TOKEN"

DEFAULT_URI = "./milvus.db"
SAMPLES_DIR = Path(__file__).resolve().parent / "samples"  # offline sample images, shipped inside the package

MAX_UPLOAD_MB = 10  # the largest query file the upload widgets and the demo page take
OFFLINE_NOTICE = (f"{OFFLINE_ENV}=1: offline mode, sample images and random stand-in weights; "
                  "search results are not meaningful.")
NO_NETWORK_HINT = (  # what a failed download says, in a terminal and in a notebook alike
    f"In a notebook, run `%env {OFFLINE_ENV}=1` in a new cell, then run again from the settings cell "
    f"(sample images, stand-in weights); or set {KIT_ENV} to a workshop kit (docs/workshop.md)."
)
KIT_WEIGHTS = {  # where each library's own cache lies inside a kit
    "timm": ("huggingface", "hub"),  # Hugging Face's hub cache ($HF_HOME/hub)
    "torchvision": ("torch", "hub", "checkpoints"),  # torch.hub's ($TORCH_HOME/hub/checkpoints)
    "clip": ("clip",),  # openai-clip's download root (~/.cache/clip)
}


def is_offline() -> bool:
    """True when `IMAGE_SEARCH_OFFLINE` is set to a true value (1, true, yes, on)."""
    return os.environ.get(OFFLINE_ENV, "").strip().lower() in {"1", "true", "yes", "on"}


def in_colab() -> bool:
    """True in a Google Colab kernel, which imports `google.colab` as it starts."""
    return "google.colab" in sys.modules


def kit_weights(library: str) -> Path | None:
    """The copy of `library`'s weights cache ("timm", "torchvision" or "clip") in the workshop kit that
    `$IMAGE_SEARCH_KIT` points at, or None without a kit."""
    kit = os.environ.get(KIT_ENV)
    return Path(kit).expanduser().resolve().joinpath(*KIT_WEIGHTS[library]) if kit else None


def cache_dir() -> Path:
    """Absolute folder for downloads and weights: `$IMAGE_SEARCH_CACHE`, else the kit (`$IMAGE_SEARCH_KIT`),
    else ~/.cache/image-search-milvus."""
    configured = os.environ.get(CACHE_ENV) or os.environ.get(KIT_ENV)
    base = Path(configured).expanduser() if configured else Path.home() / ".cache" / "image-search-milvus"
    return base.resolve()


def milvus_uri(default: str = DEFAULT_URI) -> str:
    """Where Milvus lives: `$MILVUS_URI`, else the Milvus Lite file `default` in the working folder."""
    return os.environ.get(URI_ENV) or default


def milvus_token() -> str:
    """The token for a server or Zilliz Cloud (`$MILVUS_TOKEN`), empty for Milvus Lite."""
    return os.environ.get(TOKEN_ENV, "")


_notice_shown = False


def announce_offline() -> None:
    """Print the one-line offline notice once per process, when offline mode is on: on stderr, apart from the
    command line's output; in a notebook on stdout, since a notebook shows stderr in red, as an error."""
    global _notice_shown
    if is_offline() and not _notice_shown:
        print(OFFLINE_NOTICE, file=sys.stdout if "ipykernel" in sys.modules else sys.stderr)
        _notice_shown = True
