"""helpers.tool.searching, the command line's and the demo page's search: one list of hits per query vector,
paths from either path field, and rows another process wrote a moment ago."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from helpers.results import hit_path
from helpers.tool.connecting import connect
from helpers.tool.searching import count, search

from test_collection import VECTORS, fill


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


def test_a_collection_written_by_another_process_is_searchable_here(tmp_path):
    db = tmp_path / "m.db"
    script = ("import sys; sys.path.insert(0, sys.argv[2]); import test_collection as t; "
              "from helpers.tool.connecting import connect; c = connect(sys.argv[1]); t.fill(c, 'c'); c.close()")
    subprocess.run([sys.executable, "-c", script, str(db), str(Path(__file__).parent)], check=True, timeout=120)
    client = connect(str(db))
    assert count(client, "c") == 8
    assert hit_path(search(client, "c", VECTORS[6], top_k=1)[0]) == "img/6.jpg"
