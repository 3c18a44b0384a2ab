"""The command line's `download`: a model's weights fetched into its library's cache ahead of time."""

from __future__ import annotations

from pathlib import Path

import torch

from .. import config, standins
from ..catalog import CLIP, TORCHVISION_RESNET50
from ..models import cached_weights, load_model


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
