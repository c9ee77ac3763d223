"""Playwright (python) driving Debian's chromium against `govflow serve`: the fixture browser tests use.

`officials(username)` opens a fresh browser context, signs in through the sign-in page and returns the
page on the inbox; `screenshot(page, name)` saves tests/artifacts/<name>.png; `fits_and_is_named(page)`
checks the page fits the window's width and a screen reader can name every control on it. Never `playwright install`:
the browser is Debian's (/usr/bin/chromium, installed by the Makefile).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.conftest import PASSWORD, ROOT
from tests.serving import Server

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = ROOT / "tests" / "artifacts"
LAPTOP = {"width": 1366, "height": 768}
PHONE = {"width": 390, "height": 844}
STEP_TIMEOUT_MS = 15_000  # one click, one page, one poll: bounded, so a broken page fails fast


@pytest.fixture(scope="session")
def chromium() -> Iterator[object]:
    if not CHROMIUM.exists():
        pytest.fail("The browser tests need Debian's chromium at /usr/bin/chromium (`make test` installs it).")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        yield browser
        browser.close()


@pytest.fixture
def officials(chromium, server: Server) -> Iterator[Callable[..., object]]:  # noqa: ANN001
    """Sign an official in, in a browser context of their own: `officials("wang", viewport=PHONE)`."""
    contexts = []

    def sign_in(username: str, viewport: dict | None = None, password: str = PASSWORD):  # noqa: ANN202
        context = chromium.new_context(viewport=viewport or LAPTOP, locale="zh-CN")
        context.set_default_timeout(STEP_TIMEOUT_MS)
        contexts.append(context)
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.script_errors = errors
        page.goto(f"{server.url}/inbox")
        page.get_by_label("用户名").fill(username)
        page.get_by_label("密码").fill(password)
        page.get_by_role("button", name="登录").click()
        page.wait_for_url("**/inbox")
        return page

    yield sign_in
    for context in contexts:
        context.close()


# A page fits when nothing makes it wider than the window (no sideways scrolling).
OVERFLOW = """() => ({width: document.documentElement.scrollWidth, window: window.innerWidth,
    wider: [...document.querySelectorAll('body *')].filter(e => e.getBoundingClientRect().right > window.innerWidth + 1)
        .slice(0, 5).map(e => e.tagName + (e.id ? '#' + e.id : '') + '.' + e.className)})"""
# What a screen reader can say: every field has a label (or aria-label / aria-labelledby) — an option's
# text is not a label — and every visible link, button and summary has a name.
UNNAMED = """() => {
  const said = e => (e.getAttribute('aria-label') || '').trim() || (e.getAttribute('aria-labelledby') || '')
      .split(/\\s+/).filter(Boolean).map(id => (document.getElementById(id) || {}).textContent || '').join(' ').trim();
  const shown = e => !!(e.offsetWidth || e.offsetHeight || e.getClientRects().length);
  const fields = [...document.querySelectorAll('input:not([type=hidden]), select, textarea')]
      .filter(e => !((e.labels && e.labels.length) || said(e)));
  const controls = [...document.querySelectorAll('a[href], button, summary, [role=button]')].filter(shown)
      .filter(e => !((e.innerText || e.textContent || '').trim() || said(e) || (e.getAttribute('title') || '').trim()
          || [...e.querySelectorAll('img[alt]')].some(i => i.alt.trim())));
  return [...fields, ...controls].map(e => e.outerHTML.slice(0, 160));
}"""


def fits_and_is_named(page, where: str) -> None:  # noqa: ANN001
    """The page fits the window's width and a screen reader can name every control on it."""
    page.wait_for_load_state()
    layout = page.evaluate(OVERFLOW)
    assert layout["width"] <= layout["window"], (where, layout)
    assert page.evaluate(UNNAMED) == [], where


def console_errors(page) -> list[str]:  # noqa: ANN001
    """Errors the page logs to the console, from now on (script errors are in page.script_errors)."""
    errors: list[str] = []
    page.on("console", lambda message: message.type == "error" and errors.append(message.text))
    return errors


def screenshot(page, name: str) -> Path:  # noqa: ANN001
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
