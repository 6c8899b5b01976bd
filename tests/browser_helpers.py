"""A real browser for page tests: Debian's /usr/bin/chromium driven by Playwright (never a
downloaded browser). `chromium_page()` yields a page and the console errors it logged."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = os.environ.get("RTLENS_CHROMIUM", "/usr/bin/chromium")
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--autoplay-policy=no-user-gesture-required",  # a test's click is synthetic
]
# Screenshots for a person to look at (gitignored).
ARTIFACTS = Path(__file__).parent / "artifacts"


@dataclass
class BrowserPage:
    page: Any  # playwright.sync_api.Page
    console_errors: list[str] = field(default_factory=list)

    def screenshot(self, name: str) -> Path:
        ARTIFACTS.mkdir(exist_ok=True)
        path = ARTIFACTS / name
        self.page.screenshot(path=str(path), full_page=True)
        print(f"screenshot: {path}")
        return path


@contextmanager
def chromium_page() -> Iterator[BrowserPage]:
    """A fresh page in headless system Chromium; skips (with the reason) without one."""
    if not (Path(CHROMIUM).is_file() or shutil.which(CHROMIUM)):
        pytest.skip(f"no Chromium at {CHROMIUM} (apt-get install chromium)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="pip install playwright")
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            page = browser.new_page()
            result = BrowserPage(page)
            page.on(
                "console",
                lambda m: result.console_errors.append(m.text) if m.type == "error" else None,
            )
            page.on("pageerror", lambda e: result.console_errors.append(str(e)))
            yield result
        finally:
            browser.close()


def screenshot(browser: BrowserPage, name: str) -> Path:
    return browser.screenshot(name)
