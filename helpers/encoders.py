"""Image and text encoders with one interface: timm models, torchvision ResNet-50 and CLIP ViT-B/32.

Every encoder turns images (paths or PIL images) into float32 unit vectors in batches, on CUDA with
float16 autocast when a GPU is present. Unit length makes cosine similarity a dot product and keeps
L2 distances comparable across images.

Speed (measured with `benchmarks/embedding.py`): on a CPU, one stream per core decodes a few images
and runs the model on them with one thread, so no core waits for another (a model sharing its threads
stalls whenever a decoding thread takes one of its cores); beside a GPU, DataLoader worker processes
started through a forkserver decode the next images while the model runs. Images travel as 8-bit
pixels and are scaled and normalised a batch at a time, with exactly the values of ToTensor +
Normalize; the models run in inference mode, convolutional ones channels_last.
"""

from __future__ import annotations

import functools
import multiprocessing
import os
import sys
import time
import types
import warnings
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Executor, ThreadPoolExecutor
from contextlib import closing, contextmanager, nullcontext
from dataclasses import dataclass, field
from itertools import islice

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
# What the models compute in (torch.autocast), by name; None: as the weights are, float32.
PRECISIONS = {"float32": None, "bfloat16": torch.bfloat16, "float16": torch.float16}
# Images a CPU stream decodes and embeds at a time, the fastest on 2 cores. CLIP's ViT multiplies 50 rows
# per image: 8 images keep AMX busy in bfloat16 (1.3x the images/s of 4; the same in float32).
STREAM_BATCH = 4
CLIP_STREAM_BATCH = 8
MAX_STREAMS = 16


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


# Steps of a preprocessing pipeline that map an RGB PIL image to an RGB PIL image.
_PIL_STEPS = frozenset({"Resize", "CenterCrop", "ResizeKeepRatio", "_convert_image_to_rgb"})


@dataclass(frozen=True)
class _Split:
    """A `Compose([...PIL steps..., ToTensor, Normalize])` cut in two: the PIL steps run per image, the
    scaling to [0, 1] and the normalisation once per batch (same arithmetic, same values)."""

    pil_steps: tuple[Callable, ...]
    mean: torch.Tensor  # shape (1, 3, 1, 1), float32
    std: torch.Tensor

    def __call__(self, image: Image.Image) -> torch.Tensor:
        """The PIL steps, then the pixels as an 8-bit (height, width, 3) tensor."""
        for step in self.pil_steps:
            image = step(image)
        if not isinstance(image, Image.Image) or image.mode != "RGB":
            raise TypeError("the preprocessing steps did not give an RGB image")
        return torch.from_numpy(np.array(image, dtype=np.uint8))

    def finish(self, pixels: torch.Tensor, memory_format: torch.memory_format) -> torch.Tensor:
        """(batch, height, width, 3) 8-bit pixels, on any device, to normalised (batch, 3, height, width)
        float32: ToTensor's `x / 255`, then Normalize's `(x - mean) / std`, the same operations in the
        same order, so the same values."""
        mean, std = self.mean.to(pixels.device), self.std.to(pixels.device)
        if pixels.device.type != "cpu":  # one pass per operation over the whole batch
            batch = pixels.permute(0, 3, 1, 2).float().div_(255).sub_(mean).div_(std)
            return batch.contiguous(memory_format=memory_format)
        # On a CPU, image by image in (3, height, width) order: the arithmetic stays in cache and runs
        # along rows (in channels_last order it would run along the 3 channels, several times slower).
        count, height, width, _ = pixels.shape
        batch = torch.empty((count, 3, height, width), memory_format=memory_format)
        mean, std = mean[0], std[0]
        for index in range(count):
            batch[index] = pixels[index].permute(2, 0, 1).contiguous().float().div_(255).sub_(mean).div_(std)
        return batch


def _split_preprocess(preprocess: Callable) -> _Split | None:
    """Cut a standard torchvision/timm/CLIP pipeline at ToTensor; None for anything else (used whole)."""
    steps = list(getattr(preprocess, "transforms", None) or [])
    if len(steps) < 2:
        return None
    *head, to_tensor, normalize = steps
    names = [getattr(step, "__name__", type(step).__name__) for step in head]
    if (type(to_tensor).__name__ not in {"ToTensor", "MaybeToTensor"} or type(normalize).__name__ != "Normalize"
            or not set(names) <= _PIL_STEPS):
        return None
    mean = torch.as_tensor(normalize.mean, dtype=torch.float32).reshape(1, -1, 1, 1)
    std = torch.as_tensor(normalize.std, dtype=torch.float32).reshape(1, -1, 1, 1)
    if mean.shape[1] != 3 or std.shape[1] != 3 or bool((std == 0).any()):
        return None
    return _Split(tuple(head), mean, std)


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


def _collate(samples: list, pin: bool = False) -> tuple[list[int], torch.Tensor | None, list[tuple[int, str]]]:
    """Stack the images that decoded (into page-locked memory with `pin`, for a fast copy to the GPU);
    keep the indices and reasons of those that did not."""
    good = [(index, tensor) for index, tensor, _ in samples if tensor is not None]
    failed = [(index, reason) for index, tensor, reason in samples if tensor is None]
    tensor = None
    if good:
        first = good[0][1]
        tensor = torch.empty((len(good), *first.shape), dtype=first.dtype, pin_memory=pin)
        torch.stack([tensor for _, tensor in good], out=tensor)
    return [index for index, _ in good], tensor, failed


def _span(start: int, size: int, end: int) -> range:
    return range(start, min(start + size, end))


def _in_order(pool: Executor, jobs: Iterable[list[Callable]], window: int) -> Iterator[list]:
    """Run the calls of each job on `pool`, keeping `window` jobs submitted, and yield each job's results in
    job order. Closing the generator (an interrupt, an error) cancels the calls that have not started."""
    jobs = iter(jobs)
    pending = deque([pool.submit(call) for call in job] for job in islice(jobs, window))
    try:
        while pending:
            futures = pending.popleft()
            results = [future.result() for future in futures]
            pending.extend([pool.submit(call) for call in job] for job in islice(jobs, 1))
            yield results
    finally:
        for futures in pending:
            for future in futures:
                future.cancel()


def _thread_batches(dataset: _ImageFiles, batch_size: int, threads: int, ahead: int = 1,
                    pin: bool = False) -> Iterator[tuple]:
    """Batches decoded by `threads` threads of this process, image by image, up to `ahead` batches
    beyond the one the model is waiting for.

    Pillow releases the GIL while it decodes and resizes, so a thread decodes beside the model as well
    as a worker process would, without the process's start-up and copies. Batches are stacked here in
    the caller's thread, so no torch operation runs in a decoding thread (it would start a second
    OpenMP team and fight the model for the cores).
    """
    jobs = ([functools.partial(dataset.__getitem__, index) for index in _span(start, batch_size, len(dataset))]
            for start in range(0, len(dataset), batch_size))
    with ThreadPoolExecutor(max_workers=threads, thread_name_prefix="decode") as pool, \
            closing(_in_order(pool, jobs, ahead + 1)) as batches:
        for samples in batches:
            yield _collate(samples, pin)


def default_device() -> torch.device:
    """CUDA when a GPU is present, else the CPU."""
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def resolve_precision(precision: str | None, device: torch.device) -> str:
    """The precision to compute in on `device`: float16 on a GPU and float32 elsewhere, unless asked
    otherwise; a name the device cannot run is refused with what to use instead."""
    if precision is None:
        return "float16" if device.type == "cuda" else "float32"
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {', '.join(map(repr, PRECISIONS))}, or None for the "
                         f"device's default, got {precision!r}.")
    if precision == "float16" and device.type != "cuda":
        raise ValueError(f"precision 'float16' runs on a GPU only, not on {device.type}: on a CPU use 'bfloat16' "
                         "(fast on CPUs with AMX, such as Intel Xeon of the 4th generation and later) or 'float32'.")
    if precision == "bfloat16" and device.type not in ("cpu", "cuda"):
        raise ValueError(f"precision 'bfloat16' runs on a CPU or a CUDA GPU, not on {device.type}: use 'float32'.")
    return precision


_PRELOAD = ["torch", "numpy", "PIL.Image", "helpers.images", "helpers.encoders"]


def _worker_context(preload: Sequence[str] = ()) -> multiprocessing.context.BaseContext:
    """Start DataLoader workers from a clean process: forking after Milvus Lite's gRPC threads exist is unsafe.

    The forkserver imports `preload` (the modules the preprocessing steps come from) once, when it
    starts; otherwise every worker imports torchvision itself, each time (on 2 cores, 2 workers: first
    batch after 1.7 s instead of 0.7 s; beside a GPU, 15 workers: after 5-7 s).
    """
    if "forkserver" in multiprocessing.get_all_start_methods():
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(list(dict.fromkeys([*_PRELOAD, *preload])))
        return context
    return multiprocessing.get_context("spawn")


def _modules_of(preprocess: Callable) -> list[str]:
    """The modules that define the steps of a preprocessing pipeline (what a worker must import)."""
    steps = list(getattr(preprocess, "pil_steps", None) or getattr(preprocess, "transforms", None) or [preprocess])
    names = [step.__module__ if isinstance(step, types.FunctionType) else type(step).__module__ for step in steps]
    return [name for name in dict.fromkeys(names) if name != "__main__"]


def _cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def default_workers(device: torch.device) -> int:
    """Decoding worker processes `embed_images` starts beside a GPU for 4 batches or more: all cores but
    the one feeding the GPU, at most 16. (Not on a CPU: see `cpu_streams`.)"""
    return min(16, max(1, _cores() - 1)) if device.type == "cuda" else 0


def default_threads() -> int:
    """Decoding threads `embed_images` uses beside a GPU for short calls: two per core, at most 32. There
    decoding is the bottleneck, and the parts of Pillow and `load_rgb` that hold the GIL keep threads from
    using every core (16 cores: 31 threads 1.2x faster than 15). (On a CPU see `cpu_streams`.)"""
    return min(32, 2 * _cores())


def cpu_streams() -> tuple[int, int]:
    """(streams, threads per stream) for `embed_images` on a CPU: one stream per torch thread, at most 16
    (memory), sharing torch's threads between them.

    A stream decodes `Encoder.stream_batch` images, then runs the model on them, in one thread. Several such
    streams keep every core busy with no core waiting for another: one model on all cores waits at each
    layer for its slowest thread, which is slow whenever decoding has that core (ResNet-34 on 2 cores:
    1.1x the images/s of decoding threads beside one 2-thread model, as fast as the bare 2-thread model).
    """
    threads = torch.get_num_threads()
    streams = min(MAX_STREAMS, threads)
    return streams, threads // streams


@contextmanager
def stream_pool() -> Iterator[ThreadPoolExecutor]:
    """A pool of `cpu_streams()` threads, each running torch with its share of the threads.

    torch.set_num_threads sizes the calling thread's OpenMP team (the main thread's stays as it is) and
    sets a process-wide default for new threads, restored when the pool is done.
    """
    streams, threads_each = cpu_streams()
    threads = torch.get_num_threads()
    try:
        with ThreadPoolExecutor(streams, thread_name_prefix="embed", initializer=torch.set_num_threads,
                                initargs=(threads_each,)) as pool:
            yield pool
    finally:
        torch.set_num_threads(threads)


def _start_worker_server(preload: Sequence[str]) -> None:
    """Start the forkserver now: its imports (torch, torchvision: seconds) then overlap with loading the
    model instead of delaying the first `embed_images` that uses worker processes."""
    context = _worker_context(preload)
    if context.get_start_method() == "forkserver":
        from multiprocessing import forkserver

        forkserver.ensure_running()


def cpu_micro_batch() -> int:
    """How many images `Encoder.forward` gives the model at once on a CPU when it runs on all cores (a
    batch larger than a stream's): 4 per core, 8 to 64. Small batches keep the activations in the CPU
    caches; on 2 cores, images/s against batch size 64 (channels_last): ResNet-34 1.15x at 8, ResNet-50
    1.5x at 4-8, CLIP ViT-B/32 1.2x at 8-16."""
    return min(64, max(8, 4 * _cores()))


class Encoder:
    """A model that maps images (and, for CLIP, texts) to unit vectors of size `dim`."""

    def __init__(self, name: str, model: torch.nn.Module, preprocess: Callable, dim: int, min_side: int,
                 device: torch.device, channels_last: bool = True, text_model: torch.nn.Module | None = None,
                 stream_batch: int = STREAM_BATCH) -> None:
        self.name, self.model, self.preprocess, self.dim = name, model, preprocess, dim
        self.min_side, self.device, self.text_model = min_side, device, text_model
        self.memory_format = torch.channels_last if channels_last else torch.contiguous_format
        self.micro_batch = cpu_micro_batch() if device.type == "cpu" else None
        self.stream_batch = stream_batch
        self._split = _split_preprocess(preprocess)
        self._precision = resolve_precision(None, device)
        self.model_id = name  # what a collection records; marks offline stand-in weights (see load_encoder)

    def __repr__(self) -> str:
        return f"Encoder({self.name!r}, dim={self.dim}, device={self.device.type}, precision={self.precision})"

    @property
    def precision(self) -> str:
        """What the model computes in: a name in `PRECISIONS`, fixed when the encoder loads."""
        return self._precision

    def _compute_in(self, precision: str) -> None:
        """Compute in `precision`, as `resolve_precision` gave it, from now on (see `load_encoder`). The
        weights start from float32 (CLIP loads in float16 on a GPU, for float16 autocast); on a CPU, bfloat16
        then converts some of them."""
        self._precision = precision
        for module in filter(None, (self.model, self.text_model)):
            if precision != "float16":
                module.float()
            if precision == "bfloat16" and self.device.type == "cpu":
                _bfloat16_weights(module)

    def _autocast(self):
        dtype = PRECISIONS[self.precision]
        return nullcontext() if dtype is None else torch.autocast(self.device.type, dtype=dtype)

    def forward(self, batch: torch.Tensor) -> torch.Tensor:
        """Unit vectors for a batch of preprocessed images (already on any device), or of 8-bit
        (batch, height, width, 3) pixels from the PIL steps of the preprocessing (see `_Split`).
        On a CPU the model sees `micro_batch` images at a time, whatever the batch size."""
        with torch.inference_mode():
            batch = batch.to(self.device, non_blocking=True)
            if batch.dtype == torch.uint8 and self._split is not None:
                batch = self._split.finish(batch, self.memory_format)
            batch = batch.contiguous(memory_format=self.memory_format)
            step = self.micro_batch or len(batch)
            with self._autocast():
                features = torch.cat([self.model(batch[first:first + step]).flatten(1).float()
                                      for first in range(0, len(batch), step)])
            return torch.nn.functional.normalize(features, dim=1)

    def _batches(self, items: list, batch_size: int, num_workers: int | None) -> Iterator[tuple]:
        """(indices, batch, failed) per batch, decoded beside the model (see `embed_images`)."""
        stage = self._split or self.preprocess
        dataset = _ImageFiles(items, stage, self.min_side)
        if num_workers is None:  # beside a GPU
            pil_images = any(isinstance(item, Image.Image) for item in items)
            if len(items) < 4 * batch_size or pil_images:
                return _thread_batches(dataset, batch_size, default_threads(), ahead=2, pin=True)
            num_workers = default_workers(self.device)
        return iter(DataLoader(
            dataset, batch_size=batch_size, num_workers=num_workers, collate_fn=_collate,
            pin_memory=self.device.type == "cuda", prefetch_factor=4 if num_workers else None,
            multiprocessing_context=_worker_context(_modules_of(stage)) if num_workers else None,
        ))

    def _streams(self, items: list) -> Iterator[tuple]:
        """(indices, vectors, failed) per `stream_batch` images, in order, from `cpu_streams()` threads that
        each decode their images and run the model on them (see `cpu_streams`)."""
        dataset = _ImageFiles(items, self._split or self.preprocess, self.min_side)

        def embed(start: int) -> tuple:
            span = _span(start, self.stream_batch, len(dataset))
            indices, batch, failed = _collate([dataset[index] for index in span])
            return indices, None if batch is None else self.forward(batch), failed

        starts = range(0, len(items), self.stream_batch)
        jobs = ([functools.partial(embed, start)] for start in starts)
        # Every job is submitted at once (a job holds only its result): a stream never waits for a slower
        # one before it goes on.
        with stream_pool() as pool, closing(_in_order(pool, jobs, len(starts))) as results:
            for (result,) in results:
                yield result

    def _embedded(self, items: list, batch_size: int, num_workers: int | None) -> Iterator[tuple]:
        """(indices, vectors, failed) in order: streams on a CPU by default, otherwise batches decoded
        beside the model that runs here."""
        if num_workers is None and self.device.type == "cpu":
            yield from self._streams(items)
            return
        for indices, batch, failed in self._batches(items, batch_size, num_workers):
            yield indices, None if batch is None else self.forward(batch), failed

    def embed_images(self, items: Sequence[ImageSource], batch_size: int = DEFAULT_BATCH_SIZE,
                     num_workers: int | None = None, progress: bool | None = None) -> Embeddings:
        """Encode many images in batches; undecodable ones are skipped with their reason.

        `num_workers=None` (the default) is the fastest way measured with `benchmarks/embedding.py`: on a
        CPU, `cpu_streams()` threads that each decode and embed `stream_batch` images at a time
        (`batch_size` then only decides when the progress bar shows); beside a GPU, for 4 batches or more,
        `default_workers()` DataLoader worker processes (started through a forkserver, which is safe
        beside Milvus Lite's gRPC threads), otherwise `default_threads()` threads of this process (Pillow
        decodes and resizes without the GIL, and threads start at once). 0 decodes in this thread between
        batches; N > 0 uses N worker processes.
        """
        items = list(items)
        vectors = np.empty((len(items), self.dim), dtype=np.float32)
        kept: list[int] = []
        skipped: list[tuple[ImageSource, str]] = []
        show = len(items) > batch_size if progress is None else progress
        start = time.perf_counter()
        with tqdm(total=len(items), desc=f"Embedding with {self.name}", unit="img", disable=not show) as bar:
            for indices, embedded, failed in self._embedded(items, batch_size, num_workers):
                if embedded is not None:
                    vectors[indices] = embedded.cpu().numpy()
                    kept.extend(indices)
                skipped.extend((items[index], reason) for index, reason in failed)
                bar.update(len(indices) + len(failed))
        kept.sort()
        return Embeddings(vectors[kept], [items[index] for index in kept], skipped, time.perf_counter() - start)

    def embed_image(self, item: ImageSource) -> np.ndarray:
        """One image to one unit vector; raises `ImageError` if it cannot be decoded."""
        stage = self._split or self.preprocess  # 8-bit pixels, normalised in `forward`: 1 ms less per query
        return self.forward(stage(load_rgb(item, self.min_side)).unsqueeze(0))[0].cpu().numpy()

    def embed_texts(self, texts: Sequence[str]) -> np.ndarray:
        """Encode texts into the image space (CLIP only); over-long texts are truncated with a notice."""
        if self.text_model is None:
            raise TypeError(f"{self.name} encodes images only: use the 'clip' model for text queries.")
        import clip

        if isinstance(texts, str):
            raise TypeError("embed_texts takes a list of texts: use embed_text for one text.")
        texts = list(texts)
        for text in texts:
            length = len(_clip_tokenizer().encode(text)) if isinstance(text, str) else 0
            if not length:
                raise ValueError("Empty text query: type a few words that describe the image you want.")
            if length + 2 > CLIP_CONTEXT_LENGTH:
                print(f"Note: the query is longer than CLIP's {CLIP_CONTEXT_LENGTH} tokens and was truncated: "
                      f"{text[:60]!r}...", file=sys.stderr)
        tokens = clip.tokenize(texts, context_length=CLIP_CONTEXT_LENGTH, truncate=True).to(self.device)
        with torch.inference_mode(), self._autocast():
            features = self.text_model.encode_text(tokens).float()
        return torch.nn.functional.normalize(features, dim=1).cpu().numpy()

    def embed_text(self, text: str) -> np.ndarray:
        """One text to one unit vector (CLIP only)."""
        return self.embed_texts([text])[0]


@functools.lru_cache(maxsize=1)
def _clip_tokenizer():
    """CLIP's BPE tokenizer, built once: building it reads its 49k-merge vocabulary (about 0.1 s)."""
    import clip

    return clip.simple_tokenizer.SimpleTokenizer()


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
                   device, channels_last=False, text_model=model, stream_batch=CLIP_STREAM_BATCH)


def _bfloat16_weights(model: torch.nn.Module) -> None:
    """Store the convolution and linear layers' parameters in bfloat16 once, for autocast on a CPU: it
    then has no weights to convert at each call (one ResNet-34 image on 2 cores: 15 ms instead of 22).
    Every other parameter, such as the norms', stays float32."""
    for module in model.modules():
        if isinstance(module, (torch.nn.Conv2d, torch.nn.Linear)):
            module.to(torch.bfloat16)


def load_encoder(model: str = "resnet34", device: str | torch.device | None = None,
                 precision: str | None = None) -> Encoder:
    """Load an encoder by name: 'resnet50' (torchvision), 'clip' (ViT-B/32), or any timm model name.

    `precision` (see `PRECISIONS`), fixed when the encoder loads, defaults to float16 on a GPU and float32
    on a CPU. 'bfloat16' on a CPU with AMX (Intel Xeon of the 4th generation and later) embeds 2.5-3.5x
    as many images per second, with vectors within 1e-4 in cosine of the float32 ones (README.md,
    "Speed: embedding"); on CPUs without bfloat16 units it is slower than float32.
    """
    device = torch.device(device) if device is not None else default_device()
    precision = resolve_precision(precision, device)  # before any download
    config.announce_offline()
    model = CLIP if model == weights.CLIP_MODEL else model
    with warnings.catch_warnings(), weights.downloading(model):
        warnings.filterwarnings("ignore", message=".*(weights_only|pkg_resources|torch.jit.load).*")
        if model == TORCHVISION_RESNET50:
            encoder = _torchvision_resnet50(device)
        elif model == CLIP:
            encoder = _clip_encoder(device)
        else:
            encoder = _timm_encoder(model, device)
    encoder._compute_in(precision)
    if config.is_offline():
        encoder.model_id = f"{encoder.name}{config.STANDIN_SUFFIX}"
    if device.type == "cuda":
        _start_worker_server(_modules_of(encoder._split or encoder.preprocess))
    return encoder
