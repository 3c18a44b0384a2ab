"""Every environment switch the suite reads, in one place.

`IMAGE_SEARCH_OFFLINE=1` puts the whole suite in a small, network-free mode (sample data, stand-in
weights); `IMAGE_SEARCH_CACHE` moves the download cache; `MILVUS_URI` / `MILVUS_TOKEN` move every
notebook and the CLI from Milvus Lite to a server or Zilliz Cloud.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

OFFLINE_ENV = "IMAGE_SEARCH_OFFLINE"
CACHE_ENV = "IMAGE_SEARCH_CACHE"
URI_ENV = "MILVUS_URI"
TOKEN_ENV = "MILVUS_TOKEN"

DEFAULT_URI = "./milvus.db"
SAMPLES_DIR = Path(__file__).resolve().parent / "samples"  # offline sample images, shipped inside the package

MAX_UPLOAD_MB = 10  # the largest query file the upload widgets and the demo page take
STANDIN_SUFFIX = " (offline stand-in)"  # appended to the model a collection records when built offline
OFFLINE_NOTICE = (
    f"{OFFLINE_ENV}=1: offline mode, sample images and random stand-in weights; "
    "search results are not meaningful."
)


def is_offline() -> bool:
    """True when `IMAGE_SEARCH_OFFLINE` is set to a true value (1, true, yes, on)."""
    return os.environ.get(OFFLINE_ENV, "").strip().lower() in {"1", "true", "yes", "on"}


def in_colab() -> bool:
    """True in a Google Colab kernel, which imports `google.colab` as it starts."""
    return "google.colab" in sys.modules


def cache_dir() -> Path:
    """Absolute folder for downloads and weights: `$IMAGE_SEARCH_CACHE` or ~/.cache/image-search-milvus."""
    configured = os.environ.get(CACHE_ENV)
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
