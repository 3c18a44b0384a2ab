"""The command line's `download`: a model's weights fetched into its library's cache ahead of time."""

from __future__ import annotations

from pathlib import Path

from .. import standins
from .. import config
from ..catalog import CLIP, CLIP_MODEL, TORCHVISION_RESNET50
from ..models import downloading, library_warnings_hidden, resnet50_state_dict, weights_source


def prefetch(model: str) -> Path:
    """Download (or, offline, create) a model's weights into its library's cache; return the file or folder."""
    if config.is_offline():
        if model == TORCHVISION_RESNET50:
            return standins.resnet50_checkpoint()
        return standins.clip_archive() if model == CLIP else standins.timm_checkpoint(model)
    url, cache = weights_source(model)
    with library_warnings_hidden(), downloading(model):
        if model == TORCHVISION_RESNET50:
            resnet50_state_dict()
        elif model == CLIP:
            import clip

            clip.load(CLIP_MODEL, device="cpu")
        else:
            import huggingface_hub
            import timm

            timm.create_model(model, pretrained=True)
            return Path(huggingface_hub.snapshot_download(url.removeprefix("https://huggingface.co/"),
                                                          local_files_only=True))
    return cache / Path(url).name
