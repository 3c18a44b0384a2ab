"""Collections as they are, made here or elsewhere (the original tutorials, the bootcamp's insert.py, code of
your own): which fields hold the vector and the image path, which fields a new row must fill, whether the
vectors are unit length, and recording the model that built them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from pymilvus import MilvusClient

from .. import config
from ..catalog import MODELS, STANDIN_SUFFIX, canonical, model_id
from ..collection import MODEL_PROPERTY, layout
from ..errors import CollectionError, rebuild_command
from ..results import PATH_FIELDS
from .searching import require_collection

UNIT_TOLERANCE = 0.01  # a stored vector whose length is further than this from 1 is not a unit vector
SAMPLED_ROWS = 8


@dataclass(frozen=True)
class Fields:
    """Where an existing collection keeps what `index` writes: its one vector field (its size and metric), the
    field that holds image paths (a schema field, or a dynamic key its rows use; None while nothing tells), the
    other schema fields every new row must fill, and its primary key."""

    vector: str
    dim: int
    metric: str | None
    path: str | None
    required: tuple[str, ...]
    names: frozenset[str]
    primary: str
    dynamic: bool

    @property
    def quick(self) -> bool:
        """Made by the quick setup: an id and a vector, everything else dynamic."""
        return self.dynamic and len(self.names) == 2


def fields_of(client: MilvusClient, name: str) -> Fields:
    """The layout of existing collection `name` (`collection.layout`), with the path field of a dynamic
    collection read from one stored row and the metric from its index; `CollectionError` unless it has exactly
    one vector field."""
    found = layout(client, name)
    if len(found.dims) != 1:
        raise CollectionError(f"Collection '{name}' has {len(found.dims)} float vector fields "
                              f"({', '.join(found.dims) or 'none'}); image search needs exactly one.")
    path = found.path
    if path is None and found.dynamic:
        require_collection(client, name)
        row = next(iter(client.query(name, filter="", output_fields=list(PATH_FIELDS), limit=1)), {})
        path = next((field for field in PATH_FIELDS if field in row), None)
    indexes = client.list_indexes(name, field_name=found.vector)
    metric = str(client.describe_index(name, indexes[0]).get("metric_type")) if indexes else None
    return Fields(found.vector, found.dim, metric, path, tuple(f for f in found.required if f != path),
                  found.names, found.primary, found.dynamic)


def check_model_size(name: str, model: str, dim: int, size: int | None = None) -> None:
    """Refuse a model whose vectors have another size (`size`; by default the catalog's, when it offers the model)
    than collection `name`'s `dim`, before it loads."""
    size = MODELS.get(model) if size is None else size
    if size is not None and size != dim:
        fitting = models_of_size(dim)
        advice = f"Pick the model that built it ({' or '.join(f'--model {each}' for each in fitting)})" if fitting \
            else "Use the model that built it"
        raise CollectionError(f"Collection '{name}' holds {dim}-d vectors, but model {model} makes {size}-d vectors. "
                              f"{advice}, or index your images into another collection (--collection NEW_NAME).")


def record_model(client: MilvusClient, name: str, model: str) -> str:
    """Record in collection `name` that model `model` (a name in `catalog.MODELS`, or a timm model name, which
    loads timm to learn its vector size) built its vectors, once its size matches; only that property changes.
    Returns what was recorded."""
    model = canonical(model)
    require_collection(client, name)
    size = MODELS.get(model)
    if size is None:
        size = timm_vector_size(model)
    check_model_size(name, model, fields_of(client, name).dim, size)
    recorded = layout(client, name).model
    if recorded not in (None, model_id(model)):
        raise CollectionError(f"Collection '{name}' already records model '{recorded}'. Its vectors came from that "
                              f"model; to make them with another, rebuild it: {rebuild_command(name, model)}.")
    client.alter_collection_properties(name, properties={MODEL_PROPERTY: model_id(model)})
    return model_id(model)


def unit_length_warning(client: MilvusClient, name: str, model: str | None = None) -> str | None:
    """One line when an L2 collection holds vectors that are not unit length (a few rows are sampled): this
    suite's queries are unit vectors, so the distances would not match and the ranking would go partly by
    length. None otherwise (unit vectors, or a COSINE or IP index). `model` fills in the rebuild command."""
    fields = fields_of(client, name)
    if fields.metric != "L2":
        return None
    require_collection(client, name)
    rows = client.query(name, filter="", output_fields=[fields.vector], limit=SAMPLED_ROWS)
    lengths = np.linalg.norm(np.asarray([row[fields.vector] for row in rows], dtype=np.float32).reshape(len(rows), -1),
                             axis=1)
    if not len(lengths) or np.all(np.abs(lengths - 1) <= UNIT_TOLERANCE):
        return None
    return (f"warning: collection '{name}' holds vectors that are not unit length (lengths {lengths.min():.3g} to "
            f"{lengths.max():.3g} in {len(lengths)} rows sampled), but queries here are unit vectors: L2 distances "
            "will not match the code that built it and rank partly by length. To rebuild it with unit vectors: "
            f"{rebuild_command(name, model or 'MODEL')}.")


def query_model(client: MilvusClient, collection: str, model: str | None = None) -> str:
    """The model whose queries can search `collection` (without the stand-in mark): the one it records, or
    `model` for a collection that records none (made elsewhere). A `CollectionError` when neither tells, when
    the two disagree or the sizes differ, or when it was built with the other offline setting."""
    recorded = layout(client, collection).model
    dim = fields_of(client, collection).dim
    if model is not None:
        check_model_size(collection, model, dim)
        if recorded is not None and recorded_model(recorded)[0] != model:
            raise CollectionError(
                f"Collection '{collection}' records that model {recorded} built it, not {model}: leave out --model "
                f"to use that one, or replace its rows with {model} vectors: {rebuild_command(collection, model)}.")
        if recorded is None:
            return model
    if recorded is None:
        fitting = " or ".join(f"--model {name}" for name in models_of_size(dim)) or "--model NAME"
        raise CollectionError(
            f"Collection '{collection}' does not record which model built its {dim}-d vectors: say which with "
            f"{fitting}, or record it once with `python -m helpers record --collection {collection} --model NAME`.")
    base, standin = recorded_model(recorded)
    if standin != config.is_offline():
        built = "offline, with random stand-in weights" if standin else "with pretrained weights"
        raise CollectionError(
            f"Collection '{collection}' was built {built}, but {config.OFFLINE_ENV} is "
            f"{'off' if standin else 'on'} now, so the query would not match its vectors. Switch offline "
            f"mode back, or rebuild it: {rebuild_command(collection, base)}."
        )
    return base


def models_of_size(dim: int) -> list[str]:
    """The offered models whose vectors have `dim` values."""
    return [name for name, size in MODELS.items() if size == dim]


def recorded_model(recorded: str) -> tuple[str, bool]:
    """What a collection records (a `model_id`), read back: the model's name, and whether stand-in weights
    made its vectors."""
    return recorded.removesuffix(STANDIN_SUFFIX), recorded.endswith(STANDIN_SUFFIX)


def timm_vector_size(name: str) -> int:
    """How many values the vectors of timm model `name` have, learned by building it without its weights (an
    unknown name raises `InputError`)."""
    import timm  # and torch: seconds, only for a name the catalog does not offer

    from ..models import check_model_name, pooled_size

    check_model_name(name)
    return pooled_size(timm.create_model(name, pretrained=False, num_classes=0, global_pool="avg"))
