"""Image search with Milvus: datasets, encoders, collections, plots and evaluation for the notebooks.

Each module is imported where it is used, so `import helpers` itself loads nothing heavy.
"""

__version__ = "0.1.0"
