"""The three notebooks' collections, built the notebooks' way from the offline samples in helpers/samples/.

Used by benchmarks/app_load.py, the app's tests (pytest finds this folder: `pythonpath` in
pyproject.toml) and `make screenshots` (docs/screenshots.py). Each entry: collection name -> (model, sample
folder, how the notebook builds it).
"""

from __future__ import annotations

from pymilvus import MilvusClient

from helpers import config
from helpers.collection import create_quick, create_with_schema
from helpers.encoders import Encoder
from helpers.indexing import index_folder
from helpers.results import label_of

IMAGENET = config.SAMPLES_DIR / "reverse_image_search"
PAINTINGS = config.SAMPLES_DIR / "paintings"
NOTEBOOKS = {
    "image_embeddings": ("resnet34", IMAGENET / "train"),  # 01: quick setup, path in `filename`
    "image_search": ("resnet50", PAINTINGS / "paintings"),  # 02: explicit schema, IVF_FLAT, L2, `painter`
    "image_collection": ("clip", IMAGENET / "train"),  # 03: quick setup, path in `filepath`
}


def build(client: MilvusClient, name: str, encoder: Encoder) -> None:
    """Create collection `name` (a key of NOTEBOOKS) as its notebook does and index its sample folder."""
    folder = NOTEBOOKS[name][1]
    if name == "image_search":
        create_with_schema(client, name, encoder.dim, vector_field="image_embedding", path_field="filepath",
                           text_fields={"painter": 64}, index_type="IVF_FLAT", metric="L2",
                           index_params={"nlist": 16}, model=encoder.model_id, recreate=True)
        index_folder(client, name, encoder, folder, vector_field="image_embedding",
                     extra_fields=lambda path: {"painter": label_of(path)}, progress=False)
    else:
        create_quick(client, name, encoder.dim, model=encoder.model_id, recreate=True)
        index_folder(client, name, encoder, folder, path_field="filename" if name == "image_embeddings" else "filepath",
                     progress=False)
