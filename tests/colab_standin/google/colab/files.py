"""A stand-in for `google.colab.files`: `upload()` answers as Colab's does, with {file name: its bytes}.

What the "user" picks is the file named by $COLAB_STANDIN_UPLOAD; unset or empty, the dialog was cancelled
and the answer is an empty dict, as Colab's is.
"""

from __future__ import annotations

import os
from pathlib import Path


def upload(target_dir: str = "") -> dict[str, bytes]:
    chosen = os.environ.get("COLAB_STANDIN_UPLOAD", "")
    if not chosen:
        return {}
    content = Path(chosen).read_bytes()
    (Path(target_dir) / Path(chosen).name).write_bytes(content)  # Colab also saves the file in the folder
    return {Path(chosen).name: content}
