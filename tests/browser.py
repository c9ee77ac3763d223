"""Playwright (python) driving Debian's chromium against `govflow serve`: the fixture browser tests use.

`officials(username)` opens a fresh browser context, signs in through the sign-in page and returns the
page on the inbox; `screenshot(page, name)` saves tests/artifacts/<name>.png. Never `playwright install`:
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


def screenshot(page, name: str) -> Path:  # noqa: ANN001
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
