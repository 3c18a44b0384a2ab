"""Collections as the three original tutorials leave them, made with their own plain pymilvus code.

Each builder copies its sample images below `work` (the folder the tutorial ran in), stores paths the way the
tutorial does (relative for 1 and 3), and records no model. The vectors come from this suite's offline
stand-in encoders; tutorial 2's are the raw ResNet-50 outputs, not unit length, as the tutorial inserts them.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import torch
from pymilvus import DataType, MilvusClient
from sklearn.preprocessing import normalize

from helpers import config
from helpers.encoders import Encoder
from helpers.images import find_images, load_rgb

IMAGENET_TRAIN = config.SAMPLES_DIR / "reverse_image_search" / "train"
PAINTINGS = config.SAMPLES_DIR / "paintings" / "paintings"


@dataclass(frozen=True)
class Tutorial:
    collection: str
    model: str  # the model that built it, which the collection does not record
    folder: str  # the image folder below `work`
    path_field: str
    vector_field: str


TUTORIALS = {
    1: Tutorial("image_embeddings", "resnet34", "train", "filename", "vector"),
    2: Tutorial("image_search", "resnet50", "paintings/paintings", "filepath", "image_embedding"),
    3: Tutorial("image_collection", "clip", "images_folder/train", "filepath", "vector"),
}


def copy_images(work: Path, number: int) -> list[str]:
    """Tutorial `number`'s images copied below `work`; their paths relative to `work`, as `./<folder>/...`."""
    tutorial = TUTORIALS[number]
    source = PAINTINGS if number == 2 else IMAGENET_TRAIN
    shutil.copytree(source, work / tutorial.folder)
    return [f"./{path.relative_to(work).as_posix()}" for path in find_images(work / tutorial.folder)]


def build(client: MilvusClient, work: Path, number: int, encoder: Encoder) -> list[str]:
    """Make tutorial `number`'s collection in `client` with that tutorial's calls; returns the stored paths."""
    tutorial = TUTORIALS[number]
    paths = copy_images(work, number)
    if client.has_collection(tutorial.collection):
        client.drop_collection(tutorial.collection)
    if number == 2:
        schema = MilvusClient.create_schema(auto_id=True, enable_dynamic_field=False)
        schema.add_field("id", DataType.INT64, is_primary=True)
        schema.add_field("filepath", DataType.VARCHAR, max_length=200)
        schema.add_field("image_embedding", DataType.FLOAT_VECTOR, dim=2048)
        index = client.prepare_index_params()
        index.add_index(field_name="image_embedding", index_type="IVF_FLAT", metric_type="L2", params={"nlist": 16})
        client.create_collection(tutorial.collection, schema=schema, index_params=index)
        with torch.no_grad():  # the tutorial's model(batch).flatten: raw features, no normalisation
            batch = torch.stack([encoder.preprocess(load_rgb(work / path)) for path in paths])
            vectors = encoder.model(batch).flatten(1).numpy()
        client.insert(tutorial.collection, [{"filepath": path, "image_embedding": vector}  # glob('./paintings/...')
                                            for path, vector in zip(paths, vectors)])
    else:
        client.create_collection(tutorial.collection, vector_field_name="vector", dimension=512, auto_id=True,
                                 enable_dynamic_field=True, metric_type="COSINE")
        vectors = normalize(encoder.embed_images([work / path for path in paths], progress=False).vectors)
        client.insert(tutorial.collection, [{"vector": vector, tutorial.path_field: path}
                                            for path, vector in zip(paths, vectors)])
    client.flush(tutorial.collection)
    return paths
