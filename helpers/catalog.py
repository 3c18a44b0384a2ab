"""The models the command line offers by name, with the size of the vectors each makes, and what a collection
records of the model that built it. No torch here: a collection's vector size is checked against a model
before the model loads, which takes seconds.
"""

from __future__ import annotations

from . import config

CLIP = "clip"  # OpenAI CLIP ViT-B/32, the one model that also embeds text
MODELS = {"resnet34": 512, "resnet50": 2048, CLIP: 512}  # name -> vector size
PRECISIONS = ("float32", "bfloat16", "float16")  # torch dtype names; helpers.encoders maps them to dtypes


def model_id(name: str) -> str:
    """What a collection records for vectors of model `name`; offline stand-in weights are marked, so queries
    cannot mix the two."""
    return f"{name}{config.STANDIN_SUFFIX}" if config.is_offline() else name


def models_of_size(dim: int) -> list[str]:
    """The offered models whose vectors have `dim` values."""
    return [name for name, size in MODELS.items() if size == dim]
