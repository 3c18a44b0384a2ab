"""faiss's note about a small training set, said in one plain line instead of in red.

Milvus Lite builds its IVF indexes with faiss, inside the notebook's own process. faiss's k-means asks for at
least 39 vectors a list, and when it gets fewer it writes a `WARNING clustering ...` line straight to the
process's stderr, which a notebook shows in red, as if something broke. Nothing did: the lists are only
rougher. Collections of a few thousand images get it, and the offline samples (20 paintings) always do.

`faiss_notes()` catches what is written to stderr while its block runs, writes every other line back to stderr
unchanged, and prints that note as one line on stdout, with its numbers.
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
    """Run the block with faiss's small-training-set warnings turned into plain lines; anything else written to
    stderr meanwhile is written to stderr again, as it was."""
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
            text = caught.read().decode(errors="replace")
    print_notes(text)


def print_notes(text: str) -> None:
    """Print faiss's warnings in `text` as plain lines on stdout, and the rest of `text` on stderr."""
    others = []
    for line in text.splitlines(keepends=True):
        if found := SMALL_TRAINING_SET.search(line):
            vectors, lists, wanted = found.groups()
            print(f"faiss built {lists} lists from {vectors} vectors (its k-means asks for at least {wanted}: "
                  "with fewer, the lists are rougher, which the recall measurement shows).")
        else:
            others.append(line)
    if others:
        sys.stderr.write("".join(others))
        sys.stderr.flush()
