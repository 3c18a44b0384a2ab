"""Image search with Milvus: datasets, encoders, collections, plots and evaluation for the notebooks.

Importing the package has no side effects; each module is imported where it is used.
"""

__version__ = "0.1.0"
