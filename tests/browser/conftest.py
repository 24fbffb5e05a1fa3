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


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Chromium, for one test module.

    Playwright's synchronous API keeps an event loop running in this thread while it is open, and
    Django refuses database calls from a thread with a running loop. The tests talk to the database
    synchronously between browser steps (one thread, no async code), so the check is lifted for as
    long as Playwright is open, and only then.
    """
    from playwright.sync_api import sync_playwright

    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
            yield browser
            browser.close()
    finally:
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


# Reports every Content-Security-Policy violation of a page to the console, where ``csp_watch`` collects it.
_CSP_REPORTER = (
    "document.addEventListener('securitypolicyviolation', e => console.error("
    "'CSP violation: ' + e.violatedDirective + ' blocked ' + (e.blockedURI || 'inline') + ' in ' + e.sourceFile"
    " + ':' + e.lineNumber));"
)


def csp_watch(context: Any) -> list[str]:
    """Collect the Content-Security-Policy violations of every tab of ``context`` (the pages must have none)."""
    violations: list[str] = []
    context.add_init_script(_CSP_REPORTER)

    def on_console(message: Any) -> None:
        if "Content Security Policy" in message.text or message.text.startswith("CSP violation"):
            violations.append(f"{message.page.url if message.page else ''}: {message.text}")

    context.on("console", on_console)
    return violations


@pytest.fixture
def page(browser: Any, live_server: Any) -> Iterator[Any]:
    """A fresh browser tab (own cookies) in Simplified Chinese, at desktop width.

    A test fails when a page it visited broke the Content-Security-Policy: a blocked inline script or style, or
    a file from another origin, is what the policy forbids and what such a page would lose."""
    context = browser.new_context(
        base_url=live_server.url, locale="zh-CN", viewport=DESKTOP, accept_downloads=True, timezone_id="Asia/Shanghai"
    )
    context.set_default_timeout(20_000)
    violations = csp_watch(context)
    tab = context.new_page()
    yield tab
    context.close()
    assert violations == [], "\n".join(violations)


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
