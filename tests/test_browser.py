"""The browser fixtures themselves: without any Chromium, a browser test fails saying how to get one."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from browser import HOW_TO_GET

TESTS = Path(__file__).resolve().parent


def test_without_chromium_a_browser_test_fails_with_how_to_get_one(tmp_path):
    (tmp_path / "conftest.py").write_text(f"import sys\nsys.path.insert(0, {str(TESTS)!r})\n"
                                          "pytest_plugins = ['browser']\n")
    (tmp_path / "test_page.py").write_text("def test_page(page):\n    page.goto('about:blank')\n")
    empty = tmp_path / "no-browsers"
    empty.mkdir()
    env = {**os.environ, "PATH": str(Path(sys.executable).parent), "PLAYWRIGHT_BROWSERS_PATH": str(empty)}
    result = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tmp_path)],
                            cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 1, result.stdout  # failed, not skipped
    assert "1 error" in result.stdout and HOW_TO_GET in result.stdout
