"""faiss's note about a small training set, said in one plain line instead of in red. Milvus Lite builds its IVF
indexes with faiss, in the notebook's own process. faiss's k-means asks for at least 39 vectors a list and, given
fewer, writes `WARNING clustering ...` straight to the process's stderr, which a notebook shows in red, as if
something broke. Nothing did: the lists are only rougher. A few thousand images get it; the 20 offline samples do.
"""

from __future__ import annotations

import os
import re
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager

SMALL_TRAINING_SET = re.compile(r"WARNING clustering (\d+) points to (\d+) centroids: "
                                r"please provide at least (\d+) training points")


@contextmanager
def faiss_notes() -> Iterator[None]:
    """Run the block catching what is written to stderr (file descriptor 2, where faiss writes), then print
    faiss's small-training-set warnings as plain lines on stdout and write the rest back to stderr unchanged."""
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as caught:
        os.dup2(caught.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            caught.seek(0)
            others = []
            for line in caught.read().decode(errors="replace").splitlines(keepends=True):
                if found := SMALL_TRAINING_SET.search(line):
                    vectors, lists, wanted = found.groups()
                    print(f"faiss built {lists} lists from {vectors} vectors (its k-means asks for at least {wanted}: "
                          "with fewer, the lists are rougher, which the recall measurement shows).")
                else:
                    others.append(line)
            sys.stderr.write("".join(others))
            sys.stderr.flush()
