"""HTML and script typed into every text field, and into a process's names, are shown as text on every page.

Three cases of a review carry the payloads everywhere an official or designer types: business keys, every
text field of the forms, a comment, a transfer comment, a return reason, a cancel reason, an auditor's
saved search, and the process's and steps' names; searches and the sign-in page reflect them from the
address too. Every page of the workspace (inbox tabs, the task pages, the start page, the audit search,
case and statistics pages, the printable case file) is read through Flask's test client on SQLite and
PostgreSQL: no payload appears as markup, each appears escaped somewhere. A browser test then opens the
same pages in Chromium: no payload runs (`window.__xss` stays unset, no dialog, no page error).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from urllib.parse import quote

import pytest
from markupsafe import escape

from api import create_app
from engine import Engine
from tests.browser import STEP_TIMEOUT_MS
from tests.conftest import DATA, read_bundle, who
from tests.reliability_report import record
from tests.serving import Server
from tests.test_web import Browser

PAYLOADS = [
    "<script>window.__xss=1</script>",
    '<img src=x onerror="window.__xss=2">',
    '"><svg onload="window.__xss=3">',
    "';window.__xss=4;//",
    "</script><script>window.__xss=5</script>",
    '<a href="javascript:window.__xss=6">点此</a>',
    "{{7*7}}${7*7}<%= 7*7 %>",
]
BUNDLE = ("hostile_review.bpmn", "hostile_register.form.json", "hostile_review.form.json")


def fill(n: int) -> dict:
    """The register form with a payload in every text field."""
    return {"title": PAYLOADS[n % 7], "description": PAYLOADS[(n + 1) % 7], "contact": PAYLOADS[(n + 2) % 7]}


def hostile_world(engine: Engine) -> dict[str, str]:
    """A finished case, one waiting for review and a cancelled one, with payloads in every text."""
    engine.deploy(read_bundle(*BUNDLE, folder=DATA / "reliability"), by=who(engine, "designer"))
    wang, zhang, liu = who(engine, "wang"), who(engine, "zhang"), who(engine, "liu")
    finished = engine.start("hostile_review", "qiaoyi", by=wang, business_key=PAYLOADS[0])
    register = finished["tasks"][0]["id"]
    engine.add_comment(register, wang, PAYLOADS[1])
    [review] = engine.complete(register, wang, fill(2))["next_tasks"]
    engine.claim(review["id"], zhang)
    engine.transfer(review["id"], zhang, "liu", PAYLOADS[5])
    engine.return_task(review["id"], liu, PAYLOADS[6])
    [review] = engine.complete(register, wang, fill(3))["next_tasks"]
    engine.complete(review["id"], liu, {"opinion": PAYLOADS[4]})
    waiting = engine.start("hostile_review", "qiaoyi", by=wang, business_key=PAYLOADS[2])
    [open_review] = engine.complete(waiting["tasks"][0]["id"], wang, fill(4))["next_tasks"]
    cancelled = engine.start("hostile_review", "qiaoyi", by=wang, business_key=PAYLOADS[3])
    engine.cancel(cancelled["id"], PAYLOADS[0], by=who(engine, "admin"))
    engine.save_search(who(engine, "auditor"), PAYLOADS[5], {"q": PAYLOADS[1], "actor": PAYLOADS[2]})
    return {"finished": finished["id"], "register": register, "review": open_review["id"], "cancelled": cancelled["id"]}


def pages(world: dict[str, str]) -> dict[str, list[str]]:
    """Every page of the workspace, per official who may see it, including addresses that reflect input."""
    reflected = quote(PAYLOADS[1])
    return {
        "wang": [
            "/inbox?tab=mine",
            "/inbox?tab=done",
            "/inbox/rows?tab=done",
            f"/inbox?tab=done&q={reflected}&process={reflected}&did={reflected}",
            f"/tasks/{world['register']}",
            "/start",
        ],
        "zhang": [
            "/inbox?tab=candidate",
            "/inbox/rows?tab=candidate",
            f"/tasks/{world['review']}",
            f"/tasks/{reflected}",
        ],
        "auditor": [
            "/audit",
            f"/audit?q={reflected}&actor={reflected}&process_key={reflected}",
            f"/audit/instances/{world['finished']}",
            f"/audit/instances/{world['cancelled']}",
            f"/audit/instances/{world['finished']}/case-file",
            "/audit/statistics",
        ],
        None: [f"/login?next={reflected}"],
    }


@pytest.fixture
def world(org: Engine) -> dict[str, str]:
    return hostile_world(org)


def test_every_page_shows_html_and_script_typed_anywhere_as_text(org: Engine, world: dict[str, str]) -> None:
    app = create_app({"GOVFLOW_ENGINE": org, "TESTING": True})
    shown: set[str] = set()
    for username, paths in pages(world).items():
        browser = Browser(app, username)
        for path in paths:
            answer = browser.get(path)
            assert answer.status_code in (200, 404), (path, answer.status_code)
            html = answer.get_data(as_text=True)
            markup, data_blocks = split_data_blocks(html)
            for block in data_blocks:  # JSON a script reads: it must not be able to end its element
                assert "</" not in block and "<!--" not in block, (path, block[:200])
            for payload in PAYLOADS:
                assert payload not in markup, (path, payload)
                if str(escape(payload)) in html or payload.replace("<", "\\u003c") in html:
                    shown.add(payload)
    assert shown == set(PAYLOADS), set(PAYLOADS) - shown  # each is on some page, as text
    read = sum(len(paths) for paths in pages(world).values())
    record("hostile", f"escaping[{org.dialect}]", {"pages": read, "payloads": len(PAYLOADS)})


DATA_BLOCK = re.compile(r'(<script type="application/json"[^>]*>)(.*?)(</script>)', re.DOTALL)


def split_data_blocks(html: str) -> tuple[str, list[str]]:
    """The page without the JSON its scripts read (`<script type="application/json">`), and that JSON.

    Inside such a block a quote is just a character of a JSON string: nothing runs it. What matters there
    is that nothing can close the element, which the caller checks.
    """
    blocks = [match.group(2) for match in DATA_BLOCK.finditer(html)]
    return DATA_BLOCK.sub(r"\1\3", html), blocks


@pytest.mark.browser
@pytest.mark.slow
@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)  # escaping does not depend on the database
def test_no_payload_runs_in_the_browser_on_any_page(
    org: Engine,
    server: Server,
    officials,
    chromium,  # noqa: ANN001
) -> None:
    world = hostile_world(org)
    ran: list[str] = []
    for username, paths in pages(world).items():
        for page in signed_in_pages(officials, chromium, username):
            page.on("dialog", lambda dialog: (ran.append(dialog.message), dialog.dismiss()))
            for path in paths:
                page.goto(f"{server.url}{path}")
                page.wait_for_load_state("networkidle", timeout=STEP_TIMEOUT_MS)
                assert page.evaluate("window.__xss") is None, (username, path)
            assert page.script_errors == [], (username, page.script_errors)
    assert ran == []


def signed_in_pages(officials, chromium, username: str | None) -> Iterator:  # noqa: ANN001
    if username is not None:
        yield officials(username)
        return
    context = chromium.new_context(locale="zh-CN")
    page = context.new_page()
    page.script_errors = []
    page.on("pageerror", lambda error: page.script_errors.append(str(error)))
    try:
        yield page
    finally:
        context.close()
