"""Offline stand-in weights: seeded random checkpoints in the formats the libraries publish, which
`helpers.models` reads in offline mode (`IMAGE_SEARCH_OFFLINE=1`) through each library's own loading code. Each
file is written once into the cache, apart from where real weights go, and is the same on every machine.
"""

from __future__ import annotations

import os
import tempfile
import warnings
from collections.abc import Callable
from pathlib import Path

import torch

from . import config

SEED = 0


def folder() -> Path:
    """The cache folder that holds the stand-in checkpoints."""
    return config.cache_dir() / "standin-weights"


def timm_checkpoint(name: str) -> Path:
    """A seeded random checkpoint of the timm model `name` with its full classifier, as timm publishes them."""
    import timm

    return _write_once(folder() / f"timm-{name}-seed{SEED}.pth",
                       lambda temp: torch.save(timm.create_model(name, pretrained=False).state_dict(), temp))


def resnet50_checkpoint() -> Path:
    """A seeded random torchvision ResNet-50 checkpoint (with its 1000-class head, like the real one)."""
    from torchvision.models import resnet50

    return _write_once(folder() / f"torchvision-resnet50-seed{SEED}.pth",
                       lambda temp: torch.save(resnet50().state_dict(), temp))


def clip_archive() -> Path:
    """A seeded random CLIP ViT-B/32 as a half-precision TorchScript archive, the format OpenAI publishes."""
    return _write_once(folder() / f"clip-ViT-B-32-seed{SEED}.pt", _save_traced_clip)


def _save_traced_clip(path: str) -> None:
    # OpenAI publishes CLIP as a TorchScript archive, which only torch.jit.trace writes. torch deprecates tracing
    # for new code, and the clip package imports pkg_resources, which setuptools deprecates: notices for this
    # project, not for the reader, so exactly those two are silenced here, where they are raised.
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r"`torch\.jit\.trace(_method)?` is deprecated",
                                category=FutureWarning)
        warnings.filterwarnings("ignore", message="pkg_resources is deprecated", category=UserWarning)
        from clip.model import CLIP as ClipModel, convert_weights

        model = ClipModel(embed_dim=512, image_resolution=224, vision_layers=12, vision_width=768, vision_patch_size=32,
                          context_length=77, vocab_size=49408, transformer_width=512, transformer_heads=8,
                          transformer_layers=12).eval()
        convert_weights(model)
        example = (torch.zeros(1, 3, 224, 224, dtype=torch.float16), torch.zeros(1, 77, dtype=torch.long))
        torch.jit.trace(model, example, check_trace=False).save(path)


def _write_once(path: Path, save: Callable[[str], None]) -> Path:
    """Unless `path` is there: seed torch, write through `save(temp_path)` beside it, then move it into place, so
    no half file is ever used."""
    if path.exists():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temp = tempfile.mkstemp(dir=path.parent, suffix=".part")
    os.close(handle)
    try:
        torch.manual_seed(SEED)
        save(temp)
        os.replace(temp, path)
    finally:
        Path(temp).unlink(missing_ok=True)
    return path
