"""Where each model family's weights come from: the real pretrained files, or offline stand-ins.

Offline (`IMAGE_SEARCH_OFFLINE=1`) every family gets a deterministic checkpoint of seeded random
values, written once into the cache and then read by the library's own loading code (timm's
checkpoint loader, torchvision's `load_state_dict`, `clip.load` from a file), so that code runs
even without a network. The stand-ins live in their own folder, never where the real weights go.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import torch

from . import config
from .datasets import DownloadError

STANDIN_SEED = 0
CLIP_MODEL = "ViT-B/32"


def standin_dir() -> Path:
    """The cache folder that holds offline stand-in checkpoints."""
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
    from clip.model import CLIP, convert_weights

    torch.manual_seed(STANDIN_SEED)
    model = CLIP(
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



def prefetch(model: str) -> Path:
    """Download (or, offline, create) a model's weights into its library's cache; return the file or folder."""
    from .encoders import CLIP, TORCHVISION_RESNET50

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
    from .encoders import CLIP, TORCHVISION_RESNET50

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
