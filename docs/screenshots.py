"""Screenshots of the demo app for reviewers and README: `make screenshots` (offline samples, stand-in weights).

Builds the notebooks' collections from helpers/samples/ in a temporary Milvus Lite file, serves the app on
127.0.0.1 and photographs it in headless Chromium: `app.png` (notebook 02's paintings, an image query)
and `app_text.png` (notebook 03's CLIP collection, a text query), in the folder given (default screenshots/).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from helpers import app, config  # noqa: E402  (helpers before torch, see README)
from helpers.connection import connect  # noqa: E402
from helpers.encoders import load_encoder  # noqa: E402


def main() -> int:
    from playwright.sync_api import expect, sync_playwright

    import sample_collections as samples
    from browser import HOW_TO_GET, LAUNCH_ARGS, chromium_path

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", nargs="?", type=Path, default=ROOT / "screenshots")
    folder = parser.parse_args().folder
    folder.mkdir(parents=True, exist_ok=True)
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
