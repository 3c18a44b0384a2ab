"""The result figures: grid under the query, titles with distances, the per-query rows figure."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
from matplotlib.offsetbox import AnnotationBbox  # noqa: E402
from PIL import Image  # noqa: E402

from helpers.images import find_images  # noqa: E402
from helpers.plotting import (THUMBNAIL, embedding_map, plot_embedding_map, plot_query_rows, show_results,  # noqa: E402
                              show_text_results, thumbnail)

from conftest import IMAGENET_SAMPLE, PAINTINGS_SAMPLE  # noqa: E402

IMAGES = find_images(IMAGENET_SAMPLE / "train")


def hits(n: int) -> list[dict]:
    """Hits shaped as `MilvusClient.search` returns them."""
    return [{"id": i, "distance": 1 - i / 100, "entity": {"filename": str(path)}} for i, path in enumerate(IMAGES[:n])]


def test_thumbnails_are_150_square_crops():
    assert thumbnail(IMAGES[0]).size == (THUMBNAIL, THUMBNAIL)


def test_top_ten_is_two_rows_of_five_under_the_query():
    query = IMAGENET_SAMPLE / "test" / "Afghan_hound" / "n02088094_4261.JPEG"
    figure = show_results(hits(10), query)
    query_axis, *hit_axes = figure.axes
    assert query_axis.get_title() == "Query: n02088094_4261.JPEG"
    assert len(hit_axes) == 10
    rows = sorted({round(axis.get_position().y0, 3) for axis in hit_axes}, reverse=True)
    assert len(rows) == 2 and all(axis.get_position().y0 < query_axis.get_position().y0 for axis in hit_axes)
    assert len({round(axis.get_position().x0, 3) for axis in hit_axes}) == 5
    assert hit_axes[0].get_title() == f"1. {IMAGES[0].parent.name}\n1.000"
    assert hit_axes[9].get_title().endswith("0.910")


def test_text_query_is_the_title_and_a_pil_query_works():
    figure = show_text_results("a white dog", hits(3))
    assert figure._suptitle.get_text() == "Query text: 'a white dog'"
    assert len(figure.axes) == 3
    with Image.open(IMAGES[1]) as image:
        assert show_results(hits(2), image.copy()).axes[0].get_title() == "Query: your image"


def test_query_rows_figure_has_a_row_per_query_and_writes_no_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    queries = find_images(PAINTINGS_SAMPLE / "test_paintings")[:2]
    results = [hits(3), hits(2)]
    figure = plot_query_rows(queries, results, 0.0123)
    assert list(tmp_path.iterdir()) == []  # saving is the caller's choice
    target = tmp_path / "search_result.png"
    figure.savefig(target)
    axes = figure.axes
    assert len(axes) == 2 * 4
    assert axes[0].get_title().endswith("search 12.3 ms")
    assert axes[1].get_title() == f"{IMAGES[0].parent.name}\ndistance 1.000"
    assert not axes[7].get_images()  # the second query has only two hits: the last cell stays empty
    assert plot_query_rows(queries[:1], results[:1]).axes[0].get_title().endswith("\nquery")  # no time given
    cosine = plot_query_rows(queries[:1], results[:1], score="similarity")  # higher is closer: not a distance
    assert cosine.axes[1].get_title() == f"{IMAGES[0].parent.name}\nsimilarity 1.000"
    with Image.open(target) as saved:
        assert saved.size[0] > saved.size[1] > 0


def test_the_embedding_map_is_seeded_and_keeps_neighbours_together():
    rng = np.random.default_rng(1)
    centres = rng.normal(size=(4, 64))
    vectors = np.repeat(centres, 10, axis=0) + rng.normal(scale=0.05, size=(40, 64))
    first, again = embedding_map(vectors), embedding_map(vectors)
    assert first.shape == (40, 2) and np.array_equal(first, again)
    groups = first.reshape(4, 10, 2)
    spread = max(np.linalg.norm(group - group.mean(axis=0), axis=1).max() for group in groups)
    centre_gaps = [np.linalg.norm(a.mean(axis=0) - b.mean(axis=0)) for i, a in enumerate(groups) for b in groups[i + 1:]]
    assert min(centre_gaps) > 2 * spread  # four separate islands


def test_the_map_colours_each_class_and_shows_thumbnails():
    paths = [str(path) for path in IMAGES]
    vectors = np.random.default_rng(2).normal(size=(len(paths), 32))
    figure = plot_embedding_map(vectors, paths, thumbnails=4)
    axis = figure.axes[0]
    colours = {tuple(colour) for colour in axis.collections[0].get_facecolors()}
    assert len(colours) == len({Path(path).parent.name for path in paths}) == 8
    assert len([artist for artist in axis.artists if isinstance(artist, AnnotationBbox)]) == 4
    assert axis.get_title().startswith(f"{len(paths)} images in 8 classes")
