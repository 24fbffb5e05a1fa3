"""Browser tests: Playwright drives Debian's Chromium against a live server and a real worker.

Skipped, with the reason, when Chromium or Playwright is missing. Screenshots of the main pages, at
desktop and phone widths, go to ``screenshots/`` at the repository root (git-ignored).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = os.environ.get("GENAI_CHROMIUM", "/usr/bin/chromium")
SCREENSHOTS = Path(__file__).resolve().parents[2] / "screenshots"
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}
# No network beyond the live server, no updates, no GPU: the same on a laptop and in CI.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-dev-shm-usage",
]

# Playwright's synchronous API runs an event loop in this thread; the tests still talk to the
# database synchronously between browser steps, which is safe here (one thread, no async code).
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


def _skip_reason() -> str | None:
    if not (Path(CHROMIUM).exists() or shutil.which(CHROMIUM)):
        return f"Chromium not found at {CHROMIUM} (apt-get install chromium)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "Playwright for Python is not installed (pip install -r requirements.txt)"
    return None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    reason = _skip_reason()
    if reason is None:
        return
    here = Path(__file__).resolve().parent
    for item in items:
        if here in Path(str(item.fspath)).resolve().parents:
            item.add_marker(pytest.mark.skip(reason=reason))


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser: Any, live_server: Any) -> Iterator[Any]:
    """A fresh browser tab (own cookies) in Simplified Chinese, at desktop width."""
    context = browser.new_context(
        base_url=live_server.url, locale="zh-CN", viewport=DESKTOP, accept_downloads=True, timezone_id="Asia/Shanghai"
    )
    context.set_default_timeout(20_000)
    tab = context.new_page()
    yield tab
    context.close()


@pytest.fixture
def shoot() -> Any:
    """``shoot(page, name)`` saves ``screenshots/<name>-desktop.png`` and ``<name>-phone.png``."""
    SCREENSHOTS.mkdir(exist_ok=True)

    def take(tab: Any, name: str) -> None:
        size = tab.viewport_size
        tab.screenshot(path=str(SCREENSHOTS / f"{name}-desktop.png"), full_page=True)
        tab.set_viewport_size(PHONE)
        tab.screenshot(path=str(SCREENSHOTS / f"{name}-phone.png"), full_page=True)
        tab.set_viewport_size(size)

    return take
