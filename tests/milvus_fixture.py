"""pytest plugin: one real Milvus standalone server on 127.0.0.1 for the whole test session.

Loaded from tests/conftest.py (`pytest_plugins = ["milvus_fixture"]`). A test that asks for the
`milvus_server` fixture gets the server's URI, `http://127.0.0.1:PORT`; the server starts on first use
(about 10 s) with a dead proxy in the environment, which the start must ignore, keeps its binaries,
data and logs in a temporary folder, and is killed, with its whole process group, when the session
ends. A server that cannot start fails the tests that need it (it does not skip them) and the failure
shows the tail of the server's log.

The start/stop code itself is benchmarks/milvus_server.py (`start_server`), shared with the benchmarks that
time a server; pytest finds it there (`pythonpath` in pyproject.toml).
"""

from __future__ import annotations

import shutil
import time

import pytest

_session: dict = {}


@pytest.fixture(scope="session")
def milvus_server(tmp_path_factory: pytest.TempPathFactory):
    """URI of a Milvus standalone server on free loopback ports, shared by the whole session."""
    try:
        import milvus_server as code
    except ImportError as error:  # the `milvus` package comes with the test extras
        pytest.fail(f"Cannot start a Milvus server: {error}. Install the test extras: pip install -e '.[test]'.",
                    pytrace=False)
    base_dir = tmp_path_factory.mktemp("milvus-server")
    started = time.monotonic()
    try:
        from conftest import use_dead_proxy

        with pytest.MonkeyPatch.context() as patch:  # as on machines that reach package indexes via a proxy
            use_dead_proxy(patch)
            uri, stop = code.start_server(base_dir)
    except code.ServerStartError as error:
        shutil.rmtree(base_dir / "bin", ignore_errors=True)  # 250 MB; the logs stay, pytest prunes old runs
        pytest.fail(str(error), pytrace=False)
    _session.update(uri=uri, start_s=time.monotonic() - started)
    try:
        yield uri
    finally:
        stop()
        shutil.rmtree(base_dir, ignore_errors=True)


def pytest_terminal_summary(terminalreporter) -> None:
    if _session:
        terminalreporter.write_line(f"Milvus server at {_session['uri']} started in {_session['start_s']:.1f} s, "
                                    "stopped at the end of the session.")
