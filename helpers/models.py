"""Loading the three model families with their weights: the real pretrained files, or offline stand-ins.

`load_model` gives each family's image model without its classifier, its preprocessing and its output size.
Offline (`IMAGE_SEARCH_OFFLINE=1`) each reads seeded random weights (`helpers.standins`) through the library's own
loading code. Weights in a library's cache (or a workshop kit, `IMAGE_SEARCH_KIT`) are read without the network;
before a download the server is asked once, so that no network fails in seconds, not after a minute of retries.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import requests
import torch

from . import config, standins
from .catalog import CLIP, CLIP_MODEL, MODELS, TORCHVISION_RESNET50, canonical
from .errors import DownloadError, InputError

REACH_TIMEOUT_S = 5.0  # how long the one question before a download waits for the weights' server
TIMM_FILES = ("model.safetensors", "pytorch_model.bin")  # what timm reads from a Hugging Face repo, in order


@dataclass
class LoadedModel:
    """An image model in eval mode, its preprocessing (RGB PIL image to tensor) and its output size."""

    name: str
    model: torch.nn.Module
    preprocess: Callable
    dim: int
    memory_format: torch.memory_format = torch.channels_last  # faster for convolutional models on CPUs and GPUs
    text_model: torch.nn.Module | None = None  # CLIP's whole model, for `encode_text`


def load_model(name: str, device: torch.device) -> LoadedModel:
    """'resnet50' (torchvision), 'clip' (ViT-B/32, also 'ViT-B/32') or any timm model name, on `device`."""
    name = canonical(name)
    if name not in (TORCHVISION_RESNET50, CLIP):
        check_model_name(name)
    with library_warnings_hidden(), downloading(name):
        if not config.is_offline() and cached_weights(name) is None:
            _ask_server(name)
        if name == TORCHVISION_RESNET50:
            loaded = _torchvision_resnet50()
        elif name == CLIP:
            loaded = _clip(device)
        else:
            loaded = _timm(name)
    loaded.model = loaded.model.eval().to(device, memory_format=loaded.memory_format)
    return loaded


@contextmanager
def library_warnings_hidden() -> Iterator[None]:
    """Hide the libraries' notices on import and load that a reader cannot act on (openai-clip's pkg_resources
    import, torch's weights_only and torch.jit.load notices)."""
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

    weights = standins.timm_checkpoint(name) if config.is_offline() else cached_weights(name)
    overlay = {"file": str(weights)} if weights else None  # a file in the cache is read as it is, no network
    model = timm.create_model(name, pretrained=True, num_classes=0, global_pool="avg", pretrained_cfg_overlay=overlay,
                              cache_dir=weights_source(name)[1])
    preprocess = create_transform(**resolve_data_config({}, model=model))  # the model's own config, not its name's
    return LoadedModel(name, model, preprocess, pooled_size(model))


def _torchvision_resnet50() -> LoadedModel:
    """torchvision ResNet-50 with the final classification layer removed: 2048-d pooled features."""
    from torchvision import transforms
    from torchvision.models import resnet50

    model = resnet50()
    model.load_state_dict(_resnet50_state_dict())
    preprocess = transforms.Compose([transforms.Resize(256), transforms.CenterCrop(224), transforms.ToTensor(),
                                     transforms.Normalize(mean=[0.485, 0.456, 0.406], std=[0.229, 0.224, 0.225])])
    return LoadedModel(TORCHVISION_RESNET50, torch.nn.Sequential(*list(model.children())[:-1]), preprocess, 2048)


def _clip(device: torch.device) -> LoadedModel:
    """OpenAI CLIP ViT-B/32: an image tower and a text tower that share one 512-d space."""
    import clip

    source = str(standins.clip_archive()) if config.is_offline() else CLIP_MODEL  # online, clip checks the SHA-256
    model, preprocess = clip.load(source, device=device, jit=False, download_root=str(weights_source(CLIP)[1]))
    return LoadedModel(CLIP, model.visual, preprocess, model.visual.output_dim, torch.contiguous_format, model.eval())


def _resnet50_state_dict() -> dict:
    """ResNet-50 ImageNet weights (torchvision's DEFAULT, IMAGENET1K_V2), or the stand-in offline."""
    if config.is_offline():
        return torch.load(standins.resnet50_checkpoint(), map_location="cpu", weights_only=True)
    from torchvision.models import ResNet50_Weights

    return ResNet50_Weights.DEFAULT.get_state_dict(progress=True, check_hash=True,
                                                   model_dir=str(weights_source(TORCHVISION_RESNET50)[1]))


# ---------------------------------------------------------------------------------------------------
# Where the weights come from, and failed downloads.

def cached_weights(model: str) -> Path | None:
    """The real weights of `model` where its library's cache (or the kit's) holds them, else None."""
    from huggingface_hub import constants, try_to_load_from_cache

    url, cache = weights_source(model)
    if url.startswith(endpoint := f"{constants.ENDPOINT}/"):  # a Hugging Face repo, timm's way
        found = (try_to_load_from_cache(url.removeprefix(endpoint), file, cache_dir=cache) for file in TIMM_FILES)
        return next((Path(path) for path in found if isinstance(path, str)), None)
    path = cache / Path(url).name  # a single file named as in its URL (torch.hub's and openai-clip's way)
    return path if url and path.is_file() else None


def weights_source(model: str) -> tuple[str, Path]:
    """Where a model's real weights come from (a URL) and the library cache they are stored in (the kit's, with one)."""
    hub = config.kit_weights("torchvision") or Path(torch.hub.get_dir()) / "checkpoints"  # torch.hub's cache
    if model == TORCHVISION_RESNET50:
        from torchvision.models import ResNet50_Weights

        return ResNet50_Weights.DEFAULT.url, hub
    if model == CLIP:
        with library_warnings_hidden():
            import clip

        return clip.clip._MODELS[CLIP_MODEL], config.kit_weights("clip") or Path("~/.cache/clip").expanduser()
    import timm
    from huggingface_hub import constants

    pretrained = timm.models.get_pretrained_cfg(model)
    if (repo := getattr(pretrained, "hf_hub_id", None)) is None:  # the few timm models published only at a URL
        return getattr(pretrained, "url", None) or "", hub
    return f"{constants.ENDPOINT}/{repo}", config.kit_weights("timm") or Path(constants.HF_HUB_CACHE)


def _ask_server(model: str) -> None:
    """One quick request to the server of `model`'s weights: no network fails here (an `OSError`) in seconds."""
    url, _ = weights_source(model)
    if url:
        requests.head(url, timeout=REACH_TIMEOUT_S, allow_redirects=False)


@contextmanager
def downloading(model: str) -> Iterator[None]:
    """Turn a failed weights download into one `DownloadError` naming the URL, the cache and the switches."""
    try:
        yield
    except OSError as error:  # requests' errors are OSErrors too
        if config.is_offline():
            raise
        url, cache = weights_source(model)
        reason = type(error).__name__
        if not isinstance(error, requests.RequestException):  # requests' own text is a paragraph of URLs
            reason += f": {error}"
        raise DownloadError(f"Could not download the {model} weights from {url} into {cache} ({reason}). Check the "
                            f"network, or set {config.OFFLINE_ENV}=1 to run the suite on stand-in weights. "
                            f"{config.NO_NETWORK_HINT}") from error
