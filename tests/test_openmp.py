"""Milvus Lite runs faiss inside the notebook's process; importing `helpers` first keeps faiss's OpenMP
runtime apart from torch's (see helpers/__init__.py). Each case runs in a fresh interpreter, since the
import order is what is under test."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from pathlib import Path

# torch.set_num_threads sets the calling thread's OpenMP team size in torch's runtime; faiss reports its own.
PROBE = """
{first}
import faiss, torch
torch.set_num_threads(1)
print(faiss.omp_get_max_threads())
"""


def fresh_interpreter(code: str, *options: str, **env: str) -> subprocess.CompletedProcess:
    """Run `code` in a new Python, from the project's folder; it must succeed."""
    run = subprocess.run([sys.executable, *options, "-c", code], capture_output=True, text=True, timeout=120,
                         cwd=Path(__file__).resolve().parent.parent, env={**os.environ, **env})
    assert run.returncode == 0, run.stderr
    return run


def faiss_threads_after_torch_asks_for_one(first: str) -> int:
    return int(fresh_interpreter(PROBE.format(first=first), OMP_NUM_THREADS="2").stdout.split()[-1])


def test_importing_helpers_first_keeps_faiss_off_torchs_openmp_runtime():
    assert faiss_threads_after_torch_asks_for_one("import helpers") == 2


@pytest.mark.parametrize("first", ["import torch", "import torch\nimport helpers"])
def test_without_it_faiss_shares_torchs_runtime(first):
    """What the import in helpers/__init__.py prevents: torch's setting changes faiss's too."""
    assert faiss_threads_after_torch_asks_for_one(first) == 1


def import_warnings(code: str) -> str:
    return fresh_interpreter(code, "-W", "default").stderr


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="runtimes are shared through Linux's global symbols")
def test_importing_helpers_after_torch_warns_with_what_to_do():
    stderr = import_warnings("import torch\nfrom helpers.collection import connect")
    assert "RuntimeWarning: torch was imported before helpers" in stderr
    assert "restart the kernel (or the script) with `import helpers` first" in stderr
    assert "torch was imported before helpers" not in import_warnings("import helpers\nimport torch")
