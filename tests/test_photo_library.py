"""Each measurement of notebook 04 on hand-made vectors with known answers, in a real Milvus Lite file: an
index's recall and size, a planted duplicate found by range search, a group, a changed file, a fused search."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from pymilvus import AnnSearchRequest, DataType, RRFRanker, WeightedRanker

from conftest import IMAGENET_SAMPLE
from helpers.tool.connecting import connect
from helpers.images import find_images, load_rgb
from helpers.photo_figures import plot_recall_against_ef, plot_threshold_curve, show_groups
from helpers.photo_library import (COPY_KINDS, best_threshold, distinct_labels, duplicate_groups, folder_changes,
                                   index_bytes_per_vector, label_found, label_share, make_near_copies, median_ms,
                                   milvus_refusal, threshold_curve)
from helpers.evaluate import index_recall

DIM = 32


def unit(vectors: np.ndarray) -> np.ndarray:
    return (vectors / np.linalg.norm(vectors, axis=-1, keepdims=True)).astype(np.float32)


@pytest.fixture
def lite(tmp_path: Path):
    """A Lite file with collection 'vectors': auto id, a 32-d vector, a label; no index yet."""
    uri = str(tmp_path / "library.db")
    client = connect(uri)
    schema = client.create_schema(auto_id=True)
    schema.add_field("id", DataType.INT64, is_primary=True)
    schema.add_field("vector", DataType.FLOAT_VECTOR, dim=DIM)
    schema.add_field("label", DataType.VARCHAR, max_length=16)
    client.create_collection("vectors", schema=schema)
    yield client, uri
    client.close()


def fill(client, vectors: np.ndarray, labels: list[str]) -> None:
    client.insert("vectors", [{"vector": vector, "label": label} for vector, label in zip(vectors, labels)])
    client.flush("vectors")


def use_index(client, index_type: str, params: dict) -> None:
    client.release_collection("vectors")
    for name in client.list_indexes("vectors"):
        client.drop_index("vectors", name)
    index = client.prepare_index_params()
    index.add_index(field_name="vector", index_type=index_type, metric_type="COSINE", params={**params, "params": params})
    client.create_index("vectors", index)
    client.load_collection("vectors")


def test_an_index_is_measured_against_the_exact_search_and_by_its_files(lite):
    client, uri = lite
    rows = unit(np.random.default_rng(0).standard_normal((800, DIM)))
    fill(client, rows, ["x"] * len(rows))
    queries = unit(np.random.default_rng(1).standard_normal((20, DIM)))
    use_index(client, "FLAT", {})
    exact = client.search("vectors", data=queries, limit=10, search_params={"metric_type": "COSINE"})
    similarities = queries @ rows.T  # FLAT is exact: the 10 highest similarities of each query
    np.testing.assert_allclose([sorted(hit["distance"] for hit in hits) for hits in exact],
                               np.sort(similarities, axis=1)[:, -10:], atol=1e-5)

    sizes = {}
    for index_type, params in (("HNSW", {"M": 16, "efConstruction": 200}), ("IVF_SQ8", {"nlist": 16})):
        use_index(client, index_type, params)
        assert client.describe_index("vectors", "vector")["indexed_rows"] == len(rows)
        found = client.search("vectors", data=queries, limit=10,
                              search_params={"metric_type": "COSINE", "params": {"ef": 200, "nprobe": 16}})
        assert index_recall(found, exact, 10) > 0.9  # searching the whole index finds (nearly) the exact top 10
        sizes[index_type] = index_bytes_per_vector(uri, "vectors", len(rows))
    assert sizes["HNSW"] > DIM * 4 > DIM * 1.5 > sizes["IVF_SQ8"] > DIM  # float32 plus links; one byte a number
    assert index_bytes_per_vector("http://localhost:19530", "vectors", 10) is None


def test_median_ms_is_the_median_of_the_repeats():
    pauses = iter([0.001, 0.05, 0.02])
    assert median_ms(lambda: time.sleep(next(pauses)), repeats=3) == pytest.approx(20, abs=15)


def test_a_planted_duplicate_is_found_by_range_search_and_only_it(lite):
    client, _ = lite
    rng = np.random.default_rng(2)
    photos = unit(rng.standard_normal((50, DIM)))
    planted = unit(photos[7] + 0.05 * rng.standard_normal(DIM))
    fill(client, np.vstack([photos, planted]), [f"p{i}" for i in range(50)] + ["copy"])
    use_index(client, "HNSW", {"M": 16, "efConstruction": 200})
    (hits,) = client.search("vectors", data=[planted], limit=10, output_fields=["label"],
                            search_params={"metric_type": "COSINE", "params": {"radius": 0.95, "range_filter": 1.0}})
    assert sorted(hit["entity"]["label"] for hit in hits) == ["copy", "p7"]
    assert all(0.95 < hit["distance"] <= 1.0 + 1e-6 for hit in hits)


def test_precision_and_recall_over_thresholds_and_the_chosen_one():
    similar = {"a1": [("a1", 1.0), ("a", 0.97), ("a2", 0.93), ("b", 0.85)],
               "a2": [("a2", 1.0), ("a", 0.95), ("a1", 0.93), ("c", 0.91)]}
    relevant = {"a1": {"a", "a2"}, "a2": {"a", "a1"}}
    curve = threshold_curve(similar, relevant, [0.8, 0.9, 0.92, 0.96, 0.99])
    assert curve == [(0.8, 4 / 6, 1.0), (0.9, 4 / 5, 1.0), (0.92, 1.0, 1.0), (0.96, 1.0, 0.25), (0.99, 1.0, 0.0)]
    assert best_threshold(curve) == 0.92
    assert duplicate_groups([("a1", "a"), ("a2", "a1"), ("x", "y")]) == [["a", "a1", "a2"], ["x", "y"]]
    plot_threshold_curve(curve, 0.92)


def test_grouping_by_label_returns_one_hit_per_label(lite):
    client, _ = lite
    rng = np.random.default_rng(3)
    query = unit(rng.standard_normal(DIM))
    group = unit(query + 0.1 * rng.standard_normal((6, DIM)))  # the 6 nearest rows are all of label "a"
    others = unit(query + 0.6 * rng.standard_normal((6, DIM)))
    fill(client, np.vstack([group, others]), ["a"] * 6 + ["b", "b", "c", "c", "d", "d"])
    use_index(client, "HNSW", {"M": 16, "efConstruction": 200})
    plain = client.search("vectors", data=[query], limit=4, output_fields=["label"])
    grouped = client.search("vectors", data=[query], limit=4, group_by_field="label", output_fields=["label"])
    assert distinct_labels(plain, "label", 4) == 1
    assert distinct_labels(grouped, "label", 4) == 4 and grouped[0][0]["entity"]["label"] == "a"


def test_a_changed_file_is_told_by_its_hash_and_a_touched_one_is_not():
    stored = {"same.jpg": "h1", "touched.jpg": "h2", "edited.jpg": "h3", "gone.jpg": "h4", "old.jpg": None}
    current = {"same.jpg": "h1", "touched.jpg": "h2", "edited.jpg": "h9", "new.jpg": "h5", "old.jpg": "h6"}
    changes = folder_changes(stored, current)
    assert (changes.added, changes.changed, changes.removed) == (["new.jpg"], ["edited.jpg", "old.jpg"], ["gone.jpg"])
    assert changes.unchanged == ["same.jpg", "touched.jpg"]
    assert changes.summary() == "added 1, changed 2, removed 1, unchanged 2"


def test_hybrid_search_holds_both_labels_where_each_request_alone_holds_one(lite):
    client, _ = lite
    rng = np.random.default_rng(4)
    photo, text = unit(rng.standard_normal((2, DIM)))
    rows = np.vstack([unit(photo + 0.2 * rng.standard_normal((5, DIM))), unit(text + 0.2 * rng.standard_normal((5, DIM)))])
    fill(client, rows, ["dog"] * 5 + ["cat"] * 5)
    use_index(client, "HNSW", {"M": 16, "efConstruction": 200})
    params = {"metric_type": "COSINE", "params": {"ef": 64}}
    alone = client.search("vectors", data=[photo], limit=4, output_fields=["label"], search_params=params)
    requests = [AnnSearchRequest([photo], "vector", params, limit=5), AnnSearchRequest([text], "vector", params, limit=5)]
    assert label_found(alone, ["cat"], "label") == 0.0 and label_share(alone, ["dog"], "label") == 1.0
    for ranker in (RRFRanker(60), WeightedRanker(0.5, 0.5)):
        fused = client.hybrid_search("vectors", requests, ranker, limit=4, output_fields=["label"])
        assert label_found(fused, ["cat"], "label") == 1.0 and 0.0 < label_share(fused, ["dog"], "label") < 1.0


def test_lite_refuses_what_needs_a_server_and_the_message_names_it(lite, caplog):
    client, _ = lite
    fill(client, unit(np.random.default_rng(5).standard_normal((100, DIM))), ["x"] * 100)
    client.release_collection("vectors")
    index = client.prepare_index_params()
    index.add_index(field_name="vector", index_type="IVF_PQ", metric_type="COSINE",
                    params={"nlist": 4, "m": 4, "nbits": 8, "params": {"nlist": 4, "m": 4, "nbits": 8}})
    caplog.clear()
    assert "IVF_PQ" in milvus_refusal(lambda: client.create_index("vectors", index))
    assert caplog.records == []  # neither pymilvus nor Milvus Lite logged it (with a traceback) on stderr
    assert milvus_refusal(lambda: client.has_collection("vectors")) == "accepted"


def test_near_copies_are_five_decodable_edits_in_the_class_folder_and_the_same_each_time(tmp_path):
    photos = find_images(IMAGENET_SAMPLE / "train" / "castle")[:2]
    first = make_near_copies(photos, tmp_path / "one")
    second = make_near_copies(photos, tmp_path / "two")
    assert len(first) == len(COPY_KINDS) * 2 and set(first.values()) == set(photos)
    assert all(copy.parent.name == "castle" and load_rgb(copy).size[0] > 0 for copy in first)
    assert [copy.read_bytes() for copy in first] == [copy.read_bytes() for copy in second]
    (flipped,) = [copy for copy, original in first.items() if original == photos[0] and "flipped" in copy.name]
    mirrored = np.asarray(Image.open(flipped).convert("L"), dtype=float)[:, ::-1]
    assert np.abs(mirrored - np.asarray(load_rgb(photos[0]).convert("L"), dtype=float)).mean() < 10
    assert show_groups([[str(copy) for copy in first]]) and plot_recall_against_ef([10, 20], [0.9, 1.0], [1, 2], 10)
