"""The command line's `download`: datasets and model weights fetched into their caches ahead of time."""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

from .. import config, standins
from ..catalog import CLIP, MODELS, TORCHVISION_RESNET50
from ..errors import InputError
from ..models import cached_weights, load_model


def add_command(commands: argparse._SubParsersAction) -> None:
    """`python -m helpers download [NAME ...]`, among the command line's commands."""
    fetch = commands.add_parser("download", help="fetch datasets and model weights into their caches")
    fetch.add_argument("names", nargs="*", metavar="NAME", help="dataset or model names, or all (default)")
    fetch.set_defaults(run=cmd_download)


def cmd_download(args: argparse.Namespace) -> int:
    """Fetch each named dataset or model (all of them by default) and print where it is and its size."""
    from ..datasets import DATASETS, fetch_dataset

    known = list(DATASETS) + list(MODELS)
    names = known if args.names in ([], ["all"]) else args.names
    unknown = [name for name in names if name not in known]
    if unknown:
        raise InputError(f"Unknown name(s) {', '.join(unknown)}: choose from {', '.join(known)} or all.")
    for name in names:
        path = fetch_dataset(name) if name in DATASETS else prefetch(name)
        print(f"{name}: {path} ({_size(path) / 1e6:.1f} MB)")
    return 0


def prefetch(model: str) -> Path:
    """Download (or, offline, create) a model's weights into its library's cache (the kit's, with
    `IMAGE_SEARCH_KIT`); return the file. Weights already there are not downloaded again.

    Raises `DownloadError` (from `load_model`) when the weights cannot be downloaded."""
    if config.is_offline():
        if model == TORCHVISION_RESNET50:
            return standins.resnet50_checkpoint()
        return standins.clip_archive() if model == CLIP else standins.timm_checkpoint(model)
    if cached_weights(model) is None:
        load_model(model, torch.device("cpu"))
    return cached_weights(model)


def _size(path: Path) -> int:
    return path.stat().st_size if path.is_file() else sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
