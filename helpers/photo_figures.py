"""The figures of notebook 04 (a photo library): recall against HNSW's `ef`, precision and recall of "is a copy
of" against the similarity threshold, and the groups of near-duplicates found. Each returns a matplotlib
`Figure`, which the notebook shows.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib.pyplot as plt
from matplotlib.figure import Figure

from .plotting import INCHES_PER_THUMB, thumbnail


def plot_recall_against_ef(efs: Sequence[int], recalls: Sequence[float], milliseconds: Sequence[float],
                           k: int) -> Figure:
    """HNSW's recall@k against an exact search (left axis) and its median query time (right axis), over `ef`."""
    figure, axis = plt.subplots(figsize=(7, 4), layout="constrained")
    axis.plot(efs, recalls, "o-", color="tab:blue")
    axis.set_xscale("log", base=2)
    axis.set_xlabel("ef (candidates HNSW keeps while it searches)")
    axis.set_ylabel(f"recall@{k}", color="tab:blue")
    axis.set_ylim(min(0.0, min(recalls)) if recalls else 0.0, 1.02)
    timing = axis.twinx()
    timing.plot(efs, milliseconds, "s--", color="tab:orange")
    timing.set_ylabel("median query time (ms)", color="tab:orange")
    timing.set_ylim(bottom=0)
    axis.set_title(f"HNSW: recall@{k} and query time against ef")
    return figure


def plot_threshold_curve(curve: Sequence[tuple[float, float, float]], chosen: float) -> Figure:
    """Precision and recall of "is a copy of" against the similarity threshold, the chosen one marked."""
    thresholds, precisions, recalls = zip(*curve)
    figure, axis = plt.subplots(figsize=(7, 4), layout="constrained")
    axis.plot(thresholds, precisions, "o-", label="precision")
    axis.plot(thresholds, recalls, "s-", label="recall")
    axis.axvline(chosen, color="grey", linestyle=":", label=f"chosen: {chosen:.2f}")
    axis.set_xlabel("similarity threshold (radius)")
    axis.set_ylim(-0.02, 1.02)
    axis.legend(loc="lower left")
    axis.set_title("Near-duplicates: precision and recall against the threshold")
    return figure


def show_groups(groups: Sequence[Sequence[str]], max_groups: int = 6, max_per_group: int = 6) -> Figure:
    """One row per group of near-duplicates (the largest `max_groups`), up to `max_per_group` thumbnails each,
    captioned with the file name."""
    shown = [list(group)[:max_per_group] for group in groups[:max_groups]] or [[]]
    columns = max(1, max(len(group) for group in shown))
    figure, axes = plt.subplots(len(shown), columns, squeeze=False, layout="constrained",
                                figsize=(columns * INCHES_PER_THUMB * 0.8, len(shown) * INCHES_PER_THUMB * 0.9))
    for row, group in enumerate(shown):
        for column in range(columns):
            axis = axes[row][column]
            axis.axis("off")
            if column < len(group):
                axis.imshow(thumbnail(group[column], 120))
                axis.set_title(Path(group[column]).name[-24:], fontsize=7)
    figure.suptitle(f"{len(groups)} groups of near-duplicates; the largest {len(shown)}", fontsize=11)
    return figure
