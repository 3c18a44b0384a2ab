"""Image search with Milvus: datasets, encoders, collections, plots and evaluation for the notebooks.

Each module is imported where it is used. One library is loaded here, before anything else: faiss, which
Milvus Lite runs in this process. Loaded before torch it keeps an OpenMP runtime of its own; loaded after,
it shares torch's, and once a collection is indexed a query's forward on a CPU is slower (docs/benchmarks.md, "faiss before torch").
"""

import importlib.util
import sys
import warnings

if importlib.util.find_spec("faiss") is not None:
    if "torch" in sys.modules and "faiss" not in sys.modules:
        warnings.warn(
            "torch was imported before helpers, so faiss (which Milvus Lite searches with) will share torch's "
            "OpenMP threads, and a single-image query on a CPU will run up to 1.3x slower. Restart the kernel "
            "(or the script) and import helpers before torch.", RuntimeWarning, stacklevel=2)
    import faiss  # noqa: F401

__version__ = "0.1.0"
