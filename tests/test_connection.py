"""helpers.connection: a notebook's client options, and `disconnect`, which frees a Milvus Lite file."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from helpers.connection import connection_options, disconnect, is_server

from test_collection import fill, lite


def test_after_disconnect_another_process_can_open_the_file(tmp_path):
    db = str(tmp_path / "m.db")
    client = lite(db)
    fill(client, "c")
    disconnect(client, db)
    script = ("import sys; sys.path.insert(0, sys.argv[2]); from test_collection import count, lite; "
              "print(count(lite(sys.argv[1]), 'c'))")
    result = subprocess.run([sys.executable, "-c", script, db, str(Path(__file__).parent)], capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "8"


def test_a_lite_file_gets_no_proxy_and_no_idle_pings_a_local_server_no_proxy_a_remote_one_the_defaults():
    lite_options = connection_options("./milvus.db")["grpc_options"]
    assert lite_options["grpc.enable_http_proxy"] == 0 and lite_options["grpc.keepalive_permit_without_calls"] == 0
    assert connection_options("http://localhost:19530") == connection_options("http://127.0.0.2:19530") == {
        "grpc_options": {"grpc.enable_http_proxy": 0}}
    assert connection_options("https://in01.example.zillizcloud.com") == {}
    assert not is_server("./milvus.db") and is_server("http://[::1]:19530")
    assert connection_options("http://[::1]:19530") == connection_options("http://localhost:19530")

