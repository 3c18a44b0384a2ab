"""Image search with Milvus: datasets, encoders, collections, plots and evaluation for the notebooks.

Each module is imported where it is used. Importing the package loads one library early: faiss, which
Milvus Lite runs inside this process. Loaded after torch, faiss would share torch's OpenMP runtime;
the threads Milvus Lite builds indexes with would then count as torch's too, and with more of them than
cores, torch's threads sleep between layers instead of waiting actively (a single ResNet-34 forward on
2 cores: 46.7 ms instead of 38.3, see README.md). Loaded first, faiss keeps its own runtime; when torch
came first, a warning says so, since nothing short of a restart undoes it.
"""

import importlib.util
import sys
import warnings

if importlib.util.find_spec("faiss") is not None:
    if "torch" in sys.modules and "faiss" not in sys.modules and sys.platform.startswith("linux"):
        warnings.warn(
            "torch was imported before helpers, so faiss (which Milvus Lite searches with) shares torch's OpenMP "
            "threads: once a collection is indexed, a single-image forward on a CPU (a query) takes up to 1.5x as "
            "long. Import helpers before torch: restart the kernel (or the script) with `import helpers` first.",
            RuntimeWarning, stacklevel=2)
    import faiss  # noqa: F401  (before torch, see above)

__version__ = "0.1.0"
