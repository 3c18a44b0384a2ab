"""Each model family loads its checkpoint through the library's own loader and embeds real images."""

from __future__ import annotations

import threading

import numpy as np
import pytest
import torch
from PIL import Image

from helpers import standins
from helpers.encoders import cpu_batch, decoding_workers, load_encoder
from helpers.errors import InputError
from helpers.images import find_images

from conftest import IMAGENET_SAMPLE, use_dead_proxy

GALLERY = find_images(IMAGENET_SAMPLE / "train")[:12]


def test_timm_loads_the_checkpoint_file_without_its_classifier(resnet34):
    checkpoint = torch.load(standins.timm_checkpoint("resnet34"), weights_only=True)
    assert "fc.weight" in checkpoint  # the file has the 1000-class head, as published checkpoints do
    loaded = resnet34.model.state_dict()
    assert torch.equal(loaded["conv1.weight"], checkpoint["conv1.weight"])
    assert torch.equal(loaded["layer4.2.bn2.running_var"], checkpoint["layer4.2.bn2.running_var"])
    assert "fc.weight" not in loaded and resnet34.dim == 512


def test_torchvision_resnet50_drops_the_final_layer_and_loads_the_state_dict():
    encoder = load_encoder("resnet50", device="cpu")
    checkpoint = torch.load(standins.resnet50_checkpoint(), weights_only=True)
    assert torch.equal(encoder.model[0].weight, checkpoint["conv1.weight"])
    assert not any(isinstance(layer, torch.nn.Linear) for layer in encoder.model)
    assert encoder.dim == 2048
    vectors = encoder.embed_images(GALLERY[:3]).vectors
    assert vectors.shape == (3, 2048) and vectors.dtype == np.float32


def test_clip_loads_the_torchscript_archive_through_clip_load(clip_encoder):
    archive = torch.jit.load(str(standins.clip_archive()), map_location="cpu").state_dict()
    assert torch.allclose(clip_encoder.model.conv1.weight, archive["visual.conv1.weight"].float())
    assert clip_encoder.dim == 512 and clip_encoder.text_model is not None


def test_standins_are_deterministic(tmp_path, monkeypatch):
    first = torch.load(standins.timm_checkpoint("resnet18"), weights_only=True)
    monkeypatch.setenv("IMAGE_SEARCH_CACHE", str(tmp_path))
    second_path = standins.timm_checkpoint("resnet18")
    assert second_path.is_relative_to(tmp_path)
    second = torch.load(second_path, weights_only=True)
    assert all(torch.equal(first[key], second[key]) for key in first)


@pytest.mark.parametrize("batch_size", [4, 5])
def test_batch_embeddings_match_single_images_and_keep_order(resnet34, batch_size):
    result = resnet34.embed_images(GALLERY, batch_size=batch_size)
    assert result.vectors.shape == (len(GALLERY), 512)
    assert result.sources == GALLERY and not result.skipped
    np.testing.assert_allclose(np.linalg.norm(result.vectors, axis=1), 1.0, atol=1e-5)
    for index in (0, 7):
        np.testing.assert_allclose(resnet34.embed_image(GALLERY[index]), result.vectors[index], atol=1e-4)
    assert not np.allclose(result.vectors[0], result.vectors[1], atol=1e-4)


def test_a_large_jpeg_gives_one_vector_by_path_and_as_an_opened_image(resnet34, tmp_path):
    """Large enough that decoding at a reduced JPEG scale would be possible: a path and an opened image must
    still be decoded alike."""
    path = tmp_path / "large.jpg"
    with Image.open(GALLERY[0]) as image:
        image.convert("RGB").resize((1280, 960), Image.Resampling.BICUBIC).save(path, quality=92)
    by_path = resnet34.embed_image(path)
    with Image.open(path) as opened:
        as_image = resnet34.embed_image(opened)
    with Image.open(path) as opened:
        in_a_batch = resnet34.embed_images([opened, path]).vectors
    np.testing.assert_allclose(as_image, by_path, atol=1e-6)
    np.testing.assert_allclose(in_a_batch, [by_path, by_path], atol=1e-5)


def test_on_a_cpu_the_calling_thread_decodes_between_batches_and_runs_the_model(resnet34, tmp_path):
    """One batching path: no other thread or process, the model on all of torch's threads, at most
    `cpu_batch()` images per model call; a file that fails is skipped in place."""
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"not a jpeg")
    items = [*GALLERY[:5], broken, *GALLERY[5:]]
    seen = []
    hook = resnet34.model.register_forward_hook(lambda module, inputs, output: seen.append(
        (threading.current_thread() is threading.main_thread(), torch.get_num_threads(), len(inputs[0]))))
    threads_before = threading.active_count()
    try:
        result = resnet34.embed_images(items, batch_size=5)
    finally:
        hook.remove()
    assert decoding_workers(torch.device("cpu"), batches=100) == 0
    assert [size for _, _, size in seen] == [5, 4, 3] and cpu_batch() >= 5
    assert {(main, count) for main, count, _ in seen} == {(True, torch.get_num_threads())}
    assert threading.active_count() == threads_before
    assert result.sources == GALLERY and [source for source, _ in result.skipped] == [broken]


def test_the_model_sees_at_most_cpu_batch_images_at_once_on_a_cpu(resnet34):
    sizes = []
    hook = resnet34.model.register_forward_hook(lambda module, inputs, output: sizes.append(len(inputs[0])))
    try:
        vectors = resnet34.embed_images(GALLERY, batch_size=len(GALLERY)).vectors
    finally:
        hook.remove()
    step = cpu_batch()
    assert sizes == [min(step, len(GALLERY) - first) for first in range(0, len(GALLERY), step)]
    np.testing.assert_allclose(vectors, resnet34.embed_images(GALLERY, batch_size=1).vectors, atol=1e-5)


def test_beside_a_gpu_worker_processes_decode_once_there_are_four_batches():
    gpu = torch.device("cuda")
    assert decoding_workers(gpu, batches=3) == 0
    assert 1 <= decoding_workers(gpu, batches=4) <= 16


@pytest.mark.parametrize("fixture", ["resnet34", "clip_encoder"])
def test_worker_processes_decode_the_same_batches_as_the_calling_thread(request, fixture, tmp_path):
    """The path used beside a GPU, run on a CPU: the preprocessing travels to worker processes started
    from a fresh server process (never forked beside Milvus Lite's threads) and gives the same tensors."""
    encoder = request.getfixturevalue(fixture)
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"not a jpeg")
    items = [*GALLERY[:3], broken, *GALLERY[3:6]]
    here = list(encoder._batches(items, 3, workers=0))
    in_workers = list(encoder._batches(items, 3, workers=2))
    assert [(indices, failed) for indices, _, failed in in_workers] == [(indices, failed) for indices, _, failed in here]
    for (_, mine, _), (_, theirs, _) in zip(here, in_workers):
        assert torch.equal(mine, theirs)


def test_undecodable_files_are_skipped_with_their_reason(resnet34, tmp_path):
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(GALLERY[0].read_bytes()[:300])
    result = resnet34.embed_images([GALLERY[0], broken, GALLERY[1]], batch_size=2)
    assert result.sources == [GALLERY[0], GALLERY[1]]
    assert [source for source, _ in result.skipped] == [broken]
    assert "truncated" in result.skipped[0][1] or "corrupt" in result.skipped[0][1]


def test_text_needs_clip(resnet34):
    with pytest.raises(InputError, match="clip"):
        resnet34.embed_text("a white dog")


def test_clip_text_and_image_share_one_space(clip_encoder):
    texts = clip_encoder.embed_texts(["a white dog", "a red car"])
    image = clip_encoder.embed_image(GALLERY[0])
    assert texts.shape == (2, 512) and image.shape == (512,)
    np.testing.assert_allclose(np.linalg.norm(texts, axis=1), 1.0, atol=1e-5)
    assert not np.allclose(texts[0], texts[1])


def test_a_failed_weights_download_names_the_url_the_cache_and_the_switch(monkeypatch, tmp_path):
    from helpers.errors import DownloadError

    monkeypatch.delenv("IMAGE_SEARCH_OFFLINE")
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    use_dead_proxy(monkeypatch)
    with pytest.raises(DownloadError) as failure:
        load_encoder("resnet50", device="cpu")
    message = str(failure.value)
    assert "https://download.pytorch.org/models/resnet50-11ad3fa6.pth" in message
    assert str(tmp_path / "hub" / "checkpoints") in message and "IMAGE_SEARCH_OFFLINE=1" in message


def test_texts_must_be_a_list_and_say_something(clip_encoder):
    with pytest.raises(TypeError, match="embed_text for one text"):
        clip_encoder.embed_texts("a white dog")
    with pytest.raises(ValueError, match="Empty text query"):
        clip_encoder.embed_text("\ufeff")


def test_bfloat16_on_a_cpu_runs_the_model_in_bfloat16_and_gives_unit_float32_vectors_near_float32(resnet34,
                                                                                                 monkeypatch):
    monkeypatch.setenv("IMAGE_SEARCH_OFFLINE", "1")
    fast = load_encoder("resnet34", device="cpu", precision="bfloat16")
    assert (resnet34.precision, fast.precision) == ("float32", "bfloat16") and "bfloat16" in repr(fast)
    assert fast.model.conv1.weight.dtype == torch.bfloat16 and fast.model.bn1.weight.dtype == torch.float32
    with pytest.raises(AttributeError):
        fast.precision = "float32"  # the weights are bfloat16 now: fixed when the encoder loads
    dtypes = []
    fast.model.conv1.register_forward_hook(lambda module, inputs, output: dtypes.append(output.dtype))
    many = fast.embed_images(GALLERY[:8]).vectors
    one = fast.embed_image(GALLERY[0])
    assert dtypes and set(dtypes) == {torch.bfloat16}
    reference = resnet34.embed_images(GALLERY[:8]).vectors
    assert many.dtype == one.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(many, axis=1), 1.0, atol=1e-5)
    cosines = (many * reference).sum(axis=1)
    assert cosines.min() > 0.999 and not np.array_equal(many, reference)
    assert float(one @ reference[0]) > 0.999


def test_bfloat16_clip_stays_in_the_space_of_float32_clip(clip_encoder, monkeypatch):
    monkeypatch.setenv("IMAGE_SEARCH_OFFLINE", "1")
    fast = load_encoder("clip", device="cpu", precision="bfloat16")
    texts = ["a white dog", "a red car on a street"]
    cosines = (fast.embed_texts(texts) * clip_encoder.embed_texts(texts)).sum(axis=1)
    assert cosines.min() > 0.999
    images = fast.embed_images(GALLERY[:4]).vectors
    assert (images * clip_encoder.embed_images(GALLERY[:4]).vectors).sum(axis=1).min() > 0.999


@pytest.mark.parametrize("precision, says", [("float16", "on a CPU use .bfloat16."),
                                             ("half", "one of 'float32', 'bfloat16', 'float16'")])
def test_a_precision_the_device_cannot_run_is_refused_before_anything_loads(precision, says):
    with pytest.raises(ValueError, match=says):
        load_encoder("no_such_model", device="cpu", precision=precision)  # the model name is never looked up



def test_a_timm_model_with_a_head_layer_gives_vectors_of_the_size_it_reports():
    """MobileNetV3's 960 pooled features go through a 1280-wide head layer, which `num_classes=0` keeps."""
    from helpers.tool.existing import timm_vector_size

    encoder = load_encoder("mobilenetv3_large_100", device="cpu")
    vector = encoder.embed_image(GALLERY[0])
    assert encoder.dim == timm_vector_size("mobilenetv3_large_100") == vector.shape[-1] == 1280
