"""Image and text encoders with one interface: images (paths or PIL images) to float32 unit vectors, which make
cosine similarity a dot product and keep L2 distances comparable. The models come from `helpers.models`; this
module decides how images reach them: in batches from a torch `DataLoader`, in the precision chosen at load.
"""

from __future__ import annotations

import multiprocessing
import os
import sys
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset
from tqdm.auto import tqdm

from . import config
from .catalog import DEFAULT_BATCH_SIZE, DEFAULT_MODEL, PRECISIONS, model_id
from .errors import EMPTY_TEXT, InputError, require_text
from .images import ImageError, ImageSource, load_rgb
from .models import LoadedModel, load_model

CLIP_CONTEXT_LENGTH = 77
# Decoding workers start from a fresh server process: forking beside Milvus Lite's gRPC threads is unsafe.
WORKER_START = "forkserver" if "forkserver" in multiprocessing.get_all_start_methods() else "spawn"


def load_encoder(model: str = DEFAULT_MODEL, device: str | torch.device | None = None,
                 precision: str | None = None) -> Encoder:
    """Load an encoder by name: 'resnet50' (torchvision), 'clip' (ViT-B/32), or any timm model name.

    `precision` (see `catalog.PRECISIONS`) defaults to float16 on a GPU and float32 on a CPU; 'bfloat16' is much
    faster on CPUs with AMX (Intel Xeon of the 4th generation and later) and slower on CPUs without it.
    """
    device = torch.device(device) if device is not None else default_device()
    precision = resolve_precision(precision, device)  # before any download
    config.announce_offline()
    return Encoder(load_model(model, device), device, precision)


def default_device() -> torch.device:
    """CUDA when a GPU is present, else the CPU."""
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


@dataclass
class Embeddings:
    """The vectors of the images that decoded, which sources they came from, and what was skipped and why."""

    vectors: np.ndarray
    sources: list[ImageSource]
    skipped: list[tuple[ImageSource, str]] = field(default_factory=list)


class Encoder:
    """A model that maps images (and, for CLIP, texts) to unit vectors of size `dim`."""

    def __init__(self, loaded: LoadedModel, device: torch.device, precision: str) -> None:
        self.name, self.model, self.preprocess, self.dim = loaded.name, loaded.model, loaded.preprocess, loaded.dim
        self.text_model, self.memory_format, self.device = loaded.text_model, loaded.memory_format, device
        self._precision, self.model_id = precision, model_id(self.name)  # the model a collection records
        for module in filter(None, (self.model, self.text_model)):
            if precision != "float16":
                module.float()  # CLIP loads in float16 on a GPU
            if precision == "bfloat16" and device.type == "cpu":
                _bfloat16_weights(module)

    def __repr__(self) -> str:
        return f"Encoder({self.name!r}, dim={self.dim}, device={self.device.type}, precision={self.precision})"

    @property
    def precision(self) -> str:
        """What the model computes in, a name in `catalog.PRECISIONS`; fixed when the encoder loads."""
        return self._precision

    def _autocast(self) -> AbstractContextManager:
        """The precision's autocast; none for float32, which the weights already are (and which any device runs)."""
        dtype = getattr(torch, self.precision)
        return nullcontext() if dtype == torch.float32 else torch.autocast(self.device.type, dtype)

    def forward(self, batch: torch.Tensor) -> torch.Tensor:
        """Unit vectors for a batch of preprocessed images; on a CPU `cpu_batch()` images at a time."""
        with torch.inference_mode():
            batch = batch.to(self.device, non_blocking=True).contiguous(memory_format=self.memory_format)
            step = cpu_batch() if self.device.type == "cpu" else len(batch)
            with self._autocast():
                features = torch.cat([self.model(batch[first:first + step]).flatten(1).float()
                                      for first in range(0, len(batch), step)])
            return torch.nn.functional.normalize(features, dim=1)

    def _batches(self, items: list, batch_size: int, workers: int) -> DataLoader:
        """(indices, batch, failed) per batch of `items`, decoded here or in `workers` worker processes."""
        return DataLoader(_ImageFiles(items, self.preprocess), batch_size=batch_size, collate_fn=_collate,
                          num_workers=workers, multiprocessing_context=WORKER_START if workers else None,
                          prefetch_factor=4 if workers else None, pin_memory=self.device.type == "cuda")

    def embed_images(self, items: Sequence[ImageSource], batch_size: int = DEFAULT_BATCH_SIZE,
                     progress: bool | None = None) -> Embeddings:
        """Encode many images in batches; undecodable ones are skipped with their reason. A `DataLoader` decodes
        them, in `decoding_workers()` worker processes beside a GPU."""
        items = list(items)
        loader = self._batches(items, batch_size, decoding_workers(self.device, -(-len(items) // batch_size)))
        vectors = np.empty((len(items), self.dim), dtype=np.float32)
        kept, skipped = [], []
        show = len(items) > batch_size if progress is None else progress
        with tqdm(total=len(items), desc=f"Embedding with {self.name}", unit="img", disable=not show) as bar:
            for indices, batch, failed in loader:
                if batch is not None:
                    vectors[indices] = self.forward(batch).cpu().numpy()
                    kept.extend(indices)
                skipped.extend((items[index], reason) for index, reason in failed)
                bar.update(len(indices) + len(failed))
        return Embeddings(vectors[kept], [items[index] for index in kept], skipped)

    def embed_image(self, item: ImageSource) -> np.ndarray:
        """One image to one unit vector; raises `ImageError` if it cannot be decoded."""
        return self.forward(self.preprocess(load_rgb(item)).unsqueeze(0))[0].cpu().numpy()

    def embed_texts(self, texts: Sequence[str]) -> np.ndarray:
        """Encode texts into the image space (CLIP only); over-long texts are truncated with a notice."""
        if self.text_model is None:
            raise InputError(f"{self.name} encodes images only: use the 'clip' model for text queries.")
        if isinstance(texts, str):
            raise TypeError("embed_texts takes a list of texts: use embed_text for one text.")
        import clip

        texts = list(texts)
        for text in texts:
            length = len(clip.clip._tokenizer.encode(require_text(text)))  # the tokenizer clip.tokenize uses
            if not length:  # nothing the tokenizer keeps
                raise InputError(EMPTY_TEXT)
            if length + 2 > CLIP_CONTEXT_LENGTH:  # with the start and end tokens
                print(f"Note: the query is longer than CLIP's {CLIP_CONTEXT_LENGTH} tokens and was truncated: "
                      f"{text[:60]!r}...", file=sys.stderr)
        tokens = clip.tokenize(texts, context_length=CLIP_CONTEXT_LENGTH, truncate=True).to(self.device)
        with torch.inference_mode(), self._autocast():
            features = self.text_model.encode_text(tokens).float()
        return torch.nn.functional.normalize(features, dim=1).cpu().numpy()

    def embed_text(self, text: str) -> np.ndarray:
        """One text to one unit vector (CLIP only)."""
        return self.embed_texts([text])[0]


class _ImageFiles(Dataset):
    """Decodes and preprocesses one image per index; a failure becomes a reason, not an exception."""

    def __init__(self, items: Sequence[ImageSource], preprocess: Callable) -> None:
        self.items, self.preprocess = items, preprocess

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int) -> tuple[int, torch.Tensor | None, str]:
        try:
            return index, self.preprocess(load_rgb(self.items[index])), ""
        except ImageError as error:
            return index, None, str(error)


def _collate(samples: list) -> tuple[list[int], torch.Tensor | None, list[tuple[int, str]]]:
    """Stack the images that decoded; keep the indices and reasons of those that did not."""
    good = [(index, tensor) for index, tensor, _ in samples if tensor is not None]
    failed = [(index, reason) for index, tensor, reason in samples if tensor is None]
    tensor = torch.stack([tensor for _, tensor in good]) if good else None
    return [index for index, _ in good], tensor, failed


def _cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def decoding_workers(device: torch.device, batches: int) -> int:
    """How many worker processes decode images beside the model. On a CPU none: the model already uses every
    core. Beside a GPU decoding is the limit, so every core but the one feeding the GPU decodes (at most 16), once
    a call has 4 batches or more to pay for starting them."""
    return 0 if device.type == "cpu" or batches < 4 else min(16, max(1, _cores() - 1))


def cpu_batch() -> int:
    """How many images the model sees at once on a CPU, whatever the batch size: 4 per core, 8 to 64. Small
    batches keep the activations in the CPU caches (figures: docs/benchmarks.md, "Speed: embedding")."""
    return min(64, max(8, 4 * _cores()))


def resolve_precision(precision: str | None, device: torch.device) -> str:
    """The precision to compute in on `device`: float16 on a GPU and float32 elsewhere, unless asked
    otherwise; a name the device cannot run is refused with what to use instead."""
    if precision is None:
        return "float16" if device.type == "cuda" else "float32"
    if precision not in PRECISIONS:
        raise InputError(f"precision must be one of {', '.join(map(repr, PRECISIONS))}, or None for the "
                         f"device's default, got {precision!r}.")
    if precision == "float16" and device.type != "cuda":
        raise InputError(f"precision 'float16' runs on a GPU only, not on {device.type}: on a CPU use 'bfloat16' "
                         "(fast on CPUs with AMX, such as Intel Xeon of the 4th generation and later) or 'float32'.")
    if precision == "bfloat16" and device.type not in ("cpu", "cuda"):
        raise InputError(f"precision 'bfloat16' runs on a CPU or a CUDA GPU, not on {device.type}: use 'float32'.")
    return precision


def _bfloat16_weights(model: torch.nn.Module) -> None:
    """Store the convolution and linear layers' weights in bfloat16 once, so autocast on a CPU need not
    convert them at every call; everything else, such as the norms, stays float32."""
    for module in model.modules():
        if isinstance(module, (torch.nn.Conv2d, torch.nn.Linear)):
            module.to(torch.bfloat16)
