"""Milvus Lite behaviour the notebooks rely on (server parity lives in test_server.py)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np

from helpers.collection import count, create_quick, search
from helpers.connection import connect, disconnect
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
        "import sys; sys.path.insert(0, sys.argv[2]); import test_collection as t; from helpers.connection import connect;"
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
    script = ("import sys; from helpers.collection import count; from helpers.connection import connect; "
              "print(count(connect(sys.argv[1]), 'c'))")
    result = subprocess.run([sys.executable, "-c", script, db], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "8"
