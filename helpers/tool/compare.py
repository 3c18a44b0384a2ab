"""Which model? Each one indexes the same train folder and is evaluated on the same test folder.

Each model gets its own collection in one temporary Milvus Lite file, which is removed afterwards.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from ..connection import disconnect
from ..encoders import load_encoder
from ..evaluate import evaluate
from ..indexing import images_below, index_folder
from ..models import check_model_name
from .connecting import connect


@dataclass(frozen=True)
class ModelScore:
    """One model's retrieval quality on the test folder, its indexing speed here, and its vector size."""

    model: str
    precision: float
    mean_average_precision: float
    images_per_second: float
    dim: int


def compare_models(models: Sequence[str], train_dir: str | os.PathLike, test_dir: str | os.PathLike, k: int = 10,
                   precision: str | None = None) -> list[ModelScore]:
    """Index `train_dir` with each model (embedding and insert timed; loading the model and a first, warm-up
    image not) and score the top k of every test image with `evaluate`. Every name is checked first."""
    for model in models:
        check_model_name(model)
    warm_up = images_below(train_dir)[:1]  # also says at once when the folder holds no image
    scores = []
    with tempfile.TemporaryDirectory() as folder:
        uri = str(Path(folder) / "evaluate.db")
        client = connect(uri)
        try:
            for number, model in enumerate(models):
                encoder = load_encoder(model, precision=precision)
                encoder.embed_images(warm_up, progress=False)
                name = f"evaluate_{number}"
                report = index_folder(client, name, encoder, train_dir, progress=False)
                result = evaluate(client, name, encoder, train_dir, test_dir, k=k)
                scores.append(ModelScore(model, result.precision, result.mean_average_precision,
                                         report.images_per_second, encoder.dim))
                client.drop_collection(name)
        finally:
            disconnect(client, uri)  # stops Milvus Lite's server for the folder before the folder goes
    return scores


def comparison_table(scores: Sequence[ModelScore], k: int) -> str:
    """One row per model: precision@k, mAP@k, images/s (embedding and inserting the train folder), vector size."""
    lines = [f"{'model':<12}{f'precision@{k}':>14}{f'mAP@{k}':>10}{'images/s':>10}{'dim':>6}"]
    for score in scores:
        lines.append(f"{score.model:<12}{score.precision:>14.3f}{score.mean_average_precision:>10.3f}"
                     f"{score.images_per_second:>10.1f}{score.dim:>6d}")
    return "\n".join(lines)
