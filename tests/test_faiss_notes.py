"""faiss's small-training-set warning, written by faiss's C++ straight to the process's stderr, comes out as one
plain line on stdout; anything else written to stderr meanwhile still reaches stderr."""

from __future__ import annotations

import subprocess
import sys

SCRIPT = """
import faiss, numpy as np, os
from helpers.faiss_notes import faiss_notes
vectors = np.random.default_rng(0).random((20, 8)).astype("float32")
index = faiss.IndexIVFFlat(faiss.IndexFlatL2(8), 8, 5)
with faiss_notes():
    index.train(vectors)
    os.write(2, b"a real problem\\n")
print("trained", index.is_trained)
"""


def test_the_warning_becomes_one_plain_line_and_other_stderr_stays():
    result = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "faiss built 5 lists from 20 vectors (its k-means asks for at least 195: with fewer, the lists are rougher, "
        "which the recall measurement shows).", "trained True"]
    assert result.stderr == "a real problem\n"
