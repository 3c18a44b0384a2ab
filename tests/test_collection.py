"""helpers.collection on Milvus Lite, through a notebook's own `MilvusClient` (server parity lives in
test_server.py): the two ways to create, reusing and recreating, the layout reader and the row iterator."""

from __future__ import annotations

import numpy as np
from pymilvus import MilvusClient

from helpers.collection import create_quick, create_with_schema, layout, rows
from helpers.connection import connection_options

VECTORS = np.linalg.qr(np.random.default_rng(0).normal(size=(8, 8)))[0].astype(np.float32)


def lite(path) -> MilvusClient:
    """A client as the notebooks make one."""
    return MilvusClient(str(path), **connection_options(str(path)))


def fill(client: MilvusClient, name: str, field: str = "filename") -> None:
    create_quick(client, name, 8, model="test-model", recreate=True)
    client.insert(name, [{"vector": vector, field: f"img/{i}.jpg"} for i, vector in enumerate(VECTORS)])


def count(client: MilvusClient, name: str) -> int:
    return client.query(name, filter="", output_fields=["count(*)"], consistency_level="Strong")[0]["count(*)"]


def test_reusing_a_collection_keeps_its_rows_and_recreating_empties_it(tmp_path):
    client = lite(tmp_path / "m.db")
    fill(client, "c")
    create_quick(client, "c", 8, model="test-model", recreate=False)
    assert count(client, "c") == 8
    create_quick(client, "c", 8, model="test-model", recreate=True)
    assert count(client, "c") == 0


def test_a_quick_collection_is_searched_as_the_notebooks_search_it(tmp_path):
    client = lite(tmp_path / "m.db")
    fill(client, "c")
    hits = client.search("c", data=[VECTORS[3]], limit=2, output_fields=["filename"])[0]
    assert hits[0]["entity"]["filename"] == "img/3.jpg" and hits[0]["distance"] > 0.999


def test_layout_reads_fields_sizes_text_limits_and_model_in_one_call(tmp_path):
    client = lite(tmp_path / "m.db")
    fill(client, "quick")
    quick = layout(client, "quick")
    assert (quick.vector, quick.dim, quick.dynamic, quick.model, quick.path) == ("vector", 8, True, "test-model", None)
    assert quick.path_fields == ["filepath", "filename"] and quick.required == () and quick.primary == "id"
    create_with_schema(client, "schema", 8, path_max_length=99, text_fields={"painter": 20}, index_type="FLAT",
                       index_params={}, recreate=True)
    schema = layout(client, "schema")
    assert (schema.vector, schema.dim, schema.dynamic, schema.model, schema.path) == (
        "image_embedding", 8, False, None, "filepath")
    assert schema.max_lengths == {"filepath": 99, "painter": 20} and schema.path_fields == ["filepath"]
    assert schema.required == ("filepath", "painter")


def test_rows_reads_every_row_batch_by_batch(tmp_path):
    client = lite(tmp_path / "m.db")
    fill(client, "c")
    assert sorted(row["filename"] for row in rows(client, "c", ["filename"], batch_size=3)) == sorted(
        f"img/{i}.jpg" for i in range(len(VECTORS)))
