"""What notebooks 02 and 03 measure, on hand-made vectors whose answers are known, in real Milvus Lite files:
an IVF index's recall against FLAT, painter precision, text search precision and zero-shot accuracy."""

from __future__ import annotations

import numpy as np
import pytest
from pymilvus import DataType, MilvusClient

from helpers.collection import create_quick
from helpers.tool.connecting import connect
from helpers.errors import InputError
from helpers.evaluate import score_hits, zero_shot_accuracy
from helpers.evaluate import index_recall, ivf_nlist, nprobe_steps


def test_ivf_parameters_to_try():
    assert ivf_nlist(1_000_000) == 4000 and ivf_nlist(4000) == 253  # about 4 x sqrt(rows)
    assert ivf_nlist(20) == 5 and ivf_nlist(3) == 1  # at least 4 vectors a list: the offline samples
    assert nprobe_steps(5) == [1, 2, 4, 5] and nprobe_steps(8) == [1, 2, 4, 8] and nprobe_steps(1) == [1]
    with pytest.raises(InputError):
        ivf_nlist(0)


def test_index_recall_counts_the_exact_ids_found():
    exact = [[{"id": 1}, {"id": 2}], [{"id": 3}, {"id": 4}]]
    assert index_recall(exact, exact, 2) == 1.0
    assert index_recall([[{"id": 2}, {"id": 9}], [{"id": 8}, {"id": 9}]], exact, 2) == pytest.approx(0.25)
    assert index_recall([[{"id": 9}, {"id": 1}]], [[{"id": 1}, {"id": 2}]], 1) == 0.0  # only the top k counts
    with pytest.raises(InputError):
        index_recall(exact[:1], exact, 2)


def _set_index(client: MilvusClient, index_type: str, metric: str, **params) -> None:
    """What notebook 02 does: release, drop every index, create the new one, load."""
    client.release_collection("c")
    for name in client.list_indexes("c"):
        client.drop_index("c", index_name=name)
    index = client.prepare_index_params()
    index.add_index(field_name="v", index_type=index_type, metric_type=metric,
                    params={**params, "params": params} if params else {})
    client.create_index("c", index)
    client.load_collection("c")


def _filled(client: MilvusClient, rng: np.random.Generator) -> list:
    """Collection "c" of 400 seeded random 32-d unit vectors (no clusters: the hard case for IVF); 40 queries
    near them."""
    vectors = rng.normal(size=(400, 32)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    if client.has_collection("c"):
        client.drop_collection("c")
    schema = MilvusClient.create_schema(auto_id=True, enable_dynamic_field=False)
    schema.add_field("id", DataType.INT64, is_primary=True)
    schema.add_field("v", DataType.FLOAT_VECTOR, dim=32)
    client.create_collection("c", schema=schema)
    client.insert("c", [{"v": vector} for vector in vectors])
    client.flush("c")
    return list(vectors[:40] + 0.1 * rng.normal(size=(40, 32)).astype(np.float32))


@pytest.mark.parametrize("backend", ["lite", "server"])
def test_ivf_flat_recall_against_flat_is_1_at_nprobe_nlist_and_lower_with_one_list(backend, tmp_path, request):
    uri = str(tmp_path / "m.db") if backend == "lite" else request.getfixturevalue("milvus_server")
    client = connect(uri)
    queries = _filled(client, np.random.default_rng(0))

    def search(metric: str, nprobe: int | None = None) -> list:
        params = {"metric_type": metric, **({"params": {"nprobe": nprobe}} if nprobe else {})}
        return client.search("c", data=queries, anns_field="v", limit=5, search_params=params)

    _set_index(client, "FLAT", "IP")  # on unit vectors IP ranks as L2 does, and Lite computes it as a matrix product
    exact = search("IP")
    nlist = ivf_nlist(400)
    _set_index(client, "IVF_FLAT", "L2", nlist=nlist)
    built = client.describe_index("c", client.list_indexes("c")[0])
    recalls = [index_recall(search("L2", nprobe), exact, 5) for nprobe in nprobe_steps(nlist)]
    assert recalls[-1] == 1.0  # every list searched: exact
    if backend == "server":  # it reads the top-level nlist; 400 rows are searched exhaustively, recall 1.0 throughout
        assert (built["index_type"], built["nlist"]) == ("IVF_FLAT", str(nlist))
        client.drop_collection("c")
        return
    assert (built["index_type"], built["params"]) == ("IVF_FLAT", {"nlist": nlist})  # Lite read the nested params
    assert recalls[0] < 0.5  # 1 of 80 lists: most true neighbours are in others
    assert recalls == sorted(recalls)


def _paintings(client: MilvusClient, rows: dict[str, list[float]]) -> None:
    client.create_collection("p", dimension=4, metric_type="L2", auto_id=True)
    client.insert("p", [{"vector": vector, "filepath": f"/gallery/{path}.jpg"} for path, vector in rows.items()])


def test_painter_precision_finds_the_planted_same_painter_neighbour(tmp_path):
    client = connect(str(tmp_path / "m.db"))
    _paintings(client, {
        "Monet/planted": [1, 0, 0, 0],  # the Monet query's own twin
        "Degas/near": [0.9, 0.1, 0, 0],
        "Degas/next": [0.8, 0.2, 0, 0],
        "Monet/far": [0, 0, 0, 1],  # the Degas query's nearest
    })
    queries = ["/test/Monet/q.jpg", "/test/Degas/q.jpg"]
    results = client.search("p", data=[[1, 0, 0, 0], [0, 0, 0, 1]], limit=3, output_fields=["filepath"])
    scored = score_hits(queries, ["Monet", "Degas"], results, {"Monet": 2, "Degas": 2}, k=3)
    monet, degas = scored.queries
    assert [hit["entity"]["filepath"] for hit in monet.hits][0] == "/gallery/Monet/planted.jpg"
    assert monet.precision == pytest.approx(1 / 3) and monet.average_precision == pytest.approx(1 / 2)
    assert degas.precision == pytest.approx(2 / 3) and degas.average_precision == pytest.approx((1 / 2 + 2 / 3) / 2)
    assert scored.precision == pytest.approx(1 / 2) and scored.worst() is monet
    assert [row[0] for row in scored.per_class()] == ["Degas", "Monet"]
    assert scored.table(heading="painter").splitlines()[0].split() == ["painter", "P@3", "AP@3"]
    filtered = client.search("p", data=[[1, 0, 0, 0]], limit=3, filter='filepath like "/gallery/Monet/%"',
                             output_fields=["filepath"])
    assert score_hits(queries[:1], ["Monet"], filtered, {"Monet": 2}, k=2).precision == 1.0
    with pytest.raises(InputError):
        score_hits(queries, ["Monet"], results, {}, k=3)


def test_a_text_vector_equal_to_an_image_vector_finds_it_first_and_classifies_it(tmp_path):
    rng = np.random.default_rng(1)
    images = rng.normal(size=(6, 8)).astype(np.float32)
    images /= np.linalg.norm(images, axis=1, keepdims=True)
    labels = ["dog", "dog", "dog", "cat", "cat", "cat"]
    client = connect(str(tmp_path / "m.db"))
    create_quick(client, "photos", 8, recreate=True)
    client.insert("photos", [{"vector": v, "filepath": f"/train/{label}/{i}.jpg"}
                             for i, (v, label) in enumerate(zip(images, labels))])
    texts = np.stack([images[1], images[4]])  # "a photo of a dog" is photo 1, "a photo of a cat" photo 4
    results = client.search("photos", data=list(texts), limit=3, output_fields=["filepath"])
    assert [hits[0]["entity"]["filepath"] for hits in results] == ["/train/dog/1.jpg", "/train/cat/4.jpg"]
    assert results[0][0]["distance"] == pytest.approx(1.0, abs=1e-5)
    scored = score_hits(["a photo of a dog", "a photo of a cat"], ["dog", "cat"], results, {"dog": 3, "cat": 3}, k=3)
    assert scored.queries[0].query == "a photo of a dog" and 1 / 3 <= scored.precision <= 1.0
    assert zero_shot_accuracy(texts, ["dog", "cat"], texts, ["dog", "cat"]) == 1.0
    assert zero_shot_accuracy(texts, ["cat", "cat"], texts, ["dog", "cat"]) == 0.5  # the first is a dog's text
    assert zero_shot_accuracy(images, labels, texts, ["dog", "cat"]) == pytest.approx(
        np.mean(np.array(["dog", "cat"])[np.argmax(images @ texts.T, axis=1)] == np.array(labels)))
    with pytest.raises(InputError):
        zero_shot_accuracy(images, labels[:2], texts, ["dog", "cat"])
