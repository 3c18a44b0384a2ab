"""Indexing a real folder into Milvus Lite, and the retrieval metrics."""

from __future__ import annotations

import pytest

from helpers.collection import CollectionError, create_quick, create_with_schema, layout
from helpers.tool.searching import count, search
from helpers.tool.connecting import connect
from helpers.indexing import stored_paths
from helpers.tool.rebuild import index_or_rebuild
from helpers.evaluate import average_precision_at_k, evaluate, precision_at_k
from helpers.images import find_images
from helpers.indexing import index_folder
from helpers.results import hit_path

from conftest import IMAGENET_SAMPLE


def test_precision_and_standard_average_precision():
    found = ["dog", "cat", "dog", "cat", "cat"]
    assert precision_at_k(found, "dog", 5) == pytest.approx(0.4)
    # relevant at ranks 1 and 3: (1/1 + 2/3) / min(10 relevant, k=5)
    assert average_precision_at_k(found, "dog", 10, 5) == pytest.approx((1 + 2 / 3) / 5)
    assert average_precision_at_k(["dog"], "dog", 1, 10) == pytest.approx(1.0)
    assert average_precision_at_k(["cat"] * 5, "dog", 10, 5) == 0.0
    assert precision_at_k(["dog"], "dog", 10) == pytest.approx(0.1)  # missing results count as wrong


def test_index_folder_stores_every_image_once_with_its_path(tmp_path, resnet34, train_copy):
    client = connect(str(tmp_path / "m.db"))
    first = index_folder(client, "images", resnet34, train_copy, batch_size=16)
    images = find_images(train_copy)
    assert first.indexed == len(images) == 80 and first.already_indexed == 0 and not first.skipped
    again = index_folder(client, "images", resnet34, train_copy)
    assert again.indexed == 0 and again.already_indexed == 80
    assert count(client, "images") == 80
    assert stored_paths(client, "images") == {str(path) for path in images}
    for path in images[::20]:
        assert hit_path(search(client, "images", resnet34.embed_image(path), top_k=1)[0]) == str(path)


def test_extra_fields_are_stored(tmp_path, resnet34, train_copy):
    client = connect(str(tmp_path / "m.db"))
    index_folder(client, "images", resnet34, train_copy / "goldfish", extra_fields=lambda p: {"label": p.parent.name})
    hits = search(client, "images", resnet34.embed_image(next((train_copy / "goldfish").iterdir())), top_k=3,
                  output_fields=["filepath", "label"])
    assert {hit["entity"]["label"] for hit in hits} == {"goldfish"}


def test_evaluation_over_the_sample_test_folder(tmp_path, resnet34):
    client = connect(str(tmp_path / "m.db"))
    index_folder(client, "images", resnet34, IMAGENET_SAMPLE / "train")
    result = evaluate(client, "images", resnet34, IMAGENET_SAMPLE / "train", IMAGENET_SAMPLE / "test", k=10)
    assert len(result.queries) == 8
    for query in result.queries:
        labels = [hit_path(hit).split("/")[-2] for hit in query.hits]
        assert len(query.hits) == 10
        assert query.precision == pytest.approx(labels.count(query.label) / 10)
        assert query.average_precision == pytest.approx(average_precision_at_k(labels, query.label, 10, 10))
    assert result.mean_average_precision == pytest.approx(sum(q.average_precision for q in result.queries) / 8)
    per_class = result.per_class()
    assert [row[2] for row in per_class] == sorted((row[2] for row in per_class), reverse=True)
    assert result.worst().average_precision == min(q.average_precision for q in result.queries)
    table = result.table(rows=2)
    assert table.splitlines()[0].split() == ["class", "P@10", "AP@10"] and "..." in table
    assert result.summary().startswith("precision@10: ")


def test_offline_collections_record_the_stand_in_and_refuse_pretrained_vectors(tmp_path, resnet34, train_copy):
    from helpers.collection import CollectionError, create_quick, layout

    client = connect(str(tmp_path / "m.db"))
    index_folder(client, "images", resnet34, train_copy / "castle")
    assert layout(client, "images").model == "resnet34 (offline stand-in)"
    with pytest.raises(CollectionError, match="from model 'resnet34 \\(offline stand-in\\)', but 'resnet34'"):
        create_quick(client, "images", 512, model="resnet34", recreate=False)


def test_re_creation_is_asked_for_by_name():
    with pytest.raises(TypeError, match="recreate"):
        create_quick(None, "c", 8)
    with pytest.raises(TypeError, match="recreate|index_params"):
        create_with_schema(None, "c", 8)


def test_recreating_by_index_folder_keeps_an_explicit_schema_and_its_index(tmp_path, resnet34, small_train_copy):
    """Notebook 02's collection (IVF_FLAT + L2, VARCHAR limits, a painter field) stays as it was made."""
    client = connect(str(tmp_path / "m.db"))
    create_with_schema(client, "paintings", resnet34.dim, path_max_length=200, text_fields={"painter": 64},
                       index_type="IVF_FLAT", metric="L2", index_params={"nlist": 4}, model="clip", recreate=True)
    for _ in range(2):  # first over another model's (empty) collection, then over its own rows
        report = index_or_rebuild(client, "paintings", resnet34, small_train_copy, vector_field="image_embedding",
                              extra_fields=lambda path: {"painter": "p"}, progress=False, recreate=True)
        assert report.indexed == 16 and report.already_indexed == 0
    assert count(client, "paintings") == 16
    info = client.describe_collection("paintings")
    fields = {field["name"]: field for field in info["fields"]}
    assert set(fields) == {"id", "filepath", "painter", "image_embedding"} and not info["enable_dynamic_field"]
    assert fields["filepath"]["params"]["max_length"] == 200 and fields["painter"]["params"]["max_length"] == 64
    index = client.describe_index("paintings", client.list_indexes("paintings")[0])
    assert (index["index_type"], index["metric_type"]) == ("IVF_FLAT", "L2")
    assert layout(client, "paintings").model == resnet34.model_id


def test_recreating_a_quick_collection_for_another_size_builds_it_anew(tmp_path, resnet34, small_train_copy):
    client = connect(str(tmp_path / "m.db"))
    create_quick(client, "images", 2048, model="resnet50", recreate=True)
    report = index_or_rebuild(client, "images", resnet34, small_train_copy, progress=False, recreate=True)
    assert report.indexed == 16 and layout(client, "images").model == resnet34.model_id


def test_recreating_an_explicit_schema_for_another_size_is_refused_and_keeps_it(tmp_path, resnet34, train_copy):
    client = connect(str(tmp_path / "m.db"))
    create_with_schema(client, "paintings", 2048, index_params={"nlist": 4}, model="resnet50", recreate=True)
    with pytest.raises(CollectionError, match="schema of its own .*drop_collection"):
        index_or_rebuild(client, "paintings", resnet34, train_copy, progress=False, recreate=True)
    assert layout(client, "paintings").model == "resnet50"


def test_evaluate_counts_the_gallery_and_labels_the_hits_by_the_same_folder_rule(tmp_path, resnet34):
    """Nested class folders: an image's class is the folder it is in, for the gallery and for the hits alike."""
    import shutil

    from helpers.images import labelled_images

    source = sorted(find_images(IMAGENET_SAMPLE))[:6]
    for split, group in (("train", source), ("test", source[:2])):
        for number, path in enumerate(group):
            target = tmp_path / split / "animals" / ("cats" if number % 2 else "dogs") / f"{number}{path.suffix}"
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(path, target)
    assert {label for _, label in labelled_images(tmp_path / "train")} == {"cats", "dogs"}
    client = connect(str(tmp_path / "m.db"))
    index_folder(client, "nested", resnet34, tmp_path / "train", progress=False)
    evaluation = evaluate(client, "nested", resnet34, tmp_path / "train", tmp_path / "test", k=3)
    assert {query.label for query in evaluation.queries} == {"cats", "dogs"}
    # each query finds itself first (the same file is in the gallery), so at least 1 of its 3 hits is of its class
    assert all(query.hits[0]["distance"] > 0.999 and query.precision >= 1 / 3 for query in evaluation.queries)
