"""Milvus Lite behaviour the notebooks rely on (server parity lives in test_server.py)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np

from helpers.collection import create_quick
from helpers.tool.searching import count, search
from helpers.connection import disconnect
from helpers.tool.connecting import connect
from helpers.results import hit_path

VECTORS = np.linalg.qr(np.random.default_rng(0).normal(size=(8, 8)))[0].astype(np.float32)


def fill(client, name: str, field: str = "filename") -> None:
    create_quick(client, name, 8, model="test-model", recreate=True)
    client.insert(name, [{"vector": vector, field: f"img/{i}.jpg"} for i, vector in enumerate(VECTORS)])


def test_one_vector_gives_one_list_and_a_batch_gives_one_list_per_vector(tmp_path):
    client = connect(str(tmp_path / "m.db"))
    fill(client, "c")
    single = search(client, "c", VECTORS[3], top_k=2)
    batch = search(client, "c", VECTORS[:2], top_k=2)
    assert hit_path(single[0]) == "img/3.jpg" and single[0]["distance"] > 0.999
    assert [hit_path(hits[0]) for hits in batch] == ["img/0.jpg", "img/1.jpg"]


def test_hit_path_is_read_from_filename_or_filepath(tmp_path):
    client = connect(str(tmp_path / "m.db"))
    fill(client, "a", "filename")
    fill(client, "b", "filepath")
    assert hit_path(search(client, "a", VECTORS[5], top_k=1)[0]) == "img/5.jpg"
    assert hit_path(search(client, "b", VECTORS[5], top_k=1)[0]) == "img/5.jpg"


def test_reusing_a_collection_keeps_its_rows(tmp_path):
    client = connect(str(tmp_path / "m.db"))
    fill(client, "c")
    create_quick(client, "c", 8, model="test-model", recreate=False)
    assert count(client, "c") == 8
    create_quick(client, "c", 8, model="test-model", recreate=True)
    assert count(client, "c") == 0


def test_a_collection_written_by_another_process_is_searchable_here(tmp_path):
    db = tmp_path / "m.db"
    script = (
        "import sys; sys.path.insert(0, sys.argv[2]); import test_collection as t; from helpers.tool.connecting import connect;"
        "c = connect(sys.argv[1]); t.fill(c, 'c'); c.close()"
    )
    subprocess.run([sys.executable, "-c", script, str(db), str(Path(__file__).parent)],
                   check=True, timeout=120)
    client = connect(str(db))
    assert count(client, "c") == 8
    assert hit_path(search(client, "c", VECTORS[6], top_k=1)[0]) == "img/6.jpg"


def test_after_disconnect_another_process_can_open_the_file(tmp_path):
    db = str(tmp_path / "m.db")
    client = connect(db)
    fill(client, "c")
    disconnect(client, db)
    script = ("import sys; from helpers.tool.searching import count; from helpers.tool.connecting import connect; "
              "print(count(connect(sys.argv[1]), 'c'))")
    result = subprocess.run([sys.executable, "-c", script, db], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "8"


def test_layout_reads_fields_sizes_text_limits_and_model_in_one_call(tmp_path):
    from helpers.collection import create_with_schema, layout

    client = connect(str(tmp_path / "m.db"))
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
    from helpers.collection import rows

    client = connect(str(tmp_path / "m.db"))
    fill(client, "c")
    assert sorted(row["filename"] for row in rows(client, "c", ["filename"], batch_size=3)) == sorted(
        f"img/{i}.jpg" for i in range(len(VECTORS)))
