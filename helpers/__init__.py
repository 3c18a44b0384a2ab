"""Image search with Milvus: datasets, encoders, collections, plots and evaluation for the notebooks.

Each module is imported where it is used. Importing the package loads one library early: faiss, which
Milvus Lite runs inside this process. Loaded after torch, faiss would share torch's OpenMP runtime;
the threads Milvus Lite builds indexes with would then count as torch's too, and with more of them than
cores, torch's threads sleep between layers instead of waiting actively (a single ResNet-34 forward on
2 cores: 46.7 ms instead of 38.3, see README.md). Loaded first, faiss keeps its own runtime.
"""

import importlib.util

if importlib.util.find_spec("faiss") is not None:
    import faiss  # noqa: F401  (before torch, see above)

__version__ = "0.1.0"
