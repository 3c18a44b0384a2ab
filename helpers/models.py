"""Loading the three model families with their weights: the real pretrained files, or offline stand-ins.

`load_model` gives each family's image model without its classifier, the preprocessing that model
expects and its output size. Offline (`IMAGE_SEARCH_OFFLINE=1`) each family reads a checkpoint of seeded
random values (`helpers.standins`) through the library's own loading code, so that code runs without a
network too.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import torch

from . import config, standins
from .catalog import CLIP, CLIP_MODEL, MODELS, TORCHVISION_RESNET50, canonical
from .errors import DownloadError, InputError



@dataclass
class LoadedModel:
    """An image model in eval mode, its preprocessing (RGB PIL image to tensor) and its output size."""

    name: str
    model: torch.nn.Module
    preprocess: Callable
    dim: int
    channels_last: bool = True  # faster for convolutional models on CPUs and GPUs
    text_model: torch.nn.Module | None = None  # CLIP's whole model, for `encode_text`


def load_model(name: str, device: torch.device) -> LoadedModel:
    """'resnet50' (torchvision), 'clip' (ViT-B/32, also 'ViT-B/32') or any timm model name, on `device`."""
    name = canonical(name)
    with library_warnings_hidden(), downloading(name):
        if name == TORCHVISION_RESNET50:
            loaded = _torchvision_resnet50()
        elif name == CLIP:
            loaded = _clip(device)
        else:
            loaded = _timm(name)
    memory_format = torch.channels_last if loaded.channels_last else torch.contiguous_format
    loaded.model = loaded.model.eval().to(device, memory_format=memory_format)
    return loaded


@contextmanager
def library_warnings_hidden() -> Iterator[None]:
    """Hide what the model libraries warn about on import and load that a reader cannot act on (openai-clip's
    pkg_resources import, torch's weights_only and torch.jit.load notices)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*(weights_only|pkg_resources|torch.jit.load).*")
        yield


def check_model_name(name: str) -> None:
    """Refuse, before anything loads, a name that is neither resnet50 (torchvision), clip nor a timm model."""
    import timm

    if name not in (TORCHVISION_RESNET50, CLIP, CLIP_MODEL) and not timm.is_model(name):
        raise InputError(f"Unknown model '{name}': use {', '.join(MODELS)} ({TORCHVISION_RESNET50} is torchvision's), "
                         "or a timm model name (timm.list_models() lists them).")


def pooled_size(model: torch.nn.Module) -> int:
    """How many values a timm model without its classifier gives per image: its head's hidden layer when it has
    one (MobileNetV3: 1280), else its features (`num_features`, 960 there)."""
    return getattr(model, "head_hidden_size", None) or model.num_features


def _timm(name: str) -> LoadedModel:
    """A timm model without its classifier (global average pool), with timm's preprocessing for that model."""
    import timm
    from timm.data import create_transform, resolve_data_config

    check_model_name(name)
    overlay = {"file": str(standins.timm_checkpoint(name))} if config.is_offline() else None
    model = timm.create_model(name, pretrained=True, num_classes=0, global_pool="avg", pretrained_cfg_overlay=overlay)
    preprocess = create_transform(**resolve_data_config({}, model=model))  # the model's own config, not its name's
    return LoadedModel(name, model, preprocess, pooled_size(model))


def _torchvision_resnet50() -> LoadedModel:
    """torchvision ResNet-50 with the final classification layer removed: 2048-d pooled features."""
    from torchvision import transforms
    from torchvision.models import resnet50

    model = resnet50()
    model.load_state_dict(resnet50_state_dict())
    preprocess = transforms.Compose([
        transforms.Resize(256),
        transforms.CenterCrop(224),
        transforms.ToTensor(),
        transforms.Normalize(mean=[0.485, 0.456, 0.406], std=[0.229, 0.224, 0.225]),
    ])
    return LoadedModel(TORCHVISION_RESNET50, torch.nn.Sequential(*list(model.children())[:-1]), preprocess, 2048)


def _clip(device: torch.device) -> LoadedModel:
    """OpenAI CLIP ViT-B/32: an image tower and a text tower that share one 512-d space."""
    import clip

    model, preprocess = clip.load(clip_source(), device=device, jit=False)
    return LoadedModel(CLIP, model.visual, preprocess, model.visual.output_dim, channels_last=False,
                       text_model=model.eval())


def resnet50_state_dict() -> dict:
    """ResNet-50 ImageNet weights (torchvision's DEFAULT, IMAGENET1K_V2), or the stand-in offline."""
    if config.is_offline():
        return torch.load(standins.resnet50_checkpoint(), map_location="cpu", weights_only=True)
    from torchvision.models import ResNet50_Weights

    return ResNet50_Weights.DEFAULT.get_state_dict(progress=True, check_hash=True)


def clip_source() -> str:
    """What to pass to `clip.load`: the model name online (it downloads and checks the SHA-256), a file offline."""
    return str(standins.clip_archive()) if config.is_offline() else CLIP_MODEL


# ---------------------------------------------------------------------------------------------------
# Where the weights come from, and failed downloads.

def weights_source(model: str) -> tuple[str, Path]:
    """Where a model's real weights come from (a URL) and the library cache they are stored in."""
    if model == TORCHVISION_RESNET50:
        from torchvision.models import ResNet50_Weights

        return ResNet50_Weights.DEFAULT.url, Path(torch.hub.get_dir()) / "checkpoints"
    if model == CLIP:
        with library_warnings_hidden():
            import clip

        return clip.clip._MODELS[CLIP_MODEL], Path("~/.cache/clip").expanduser()
    import timm
    from huggingface_hub.constants import HF_HUB_CACHE

    return f"https://huggingface.co/{timm.models.get_pretrained_cfg(model).hf_hub_id}", Path(HF_HUB_CACHE)


@contextmanager
def downloading(model: str) -> Iterator[None]:
    """Turn a failed weights download into one `DownloadError` naming the URL, the cache and the switch."""
    try:
        yield
    except OSError as error:
        if config.is_offline():
            raise
        url, cache = weights_source(model)
        raise DownloadError(
            f"Could not download the {model} weights from {url} into {cache} ({type(error).__name__}: {error}). "
            f"Check the network, or set {config.OFFLINE_ENV}=1 to run the suite on stand-in weights."
        ) from error
