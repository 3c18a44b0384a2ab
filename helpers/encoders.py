"""Image and text encoders with one interface: timm models, torchvision ResNet-50 and CLIP ViT-B/32.

Every encoder turns images (paths or PIL images) into float32 unit vectors in batches: decoding runs
in DataLoader workers while the model runs, on CUDA with autocast when a GPU is present. Unit
length makes cosine similarity a dot product and keeps L2 distances comparable across images.
"""

from __future__ import annotations

import multiprocessing
import os
import sys
import time
import warnings
from collections.abc import Callable, Sequence
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch.utils.data import DataLoader, Dataset
from tqdm.auto import tqdm

from . import config, weights
from .images import ImageError, ImageSource, load_rgb

TORCHVISION_RESNET50 = "resnet50"
CLIP = "clip"
DEFAULT_BATCH_SIZE = 64
CLIP_CONTEXT_LENGTH = 77


@dataclass
class Embeddings:
    """The vectors of the images that decoded, which sources they came from, and what was skipped and why."""

    vectors: np.ndarray
    sources: list[ImageSource]
    skipped: list[tuple[ImageSource, str]] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def images_per_second(self) -> float:
        """Throughput of the whole run, decoding included."""
        return len(self.sources) / self.seconds if self.seconds > 0 else float("nan")


class _ImageFiles(Dataset):
    """Decodes and preprocesses one image per index; a failure becomes a reason, not an exception."""

    def __init__(self, items: Sequence[ImageSource], preprocess: Callable, min_side: int) -> None:
        self.items, self.preprocess, self.min_side = items, preprocess, min_side

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int) -> tuple[int, torch.Tensor | None, str]:
        try:
            return index, self.preprocess(load_rgb(self.items[index], self.min_side)), ""
        except ImageError as error:
            return index, None, str(error)


def _collate(samples: list) -> tuple[list[int], torch.Tensor | None, list[tuple[int, str]]]:
    """Stack the images that decoded; keep the indices and reasons of those that did not."""
    good = [(index, tensor) for index, tensor, _ in samples if tensor is not None]
    failed = [(index, reason) for index, tensor, reason in samples if tensor is None]
    tensor = torch.stack([tensor for _, tensor in good]) if good else None
    return [index for index, _ in good], tensor, failed


def default_device() -> torch.device:
    """CUDA when a GPU is present, else the CPU."""
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def _worker_context() -> multiprocessing.context.BaseContext:
    """Start DataLoader workers from a clean process: forking after Milvus Lite's gRPC threads exist is unsafe."""
    if "forkserver" in multiprocessing.get_all_start_methods():
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(["torch", "PIL.Image", "helpers.encoders"])
        return context
    return multiprocessing.get_context("spawn")


def default_workers(device: torch.device) -> int:
    """Decoding workers: one per spare core on the CPU (the model needs the rest), more beside a GPU."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    return min(8, max(1, cores - 1)) if device.type == "cuda" else max(1, cores // 2)


class Encoder:
    """A model that maps images (and, for CLIP, texts) to unit vectors of size `dim`."""

    def __init__(self, name: str, model: torch.nn.Module, preprocess: Callable, dim: int, min_side: int,
                 device: torch.device, channels_last: bool = True, text_model: torch.nn.Module | None = None) -> None:
        self.name, self.model, self.preprocess, self.dim = name, model, preprocess, dim
        self.min_side, self.device, self.text_model = min_side, device, text_model
        self.memory_format = torch.channels_last if channels_last else torch.contiguous_format

    def __repr__(self) -> str:
        return f"Encoder({self.name!r}, dim={self.dim}, device={self.device.type})"

    def _autocast(self):
        return torch.autocast("cuda", dtype=torch.float16) if self.device.type == "cuda" else nullcontext()

    def forward(self, batch: torch.Tensor) -> torch.Tensor:
        """Unit vectors for a batch of preprocessed images (already on any device)."""
        batch = batch.to(self.device, non_blocking=True).contiguous(memory_format=self.memory_format)
        with torch.inference_mode(), self._autocast():
            features = self.model(batch).flatten(1).float()
        return torch.nn.functional.normalize(features, dim=1)

    def embed_images(self, items: Sequence[ImageSource], batch_size: int = DEFAULT_BATCH_SIZE,
                     num_workers: int | None = None, progress: bool | None = None) -> Embeddings:
        """Encode many images in batches; undecodable ones are skipped with their reason."""
        items = list(items)
        if num_workers is None:
            use_workers = len(items) > batch_size and not any(isinstance(item, Image.Image) for item in items)
            num_workers = default_workers(self.device) if use_workers else 0
        loader = DataLoader(
            _ImageFiles(items, self.preprocess, self.min_side), batch_size=batch_size, num_workers=num_workers,
            collate_fn=_collate, pin_memory=self.device.type == "cuda",
            multiprocessing_context=_worker_context() if num_workers else None,
        )
        vectors = np.empty((len(items), self.dim), dtype=np.float32)
        kept: list[int] = []
        skipped: list[tuple[ImageSource, str]] = []
        show = len(items) > batch_size if progress is None else progress
        start = time.perf_counter()
        with tqdm(total=len(items), desc=f"Embedding with {self.name}", unit="img", disable=not show) as bar:
            for indices, batch, failed in loader:
                if batch is not None:
                    vectors[indices] = self.forward(batch).cpu().numpy()
                    kept.extend(indices)
                skipped.extend((items[index], reason) for index, reason in failed)
                bar.update(len(indices) + len(failed))
        kept.sort()
        return Embeddings(vectors[kept], [items[index] for index in kept], skipped, time.perf_counter() - start)

    def embed_image(self, item: ImageSource) -> np.ndarray:
        """One image to one unit vector; raises `ImageError` if it cannot be decoded."""
        tensor = self.preprocess(load_rgb(item, self.min_side)).unsqueeze(0)
        return self.forward(tensor)[0].cpu().numpy()

    def embed_texts(self, texts: Sequence[str]) -> np.ndarray:
        """Encode texts into the image space (CLIP only); over-long texts are truncated with a notice."""
        if self.text_model is None:
            raise TypeError(f"{self.name} encodes images only: use the 'clip' model for text queries.")
        import clip

        texts = list(texts)
        for text in texts:
            if not isinstance(text, str) or not text.strip():
                raise ValueError("Empty text query: type a few words that describe the image you want.")
            if len(clip.simple_tokenizer.SimpleTokenizer().encode(text)) + 2 > CLIP_CONTEXT_LENGTH:
                print(f"Note: the query is longer than CLIP's {CLIP_CONTEXT_LENGTH} tokens and was truncated: "
                      f"{text[:60]!r}...", file=sys.stderr)
        tokens = clip.tokenize(texts, context_length=CLIP_CONTEXT_LENGTH, truncate=True).to(self.device)
        with torch.inference_mode(), self._autocast():
            features = self.text_model.encode_text(tokens).float()
        return torch.nn.functional.normalize(features, dim=1).cpu().numpy()

    def embed_text(self, text: str) -> np.ndarray:
        """One text to one unit vector (CLIP only)."""
        return self.embed_texts([text])[0]


def _timm_encoder(name: str, device: torch.device) -> Encoder:
    """A timm model without its classifier (global average pool), with timm's preprocessing for that model."""
    import timm
    from timm.data import create_transform, resolve_data_config

    overlay = {"file": str(weights.timm_standin(name))} if config.is_offline() else None
    model = timm.create_model(name, pretrained=True, num_classes=0, global_pool="avg", pretrained_cfg_overlay=overlay)
    data_config = resolve_data_config({}, model=model)
    min_side = int(data_config["input_size"][-1] / data_config.get("crop_pct", 1.0)) + 1
    model = model.eval().to(device, memory_format=torch.channels_last)
    return Encoder(name, model, create_transform(**data_config), model.num_features, min_side, device)


def _torchvision_resnet50(device: torch.device) -> Encoder:
    """torchvision ResNet-50 with the final classification layer removed: 2048-d pooled features."""
    from torchvision import transforms
    from torchvision.models import resnet50

    model = resnet50()
    model.load_state_dict(weights.resnet50_state_dict())
    backbone = torch.nn.Sequential(*list(model.children())[:-1]).eval().to(device, memory_format=torch.channels_last)
    preprocess = transforms.Compose([
        transforms.Resize(256),
        transforms.CenterCrop(224),
        transforms.ToTensor(),
        transforms.Normalize(mean=[0.485, 0.456, 0.406], std=[0.229, 0.224, 0.225]),
    ])
    return Encoder(TORCHVISION_RESNET50, backbone, preprocess, 2048, 256, device)


def _clip_encoder(device: torch.device) -> Encoder:
    """OpenAI CLIP ViT-B/32: an image tower and a text tower that share one 512-d space."""
    import clip

    model, preprocess = clip.load(weights.clip_source(), device=device, jit=False)
    model.eval()
    return Encoder(CLIP, model.visual, preprocess, model.visual.output_dim, model.visual.input_resolution,
                   device, channels_last=False, text_model=model)


def load_encoder(model: str = "resnet34", device: str | torch.device | None = None) -> Encoder:
    """Load an encoder by name: 'resnet50' (torchvision), 'clip' (ViT-B/32), or any timm model name."""
    device = torch.device(device) if device is not None else default_device()
    config.announce_offline()
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*(weights_only|pkg_resources|torch.jit.load).*")
        if model == TORCHVISION_RESNET50:
            return _torchvision_resnet50(device)
        if model in {CLIP, weights.CLIP_MODEL}:
            return _clip_encoder(device)
        return _timm_encoder(model, device)
