"""The Chromium every browser test drives through Playwright, found in one place, and its fixtures.

`chromium_path()` takes Playwright's own Chromium when `playwright install chromium` has fetched it, else a
`chromium` (or Chrome) on the PATH. `make setup` runs this file, which installs Debian's `chromium` with
apt-get when neither exists and it runs as root; elsewhere the tests fail with `HOW_TO_GET`.

Fixtures (a pytest plugin, loaded from tests/conftest.py): `browser`, one headless Chromium for the
session, and `page`, a fresh page (own cookies and storage) in it for each test.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page, Playwright

SYSTEM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
HOW_TO_GET = ("No Chromium for the browser tests. Get one with `.venv/bin/playwright install chromium` (downloads "
              "Playwright's own), or install your system's package (Debian/Ubuntu: `sudo apt-get install chromium`; "
              "macOS: install Google Chrome), then run the tests again.")
# Chromium refuses to start its sandbox as root (containers, CI); headless tests need no sandbox.
LAUNCH_ARGS = ["--no-sandbox"] if hasattr(os, "geteuid") and os.geteuid() == 0 else []


def chromium_path(playwright: Playwright) -> str | None:
    """Playwright's own Chromium (from `playwright install chromium`), else one on the PATH; None if neither."""
    own = playwright.chromium.executable_path
    if own and Path(own).is_file():
        return own
    return next(filter(None, map(shutil.which, SYSTEM_NAMES)), None)


def install_chromium() -> str | None:
    """Install Debian's chromium with apt-get (as root, where apt-get exists); the path it gives, or None."""
    if not shutil.which("apt-get") or not hasattr(os, "geteuid") or os.geteuid() != 0:
        return None
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for command in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", "chromium"]):
        if subprocess.run(command, env=env, stdout=subprocess.DEVNULL).returncode != 0:
            return None
    return shutil.which("chromium")


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    """A headless Chromium driven by Playwright; fails (never skips) with HOW_TO_GET when there is none."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        path = chromium_path(playwright)
        if path is None:
            pytest.fail(HOW_TO_GET, pytrace=False)
        chromium = playwright.chromium.launch(executable_path=path, args=LAUNCH_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    """A new page, 1280x900, in a context of its own."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    yield context.new_page()
    context.close()


def main() -> int:
    """For `make setup`: find or install a Chromium and say which; never fails the set-up."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        path = chromium_path(playwright) or install_chromium()
    print(f"Chromium for the browser tests: {path}" if path else f"warning: {HOW_TO_GET}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
