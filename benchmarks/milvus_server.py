"""Start and stop a throwaway Milvus standalone server (the `milvus` package) on free 127.0.0.1 ports.

One place for this code: the pytest fixture in tests/milvus_fixture.py, benchmarks/scale.py and
benchmarks/consistency.py all call `start_server(base_dir) -> (uri, stop)`. The binaries, config, logs
and data all go under `base_dir`.

What the `milvus` package does not do by itself, and this module adds:
- every component listens and registers on 127.0.0.1, not on this host's network address: calls
  between them then never go through HTTP(S)_PROXY, nor past a firewall that lets out only some traffic
  (on a machine that reaches package indexes through a proxy the server would otherwise never be
  healthy); the health check does not use a proxy either;
- every port is a free one picked now, including the embedded etcd's client and peer ports, which the
  package leaves at 2379/2380 (so two servers, or a server next to a real etcd, would collide);
- the server runs in its own process group (and, on Linux, dies with the process that started it), and
  `stop()` kills that whole group, since Milvus 2.3's graceful shutdown hangs on SIGTERM;
- a server that dies while starting is noticed at once (the package would wait out its 180 s timeout),
  and the error carries the tail of the server's log.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

import milvus
from milvus import MilvusServer, MilvusServerConfig

HOST = "127.0.0.1"
PORT_KEYS = ("proxy_port", "proxy_internal_port", "root_coord_port", "query_coord_port", "query_node_port",
             "index_coord_port", "index_node_port", "data_coord_port", "data_node_port", "etcd_port")
LOG_FILES = ("milvus-stderr.log", "milvus-stdout.log")
# Components that register an address for the others to call; left empty, each picks this host's first
# network address, which a firewall that lets out only some traffic may block even towards this host.
COMPONENTS_WITH_IP = ("rootCoord", "proxy", "queryCoord", "queryNode", "indexNode", "dataCoord", "dataNode")


class ServerStartError(RuntimeError):
    """The Milvus server did not come up; the message ends with the tail of its log."""


def free_ports(count: int) -> list[int]:
    """`count` distinct ports that nothing listens on at 127.0.0.1 right now (all held open until chosen)."""
    sockets = []
    try:
        for _ in range(count):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.bind((HOST, 0))
            sockets.append(sock)
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def log_tail(base_dir: str | Path, lines: int = 40, width: int = 400) -> str:
    """The server's first error lines, then the last lines of its stderr and stdout logs (lines cut to `width`)."""
    parts, errors = [], []
    for name in LOG_FILES:
        path = Path(base_dir) / "logs" / name
        if path.is_file() and path.stat().st_size:
            text = path.read_text(encoding="utf-8", errors="replace").splitlines()
            errors += [line[:width] for line in text if "[ERROR]" in line or line.startswith(("panic:", "fatal"))]
            parts.append(f"--- {path} (last {min(lines, len(text))} lines) ---\n"
                         + "\n".join(line[:width] for line in text[-lines:]))
    if errors:
        parts.insert(0, "--- first errors (a 'leader changed' retry and, on stop, 'panic: context canceled' "
                        "come in healthy runs too) ---\n" + "\n".join(errors[:5]))
    return "\n".join(parts) or f"(no server log under {Path(base_dir) / 'logs'})"


def _die_with_parent() -> Callable[[], None] | None:
    """A preexec_fn that makes the child get SIGKILL when its parent dies (Linux only), else None."""
    if not sys.platform.startswith("linux"):
        return None
    prctl = ctypes.CDLL(None, use_errno=True).prctl  # looked up before the fork, only called in the child
    pr_set_pdeathsig = 1
    return lambda: prctl(pr_set_pdeathsig, signal.SIGKILL)


class _ServerLauncher:
    """Stands in for the `subprocess` module inside milvus.MilvusServer.start(), which has no hook for this.

    The server gets its own process group, dies with its parent, and reads `extra_env` too.
    """

    def __init__(self, extra_env: dict[str, str]) -> None:
        self.extra_env = extra_env

    def __getattr__(self, name):
        return getattr(subprocess, name)

    def Popen(self, *args, env: dict[str, str] | None = None, **kwargs):  # noqa: N802 (the name subprocess uses)
        env = dict(os.environ if env is None else env)
        return subprocess.Popen(*args, env=env | self.extra_env, start_new_session=True,
                                preexec_fn=_die_with_parent(), **kwargs)


def _write_etcd_config(base_dir: Path, client_port: int, peer_port: int) -> Path:
    """Config for the embedded etcd (read through ETCD_CONFIG_PATH): loopback only, on our ports."""
    client, peer = f"http://{HOST}:{client_port}", f"http://{HOST}:{peer_port}"
    path = base_dir / "configs" / "embed-etcd.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        f"listen-client-urls: {client}\nadvertise-client-urls: {client}\n"
        f"listen-peer-urls: {peer}\ninitial-advertise-peer-urls: {peer}\ninitial-cluster: default={peer}\n",
        encoding="utf-8",
    )
    return path


_NO_PROXY = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback: never via HTTP(S)_PROXY


def _health(port: int) -> str:
    """What the server's /healthz says ("OK" once every component is up), or why it could not be asked."""
    try:
        with _NO_PROXY.open(f"http://{HOST}:{port}/healthz", timeout=2) as response:
            return response.read().decode("utf-8", "replace").strip()[:300]
    except urllib.error.HTTPError as error:
        return f"HTTP {error.code}: {error.read().decode('utf-8', 'replace').strip()[:300]}"
    except (OSError, urllib.error.URLError) as error:
        return f"no answer ({getattr(error, 'reason', error)})"


def _launch(base_dir: Path) -> tuple[MilvusServer, int, int]:
    ports = dict(zip(PORT_KEYS + ("etcd_peer_port", "metrics_port"), free_ports(len(PORT_KEYS) + 2)))
    etcd_config = _write_etcd_config(base_dir, ports["etcd_port"], ports["etcd_peer_port"])
    config = MilvusServerConfig(data_dir=str(base_dir), **{key: ports[key] for key in PORT_KEYS})
    for component in COMPONENTS_WITH_IP:
        config.set(f"{component}.ip", HOST)
    server = MilvusServer(config, wait_for_started=False)
    server.webservice_port = ports["metrics_port"]  # start() takes the first free port from here
    original, cwd = milvus.subprocess, os.getcwd()
    milvus.subprocess = _ServerLauncher({"ETCD_CONFIG_PATH": str(etcd_config)})
    try:
        server.start()
    finally:
        milvus.subprocess = original
        os.chdir(cwd)  # start() changes the working folder and, if it fails, does not change it back
    return server, ports["proxy_port"], server.webservice_port


def _stopper(server: MilvusServer) -> Callable[[], None]:
    pid = server.server_proc.pid  # own session: its process group id is its pid

    def stop() -> None:
        """Stop the server and anything it started; safe to call twice."""
        server.stop()  # SIGTERM, 1 s, then SIGKILL (a graceful stop of 2.3.5 hangs anyway)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, signal.SIGKILL)

    return stop


def start_server(base_dir: str | Path, timeout: float = 120.0) -> tuple[str, Callable[[], None]]:
    """Start a Milvus standalone server with everything under `base_dir`; return its URI and a stop function.

    Raises ServerStartError (with the log tail) when the server exits or is not healthy within `timeout` s.
    Ports are free when picked; if another process takes one in the split second before the server binds
    it, or the start stalls or crashes (seen on a heavily loaded machine), it is tried once more afresh.
    """
    base_dir = Path(base_dir).resolve()
    for attempt in (1, 2):
        try:
            server, port, metrics_port = _launch(base_dir)
        except (RuntimeError, OSError) as error:  # RuntimeError: a port we picked was taken in the meantime
            if attempt == 1 and "bind failed" in str(error):
                continue
            raise ServerStartError(f"The Milvus server in {base_dir} could not be started: {error}\n"
                                   f"{log_tail(base_dir)}") from error
        stop = _stopper(server)
        deadline, health = time.monotonic() + timeout, "not asked"
        while time.monotonic() < deadline:
            if server.server_proc.poll() is not None:
                problem = f"exited with code {server.server_proc.returncode} while starting"
                break
            health = _health(metrics_port)
            if health == "OK":
                return f"http://{HOST}:{port}", stop
            time.sleep(0.2)
        else:
            problem = f"was not healthy after {timeout:g} s (http://{HOST}:{metrics_port}/healthz: {health})"
        stop()
        tail = log_tail(base_dir)
        if attempt == 1:  # a port taken meanwhile, or a start that stalled on a loaded machine: once more, afresh
            shutil.rmtree(base_dir / "data", ignore_errors=True)  # etcd remembers its first peer address
            continue
        raise ServerStartError(f"The Milvus server in {base_dir} {problem}.\n{tail}")
    raise AssertionError("unreachable")
