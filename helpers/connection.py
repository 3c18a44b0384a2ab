"""Connecting to Milvus: the gRPC settings a notebook passes to its own `MilvusClient`, for a Milvus Lite file,
a server on this machine, or a server (or Zilliz Cloud) across a network; `disconnect` frees a Lite file for
another process. (The command line's way in, explaining each failure, is `helpers.tool.connecting.connect`.)
"""

from __future__ import annotations

import ipaddress
from pathlib import Path
from urllib.parse import urlsplit

from pymilvus import MilvusClient

# gRPC, unlike curl or Go, sends even calls to 127.0.0.1 through HTTP(S)_PROXY when one is set; local needs none.
NO_PROXY = {"grpc_options": {"grpc.enable_http_proxy": 0}}
# Milvus Lite serves from this process. pymilvus pings every 10 s, even when idle; after 30 s of quiet Lite
# hangs up ("too_many_pings", logged on stderr) and the next call first reconnects. Locally, no pings.
LITE_OPTIONS = {"grpc_options": {**NO_PROXY["grpc_options"], "grpc.keepalive_time_ms": 2**31 - 1,
                                 "grpc.keepalive_permit_without_calls": 0}}


def is_server(uri: str) -> bool:
    """True for a server or Zilliz Cloud address, False for a Milvus Lite file."""
    return uri.startswith(("http://", "https://", "tcp://", "grpc://"))


def is_loopback(uri: str) -> bool:
    """True for a server URI on this machine (localhost, 127.x.x.x, ::1)."""
    host = urlsplit(uri).hostname or ""
    try:
        return host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:  # a host name
        return False


def connection_options(uri: str) -> dict:
    """gRPC settings for `MilvusClient(uri, **connection_options(uri))`: no proxy and no idle pings for a Lite
    file, no proxy for a server on this machine, pymilvus's defaults for anything across a network."""
    if not is_server(uri):
        return LITE_OPTIONS
    return NO_PROXY if is_loopback(uri) else {}


def disconnect(client: MilvusClient, uri: str) -> None:
    """Close the client; for a Lite file also stop its embedded server, so another process can open the file."""
    client.close()
    if not is_server(uri):
        from milvus_lite.server_manager import server_manager_instance

        server_manager_instance.release_server(str(Path(uri).expanduser()))
