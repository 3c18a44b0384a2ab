"""The install a learner makes: README's commands for Windows and macOS, run exactly as written (the POSIX
variant) in a fresh copy of the project outside the checkout, give a JupyterLab that answers and holds no test
tools; `make lab` installs no test extra and passes --allow-root to JupyterLab only as root."""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from venvs import clean_env, packages_without, run

ROOT = Path(__file__).resolve().parent.parent
NOT_SOURCE = shutil.ignore_patterns(".git", ".venv", "build", "*.egg-info", "__pycache__", ".pytest_cache", "*.db",
                                    "_executed")
TEST_TOOLS = ("pytest", "_pytest", "nbval", "playwright", "skimage", "scikit_image", "efficientnet")


def readme_commands(heading: str, language: str) -> list[str]:
    """The lines of the first `language` block below README's `heading`."""
    section = (ROOT / "README.md").read_text().split(f"\n## {heading}\n", 1)[1]
    return re.search(rf"```{language}\n(.*?)```", section, re.DOTALL).group(1).strip().splitlines()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_the_windows_and_macos_commands_install_a_jupyterlab_without_test_tools(tmp_path):
    create, install, start = readme_commands("Windows and macOS", "bash")
    project = tmp_path / "image-search-milvus"
    shutil.copytree(ROOT, project, ignore=NOT_SOURCE)
    port = free_port()
    config = tmp_path / "jupyter-config"  # what a laptop's user does not need: root, no browser, a free port
    config.mkdir()
    (config / "jupyter_server_config.json").write_text(json.dumps({
        "ServerApp": {"allow_root": True, "open_browser": False, "ip": "127.0.0.1", "port": port},
        "IdentityProvider": {"token": ""}}))
    env = clean_env(PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",  # python3: this one's
                    JUPYTER_CONFIG_DIR=str(config), IMAGE_SEARCH_OFFLINE="1")
    run(["bash", "-c", create], project, env)
    # A machine that has the dependencies already (this environment's, but the test tools and this project), so
    # that the install below downloads none of them.
    python = project / ".venv" / "bin" / "python"
    packages = Path(run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], project,
                        env).strip())
    (packages / "dependencies.pth").write_text(f"{packages_without(tmp_path / 'deps', *TEST_TOOLS)}\n")
    run(["bash", "-c", install], project, env)

    where = run([python, "-c", "import helpers, importlib.util as u; print(helpers.__file__, u.find_spec('pytest'))"],
                tmp_path, env).split()
    assert Path(where[0]).is_relative_to(project) and where[1] == "None", where  # editable, no pytest

    server = subprocess.Popen(["bash", "-c", start], cwd=project, env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while True:
            assert server.poll() is None, server.stderr.read()
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/contents/", timeout=5) as answer:
                    listed = {item["name"] for item in json.load(answer)["content"]}
                break
            except OSError:
                assert time.monotonic() < deadline, "JupyterLab did not answer within 120 s"
                time.sleep(1)
        assert "01_reverse_image_search.ipynb" in listed  # it serves the notebooks folder
    finally:
        os.killpg(server.pid, 15)
        server.wait(timeout=60)


def make_dry_run(target: str, *user: str) -> str:
    """What `make TARGET` would run on a fresh clone (`-B`: as if nothing were installed), as `user` when given, as
    typed in a terminal: not as a sub-make of `make test`, which would add its "Entering directory" lines."""
    terminal = {key: value for key, value in os.environ.items() if key not in ("MAKEFLAGS", "MAKELEVEL", "MFLAGS")}
    return subprocess.run([*user, "make", "-n", "-B", target], cwd=ROOT, capture_output=True, text=True, check=True,
                          env=terminal).stdout


def test_make_lab_installs_no_test_extra_and_no_browser():
    planned = make_dry_run("lab")
    installs = [line for line in planned.splitlines() if "pip install" in line]
    assert installs[-1].endswith('-e ".[lab,app]"') and not any("test" in line for line in installs), planned
    assert "browser" not in planned and "pytest" not in planned, planned
    tested = make_dry_run("test")
    assert '-e ".[lab,test,app]"' in tested and "tests/browser.py" in tested


def test_make_lab_allows_root_only_as_root():
    as_root = make_dry_run("lab").splitlines()[-1]
    as_user = make_dry_run("lab", "setpriv", "--reuid=65534", "--regid=65534", "--clear-groups").splitlines()[-1]
    assert os.getuid() == 0, "run the tests as root: this test compares root's `make lab` with a user's"
    assert as_root.split() == [".venv/bin/python", "-m", "jupyter", "lab", "--allow-root", "notebooks/"]
    assert as_user.split() == [".venv/bin/python", "-m", "jupyter", "lab", "notebooks/"]
