"""A Milvus Lite client left idle, as a reader leaves one between cells: this waits 40 s by design, so it is
the `slow` tier (set in conftest.py), which `make check` leaves out."""

from __future__ import annotations

import subprocess
import sys

IDLE_CLIENT = """
import sys, time
from helpers.collection import create_quick
from helpers.tool.searching import search
from helpers.tool.connecting import connect
client = connect(sys.argv[1])
create_quick(client, "c", 2, model="test-model", recreate=True)
client.insert("c", [{"vector": [1.0, 0.0], "filename": "img/0.jpg"}])
search(client, "c", [1.0, 0.0], top_k=1)
time.sleep(40)
print(search(client, "c", [1.0, 0.0], top_k=1)[0]["entity"]["filename"])
"""


def test_an_idle_lite_client_keeps_its_connection(tmp_path):
    """pymilvus pings every 10 s by default, and Milvus Lite hangs up on a client that pings while idle
    (in most runs within 35-45 s): a GOAWAY logged on stderr, and the next call reconnects first. The
    client `connect` opens on a Lite file sends no pings, so after 40 s of quiet nothing is logged."""
    run = subprocess.run([sys.executable, "-c", IDLE_CLIENT, str(tmp_path / "m.db")], capture_output=True,
                         text=True, timeout=180)
    assert run.returncode == 0, run.stderr
    assert run.stdout.split() == ["img/0.jpg"]
    assert "GOAWAY" not in run.stderr and "too_many_pings" not in run.stderr
