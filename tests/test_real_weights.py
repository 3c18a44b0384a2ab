"""The online path with real ImageNet weights: what the stand-ins cannot show.

`load_encoder("efficientnet_lite0")` with offline mode off loads timm's pretrained weights through timm's own
download code, from a Hugging Face hub cache that `tests/real_weights.py` fills from a registry package, with
nothing from the network. Only a right preprocessing (size, crop, colour order, mean and std) and a cut at the
right layer make the checkpoint's own classifier name what is in real photos, and make views of one photo
find one another in Milvus.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from helpers import config
from helpers.collection import layout
from helpers.tool.connecting import connect
from helpers.encoders import Encoder, load_encoder
from helpers.evaluate import evaluate
from helpers.images import load_rgb
from helpers.indexing import index_folder

import real_weights
from real_weights import MODEL, PHOTOS, go_online, photo

pytestmark = pytest.mark.real_weights

# ImageNet-1k class indices that name what is in each photo; the top class must be one of them.
CAT = {281: "tabby", 282: "tiger cat", 283: "Persian cat", 284: "Siamese cat", 285: "Egyptian cat"}
EXPECTED = {
    "chelsea": CAT,
    "coffee": {967: "espresso", 968: "cup", 504: "coffee mug"},
    "rocket": {657: "missile", 744: "projectile", 812: "space shuttle"},
    "china": {698: "palace", 663: "monastery", 832: "stupa"},
    "motorcycle": {665: "moped", 670: "motor scooter"},
    "camera": {872: "tripod", 759: "reflex camera"},
    "grace_hopper": {457: "bow tie", 652: "military uniform", 834: "suit", 906: "Windsor tie"},
}
VIEWS_PER_PHOTO, HELD_OUT, VIEW_SEED = 10, 4, 0
K, MIN_PRECISION = 5, 0.85


@pytest.fixture(scope="module")
def encoder(real_weights_hub: Path) -> Encoder:
    with pytest.MonkeyPatch.context() as patch:
        go_online(patch, real_weights_hub)
        return load_encoder(MODEL, device="cpu")


@pytest.fixture(scope="module")
def classifier() -> torch.nn.Linear:
    """The checkpoint's own 1000-class layer, which the encoder leaves out."""
    published = torch.load(real_weights.checkpoint_path(), map_location="cpu", weights_only=True)
    layer = torch.nn.Linear(*published["_fc.weight"].shape[::-1])
    layer.load_state_dict({"weight": published["_fc.weight"], "bias": published["_fc.bias"]})
    return layer.eval()


def test_the_online_path_loads_the_real_weights_from_the_hub_cache_without_the_classifier(encoder, real_weights_online):
    renamed = real_weights.timm_state_dict()
    loaded = encoder.model.state_dict()
    assert torch.equal(loaded["conv_stem.weight"], renamed["conv_stem.weight"])
    assert torch.equal(loaded["bn2.running_var"], renamed["bn2.running_var"])
    assert "classifier.weight" not in loaded and encoder.dim == 1280
    assert not config.is_offline() and encoder.model_id == MODEL  # no stand-in mark: real weights


@pytest.mark.parametrize("name", EXPECTED)
def test_the_encoder_features_name_what_is_in_a_real_photo(encoder, classifier, real_weights_online, name):
    image = load_rgb(photo(name))
    with torch.inference_mode():
        features = encoder.model(encoder.preprocess(image).unsqueeze(0))
        probabilities = classifier(features).softmax(dim=1)[0]
    top5 = probabilities.topk(5).indices.tolist()
    assert top5[0] in EXPECTED[name], (
        f"{name}: top 5 classes {top5} ({probabilities[top5].numpy().round(3)}), expected one of {EXPECTED[name]} first")
    # the vector that goes into Milvus is these features at unit length
    np.testing.assert_allclose(encoder.embed_image(photo(name)),
                               torch.nn.functional.normalize(features, dim=1)[0].numpy(), atol=1e-5)


def test_the_encoder_is_the_published_network_cut_just_before_its_classifier(encoder, classifier,
                                                                          real_weights_online):
    """timm's whole efficientnet_lite0 with the same weights gives the logits of the encoder's features fed to
    the classifier: the cut is right (average pooling of the last features), which naming photos alone does
    not show (max pooling names them too)."""
    import timm

    whole = timm.create_model(MODEL, pretrained=True).eval()
    batch = torch.stack([encoder.preprocess(load_rgb(photo(name))) for name in PHOTOS])
    with torch.inference_mode():
        torch.testing.assert_close(classifier(encoder.model(batch)), whole(batch), atol=1e-4, rtol=1e-4)


def test_the_encoder_preprocesses_photos_as_the_checkpoint_was_trained(encoder, real_weights_online):
    """The recipe of timm's efficientnet_lite0.ra_in1k, written out: bicubic resize of the short side to 256
    (crop 0.875), centre crop 224, RGB, ImageNet mean and std. The classifier above names these photos even
    with a mean and std of 0.5 or in BGR order, so only this comparison catches such a slip."""
    from torchvision import transforms

    recipe = transforms.Compose([
        transforms.Resize(256, interpolation=transforms.InterpolationMode.BICUBIC),
        transforms.CenterCrop(224),
        transforms.ToTensor(),
        transforms.Normalize(mean=(0.485, 0.456, 0.406), std=(0.229, 0.224, 0.225)),
    ])
    images = [load_rgb(photo(name)) for name in PHOTOS]
    with torch.inference_mode():
        expected = torch.nn.functional.normalize(encoder.model(torch.stack([recipe(image) for image in images])))
    vectors = encoder.embed_images(images).vectors
    cosines = (vectors * expected.numpy()).sum(axis=1)
    assert cosines.min() > 0.9999, dict(zip(PHOTOS, cosines.round(4)))


def test_views_of_a_dozen_real_photos_find_their_photo_in_milvus(encoder, real_weights_online, tmp_path):
    train, test = tmp_path / "train", tmp_path / "test"
    real_weights.write_views(train, test, VIEWS_PER_PHOTO, HELD_OUT, VIEW_SEED)
    client = connect(str(tmp_path / "views.db"))
    report = index_folder(client, "views", encoder, train, progress=False)
    assert report.indexed == len(PHOTOS) * (VIEWS_PER_PHOTO - HELD_OUT) and not report.skipped
    assert layout(client, "views").model == MODEL

    result = evaluate(client, "views", encoder, train, test, k=K)
    print(f"\nprecision@{K} over {len(result.queries)} held-out views of {len(PHOTOS)} photos: "
          f"{result.precision:.3f} (mAP@{K} {result.mean_average_precision:.3f})\n{result.table(rows=len(PHOTOS))}")
    assert len(result.queries) == len(PHOTOS) * HELD_OUT
    assert result.precision >= MIN_PRECISION, result.table(rows=len(PHOTOS))
    client.close()


def test_the_command_line_indexes_and_searches_real_photos_with_any_timm_model(cli, real_weights_online, tmp_path):
    """`--model` takes a timm name beyond the three offered by name: real weights through the CLI, end to end."""
    import json

    train, test, db = tmp_path / "train", tmp_path / "test", tmp_path / "cli.db"
    real_weights.write_views(train, test, per_photo=4, held_out=1, seed=VIEW_SEED)
    online = {config.OFFLINE_ENV: "0"}

    indexed = cli("index", str(train), "--model", MODEL, "--db", str(db), env=online)
    assert indexed.returncode == 0 and f"model {MODEL}, 1280-d" in indexed.stdout, indexed.stderr
    for name in ("chelsea", "coffee", "rocket"):
        [view] = (test / name).iterdir()
        found = cli("search", str(view), "--top-k", "3", "--json", "--db", str(db), env=online)  # it records the model
        assert found.returncode == 0, found.stderr
        assert [Path(hit["path"]).parent.name for hit in json.loads(found.stdout)] == [name] * 3
