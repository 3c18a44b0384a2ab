"""Milvus Lite runs faiss inside the notebook's process; importing `helpers` first keeps faiss's OpenMP runtime
apart from torch's (see helpers/__init__.py and `benchmarks/import_order.py`). Each case runs in a fresh
interpreter, since the import order is what is under test."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

# torch.set_num_threads sets the calling thread's OpenMP team size in torch's runtime; faiss reports its own.
PROBE = """
{first}
import faiss, torch
torch.set_num_threads(1)
print(faiss.omp_get_max_threads())
"""


def fresh_interpreter(code: str) -> subprocess.CompletedProcess:
    """Run `code` in a new Python with warnings shown and two OpenMP threads by default; it must succeed."""
    run = subprocess.run([sys.executable, "-W", "default", "-c", code], capture_output=True, text=True, timeout=120,
                         cwd=ROOT, env={**os.environ, "OMP_NUM_THREADS": "2"})
    assert run.returncode == 0, run.stderr
    return run


def faiss_threads_after_torch_asks_for_one(first: str) -> int:
    return int(fresh_interpreter(PROBE.format(first=first)).stdout.split()[-1])


def test_importing_helpers_first_keeps_faiss_off_torchs_openmp_runtime():
    assert faiss_threads_after_torch_asks_for_one("from helpers.encoders import load_encoder") == 2


@pytest.mark.parametrize("first", ["import torch", "import torch\nimport helpers"])
def test_without_it_faiss_shares_torchs_runtime(first):
    """What the import in helpers/__init__.py prevents: torch's setting changes faiss's too."""
    assert faiss_threads_after_torch_asks_for_one(first) == 1


def test_importing_helpers_after_torch_warns_with_what_to_do():
    stderr = fresh_interpreter("import torch\nfrom helpers.connection import connection_options").stderr
    assert "RuntimeWarning: torch was imported before helpers" in stderr
    assert "Restart the kernel (or the script) and import helpers before torch." in stderr
    assert "RuntimeWarning" not in fresh_interpreter("import helpers\nimport torch").stderr


def test_importing_helpers_loads_faiss_but_not_torch():
    """torch loads only where a module needs it."""
    code = "import helpers, sys; print(sorted({'torch', 'faiss'} & set(sys.modules)))"
    assert fresh_interpreter(code).stdout.strip() == "['faiss']"
