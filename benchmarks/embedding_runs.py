"""The three ways the embedding benchmark embeds images, and its query latencies (see embedding.py).

(a) `run_tutorial`, the tutorial's loop; (b) `run_pipeline`, the helpers pipeline; (c) `run_ceiling`, the bare
forward on ready tensors; `query_latency`, an image (and text) query beside one bare forward.
"""

from __future__ import annotations

import time

from machine import sync

QUERY_TEXTS = ("a white dog", "a red car on a street", "a castle on a hill", "a goldfish in a bowl",
               "a comic book cover", "a loudspeaker", "an ambulance", "a wooden bannister")


def tutorial_model(name: str):
    """(model, forward, preprocess) as the tutorial has them: the package's loader builds the model and its
    preprocessing (the tutorial's code for each family), left as the tutorial leaves it: eval mode, float32,
    contiguous memory, on the CPU. `model` is what moves to a GPU; CLIP's forward is `encode_image`."""
    import torch

    from helpers.models import load_model

    loaded = load_model(name, torch.device("cpu"))
    model = loaded.model.to(memory_format=torch.contiguous_format)
    if loaded.text_model is not None:
        return loaded.text_model, loaded.text_model.encode_image, loaded.preprocess
    return model, model, loaded.preprocess


def run_tutorial(client, collection: str, dim: int, paths, forward, preprocess, device) -> float:
    """The tutorial's loop; returns seconds."""
    import torch
    from PIL import Image
    from sklearn.preprocessing import normalize

    from helpers.collection import create_quick

    create_quick(client, collection, dim, metric="COSINE", vector_field="vector", recreate=True)
    start = time.perf_counter()
    for path in paths:
        image = Image.open(path).convert("RGB")
        tensor = preprocess(image).unsqueeze(0).to(device)
        with torch.no_grad():
            output = forward(tensor)
        vector = normalize(output.float().squeeze().cpu().numpy().reshape(1, -1), norm="l2").flatten()
        client.insert(collection, {"vector": vector, "filename": str(path)})
    sync(device)
    return time.perf_counter() - start


def run_pipeline(client, collection: str, encoder, paths, batch_size: int):
    """`embed_images` plus batched `insert`; returns (seconds, embeddings)."""
    from helpers.collection import create_quick
    from helpers.indexing import insert

    create_quick(client, collection, encoder.dim, metric="COSINE", vector_field="vector", model=encoder.name,
                 recreate=True)
    start = time.perf_counter()
    embeddings = encoder.embed_images(paths, batch_size=batch_size, progress=False)
    rows = [{"vector": vector, "filename": str(path)} for vector, path in zip(embeddings.vectors, embeddings.sources)]
    inserted = insert(client, collection, rows)
    seconds = time.perf_counter() - start
    assert inserted == len(paths), f"pipeline inserted {inserted} of {len(paths)} rows"
    return seconds, embeddings


def preprocessed(encoder, paths):
    import torch

    from helpers.images import load_rgb

    return torch.stack([encoder.preprocess(load_rgb(path)) for path in paths])


def bare_forward(encoder, batch):
    import torch

    with torch.inference_mode(), encoder._autocast():
        return encoder.model(batch)


def _time_forward(encoder, data, batch_size: int) -> float:
    """Seconds per image of the bare forward over `data` in batches of `batch_size`, one call after the
    other on all torch threads (after a warm-up)."""
    starts = range(0, len(data), batch_size)
    run = lambda first: bare_forward(encoder, data[first:first + batch_size])  # noqa: E731
    for first in [0] + ([starts[-1]] if len(data) % batch_size else []):  # oneDNN / cuDNN plans for these shapes
        run(first)
    sync(encoder.device)
    start = time.perf_counter()
    for first in starts:
        run(first)
    sync(encoder.device)
    return (time.perf_counter() - start) / len(data)


def run_ceiling(encoder, tensors, batch_size: int) -> tuple[float, str, float]:
    """The ceiling: the bare forward at its fastest memory format and batch size (up to `batch_size`, so
    also the pipeline's own), over all images, tensors already on the device.

    Every configuration is tried on a sample; the fastest is then timed over all images, once, as (b) is.
    Returns (seconds over all images, configuration, seconds per image at `batch_size` in the encoder's
    format).
    """
    import torch

    from helpers.encoders import cpu_batch

    formats = {"channels_last": torch.channels_last, "contiguous": torch.contiguous_format}
    micro = min(cpu_batch() if encoder.device.type == "cpu" else batch_size, batch_size)
    sizes = sorted({batch_size, micro, *(size for size in (1, 4, 8, 16, 32) if size < batch_size)})
    sample = tensors[:max(32, batch_size)]
    original = encoder.memory_format
    nominal = float("nan")
    trials = []
    try:
        for label, memory_format in formats.items():
            encoder.model.to(memory_format=memory_format)
            data = sample.to(encoder.device).contiguous(memory_format=memory_format)
            for size in sizes:
                per_image = _time_forward(encoder, data, size)
                trials.append((per_image, label, size))
                if size == batch_size and memory_format == original:
                    nominal = per_image
            del data
        _, label, size = min(trials)
        encoder.model.to(memory_format=formats[label])
        data = tensors.to(encoder.device).contiguous(memory_format=formats[label])
        seconds = _time_forward(encoder, data, size) * len(data)
        del data
    finally:
        encoder.model.to(memory_format=original)
    return seconds, f"{label}, batch {size}", nominal


def fill_collection(client, collection: str, encoder, embeddings, rows: int, seed: int = 0) -> None:
    """The pipeline's vectors, topped up with seeded random unit vectors to `rows` rows."""
    import numpy as np

    from helpers.collection import create_quick
    from helpers.indexing import insert

    create_quick(client, collection, encoder.dim, metric="COSINE", vector_field="vector", model=encoder.name,
                 recreate=True)
    vectors = embeddings.vectors[:rows]
    names = [str(path) for path in embeddings.sources[:rows]]
    missing = rows - len(vectors)
    if missing > 0:
        extra = np.random.default_rng(seed).standard_normal((missing, encoder.dim)).astype(np.float32)
        vectors = np.concatenate([vectors, extra / np.linalg.norm(extra, axis=1, keepdims=True)])
        names += [f"synthetic/{index:05d}.JPEG" for index in range(missing)]
    insert(client, collection, [{"vector": v, "filename": n} for v, n in zip(vectors, names)])


def time_interleaved(runs: dict, count: int, warmup: int = 3) -> dict[str, list[float]]:
    """Milliseconds of each `run(i)`, i in range(count), the runs taking turns (after `warmup` untimed
    rounds): a machine that slows down or speeds up meanwhile shifts them all alike, not one of them."""
    times = {key: [] for key in runs}
    for index in range(warmup + count):
        for key, run in runs.items():
            start = time.perf_counter()
            run(index)
            if index >= warmup:
                times[key].append((time.perf_counter() - start) * 1e3)
    return times


def query_latency(encoder, client, collection: str, paths, tensor, count: int) -> dict[str, list[float]]:
    """Milliseconds of an image query and its parts (and, for CLIP, a text query) beside one bare forward."""
    from helpers.tool.searching import search
    from helpers.images import load_rgb

    device = encoder.device
    queries = [paths[index % len(paths)] for index in range(count + 3)]
    vector = encoder.embed_image(queries[0])
    one = tensor[None].to(device).contiguous(memory_format=encoder.memory_format)
    runs = {
        "forward": lambda i: (bare_forward(encoder, one), sync(device)),
        "image_query": lambda i: search(client, collection, encoder.embed_image(queries[i]), top_k=10),
        "image_query_raw": lambda i: client.search(collection, data=[encoder.embed_image(queries[i])],
                                                   limit=10, output_fields=["filename"]),
        "search_only": lambda i: search(client, collection, vector, top_k=10),
        "client_search": lambda i: client.search(collection, data=[vector], limit=10, output_fields=["filename"]),
        "decode_only": lambda i: encoder.preprocess(load_rgb(queries[i])),
        "embed_only": lambda i: encoder.embed_image(queries[i]),
    }
    if encoder.text_model is not None:
        runs["text_query"] = lambda i: search(client, collection,
                                              encoder.embed_text(QUERY_TEXTS[i % len(QUERY_TEXTS)]), top_k=10)
    return time_interleaved(runs, count)
