"""Loading the three model families with their weights: the real pretrained files, or offline stand-ins.

`load_model` gives each family's image model without its classifier, the preprocessing that model
expects and its output size. Offline (`IMAGE_SEARCH_OFFLINE=1`) every family gets a deterministic
checkpoint of seeded random values, written once into the cache and read by the library's own loading
code, so that code runs without a network too.
"""

from __future__ import annotations

import os
import tempfile
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import torch

from . import config
from .download import DownloadError
from .errors import InputError

TORCHVISION_RESNET50 = "resnet50"
CLIP = "clip"
CLIP_MODEL = "ViT-B/32"
STANDIN_SEED = 0


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
    name = CLIP if name == CLIP_MODEL else name
    with warnings.catch_warnings(), downloading(name):
        warnings.filterwarnings("ignore", message=".*(weights_only|pkg_resources|torch.jit.load).*")
        if name == TORCHVISION_RESNET50:
            loaded = _torchvision_resnet50()
        elif name == CLIP:
            loaded = _clip(device)
        else:
            loaded = _timm(name)
    memory_format = torch.channels_last if loaded.channels_last else torch.contiguous_format
    loaded.model = loaded.model.eval().to(device, memory_format=memory_format)
    return loaded


def _timm(name: str) -> LoadedModel:
    """A timm model without its classifier (global average pool), with timm's preprocessing for that model."""
    import timm
    from timm.data import create_transform, resolve_data_config

    if not timm.is_model(name):
        raise InputError(f"Unknown model '{name}': use resnet34, resnet50 (torchvision), clip, or a timm model name "
                         "(timm.list_models() lists them).")
    overlay = {"file": str(timm_standin(name))} if config.is_offline() else None
    model = timm.create_model(name, pretrained=True, num_classes=0, global_pool="avg", pretrained_cfg_overlay=overlay)
    preprocess = create_transform(**resolve_data_config({}, model=model))  # the model's own config, not its name's
    return LoadedModel(name, model, preprocess, model.num_features)


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


# ---------------------------------------------------------------------------------------------------
# Offline stand-ins: seeded random checkpoints in the formats the libraries publish.

def standin_dir() -> Path:
    """The cache folder that holds offline stand-in checkpoints, apart from where real weights go."""
    return config.cache_dir() / "standin-weights"


def _atomic_save(path: Path, save: Callable[[str], None]) -> Path:
    """Write through `save(temp_path)` beside `path`, then move it into place, so no half file is ever used."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temp = tempfile.mkstemp(dir=path.parent, suffix=".part")
    os.close(handle)
    try:
        save(temp)
        os.replace(temp, path)
    finally:
        Path(temp).unlink(missing_ok=True)
    return path


def _write_once(path: Path, make_state: Callable[[], dict]) -> Path:
    """Save the seeded `make_state()` to `path` unless it is already there."""
    if path.exists():
        return path
    torch.manual_seed(STANDIN_SEED)
    state = make_state()
    return _atomic_save(path, lambda temp: torch.save(state, temp))


def timm_standin(name: str) -> Path:
    """A seeded random checkpoint of the timm model `name` with its full classifier, as timm publishes them."""
    import timm

    return _write_once(
        standin_dir() / f"timm-{name}-seed{STANDIN_SEED}.pth",
        lambda: timm.create_model(name, pretrained=False).state_dict(),
    )


def resnet50_standin() -> Path:
    """A seeded random torchvision ResNet-50 checkpoint (with its 1000-class head, like the real one)."""
    from torchvision.models import resnet50

    return _write_once(
        standin_dir() / f"torchvision-resnet50-seed{STANDIN_SEED}.pth",
        lambda: resnet50().state_dict(),
    )


def clip_standin() -> Path:
    """A seeded random CLIP ViT-B/32 as a half-precision TorchScript archive, the format OpenAI publishes."""
    path = standin_dir() / f"clip-ViT-B-32-seed{STANDIN_SEED}.pt"
    if path.exists():
        return path
    from clip.model import CLIP as ClipModel, convert_weights

    torch.manual_seed(STANDIN_SEED)
    model = ClipModel(
        embed_dim=512, image_resolution=224, vision_layers=12, vision_width=768, vision_patch_size=32,
        context_length=77, vocab_size=49408, transformer_width=512, transformer_heads=8, transformer_layers=12,
    ).eval()
    convert_weights(model)
    example = (torch.zeros(1, 3, 224, 224, dtype=torch.float16), torch.zeros(1, 77, dtype=torch.long))
    traced = torch.jit.trace(model, example, check_trace=False)
    return _atomic_save(path, traced.save)


def resnet50_state_dict() -> dict:
    """ResNet-50 ImageNet weights (torchvision's DEFAULT, IMAGENET1K_V2), or the stand-in offline."""
    if config.is_offline():
        return torch.load(resnet50_standin(), map_location="cpu", weights_only=True)
    from torchvision.models import ResNet50_Weights

    return ResNet50_Weights.DEFAULT.get_state_dict(progress=True, check_hash=True)


def clip_source() -> str:
    """What to pass to `clip.load`: the model name online (it downloads and checks the SHA-256), a file offline."""
    return str(clip_standin()) if config.is_offline() else CLIP_MODEL


# ---------------------------------------------------------------------------------------------------
# Downloading ahead of time, and failed downloads.

def prefetch(model: str) -> Path:
    """Download (or, offline, create) a model's weights into its library's cache; return the file or folder."""
    if config.is_offline():
        if model == TORCHVISION_RESNET50:
            return resnet50_standin()
        return clip_standin() if model == CLIP else timm_standin(model)
    url, cache = _source_and_cache(model)
    with downloading(model):
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


def _source_and_cache(model: str) -> tuple[str, Path]:
    """Where a model's real weights come from and the library cache they are stored in."""
    if model == TORCHVISION_RESNET50:
        from torchvision.models import ResNet50_Weights

        return ResNet50_Weights.DEFAULT.url, Path(torch.hub.get_dir()) / "checkpoints"
    if model == CLIP:
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
        url, cache = _source_and_cache(model)
        raise DownloadError(
            f"Could not download the {model} weights from {url} into {cache} ({type(error).__name__}: {error}). "
            f"Check the network, or set {config.OFFLINE_ENV}=1 to run the suite on stand-in weights."
        ) from error
