"""The models offered by name, with the size of the vectors each makes, and what a collection records of the
model that built it. No torch here: a collection's size is checked before a model loads, which takes seconds.
"""

from __future__ import annotations

from . import config

CLIP = "clip"  # OpenAI CLIP ViT-B/32, the one model that also embeds text
CLIP_MODEL = "ViT-B/32"  # openai-clip's name for the same model
TORCHVISION_RESNET50 = "resnet50"  # torchvision's ResNet-50 (notebook 02), not timm's model of that name
DEFAULT_MODEL = "resnet34"  # timm's, notebook 01's
MODELS = {DEFAULT_MODEL: 512, TORCHVISION_RESNET50: 2048, CLIP: 512}  # name -> vector size; any timm name works too
DEFAULT_BATCH_SIZE = 64  # images per forward pass
PRECISIONS = ("float32", "bfloat16", "float16")  # torch dtype names, what an encoder may compute in
STANDIN_SUFFIX = " (offline stand-in)"  # appended to the model a collection records when built offline


def canonical(name: str) -> str:
    """The suite's name for model `name` (openai-clip's "ViT-B/32" is "clip")."""
    return CLIP if name == CLIP_MODEL else name


def model_id(name: str) -> str:
    """What a collection records for model `name`'s vectors; offline stand-ins are marked, so queries cannot mix."""
    return f"{name}{STANDIN_SUFFIX}" if config.is_offline() else name
