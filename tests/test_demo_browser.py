"""The real deliberation of the demo (engine/demo.py, the library in bpmn/ and forms/) in the browser:
Playwright on Debian's chromium against `govflow serve`.

王桂芳 (rc_qiaoyi) starts 居民区议事 and registers the issue in the real form-js form; 李建国 (party_qiaoyi)
finds the 先议 step with the procedure filter and does it with the keyboard only. Every page they see
fits a 1366x768 laptop and a 390 px phone without scrolling sideways, and every control has a name a
screen reader can say; every form shipped in forms/ renders on the task page without a script error.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import expect

from engine import Engine
from engine.demo import DEMO_PASSWORD, load_demo
from tests.browser import LAPTOP, PHONE, UNNAMED, console_errors, fits_and_is_named, screenshot
from tests.conftest import ROOT
from tests.serving import Server, serving

pytestmark = [pytest.mark.browser, pytest.mark.slow]

DELIBERATION = "居民区议事：先议→商议→决议"


@pytest.fixture
def demo(engine: Engine) -> Engine:
    load_demo(engine)
    return engine


@pytest.fixture
def server(db_url: str, demo: Engine, tmp_path: Path) -> Iterator[Server]:
    """`govflow serve` on the demo: its org, its officials and the whole process library."""
    with serving(db_url, tmp_path / "gunicorn.log") as running:
        yield running


def tab_to(page, tag: str, name: str, limit: int = 80) -> None:  # noqa: ANN001
    """Press Tab until an element of that kind whose label or text holds `name` has the focus: keyboard only."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        focused = page.evaluate(
            """() => { const e = document.activeElement;
                       const label = e.labels && e.labels[0] ? e.labels[0].textContent : '';
                       const named = (e.getAttribute('aria-label') || '') + ' ' + e.textContent;
                       return [e.tagName, label + ' ' + named]; }"""
        )
        if focused[0] == tag and name in focused[1]:
            return
    raise AssertionError(f"no {tag} {name!r} can be reached with the Tab key")


def choose_with_arrows(page, choice: str, limit: int = 10) -> None:  # noqa: ANN001
    """In the focused form-js select, move down the open list to `choice` and take it with Enter."""
    highlighted = page.locator(".fjs-dropdownlist-item.focused")
    for _ in range(limit):
        if highlighted.count() and highlighted.inner_text() == choice:
            page.keyboard.press("Enter")
            return
        page.keyboard.press("ArrowDown")
    raise AssertionError(f"{choice!r} cannot be chosen with the arrow keys")


def row(page, text: str):  # noqa: ANN001, ANN201
    return page.locator("#inbox-results tbody tr", has_text=text)


def test_a_committee_starts_the_demo_deliberation_and_its_party_organisation_deliberates_with_the_keyboard(
    demo: Engine,
    officials,  # noqa: ANN001
    server: Server,
) -> None:
    wang = officials("rc_qiaoyi", password=DEMO_PASSWORD)
    logged = console_errors(wang)
    fits_and_is_named(wang, "inbox")
    wang.get_by_role("link", name="发起事项").click()
    wang.wait_for_url("**/start")
    fits_and_is_named(wang, "start")
    card = wang.locator("li", has=wang.get_by_role("heading", name=DELIBERATION))
    card.get_by_label("业务编号（可不填）").fill("YT-DEMO-7")
    card.get_by_role("button", name=f"发起「{DELIBERATION}」").click()

    # the real register_issue form, mounted by form-js, and the step marked on the real diagram
    wang.get_by_role("heading", name="登记议题").wait_for()
    wang.locator("#task-form[data-ready=true] .fjs-form").wait_for()
    wang.locator("#diagram[data-ready=true]").wait_for()
    assert wang.locator('.djs-element.gf-current[data-element-id="register_issue"]').count() == 1
    assert wang.locator(".djs-element.gf-current").count() == 1
    fits_and_is_named(wang, "task")
    wang.get_by_label("议题标题").fill("3号楼加装电梯")
    wang.get_by_label("议题内容").fill("3号楼居民联名申请加装电梯，涉及 24 户")
    wang.get_by_label("联名人数（人/户/组）").fill("20")
    wang.get_by_role("button", name="办结").click()
    wang.wait_for_url("**/inbox?did=complete")
    assert "已办结" in wang.locator("#notice").inner_text()
    assert wang.script_errors == [] and logged == []

    # 李建国 narrows his group's list to the deliberation and reads when the step reached him
    li = officials("party_qiaoyi", password=DEMO_PASSWORD)
    li.get_by_role("link", name=re.compile("待认领")).click()
    li.get_by_label("事项", exact=True).select_option(label="民政服务事项下放与委托基层收件")
    li.get_by_role("button", name="筛选", exact=True).click()
    li.wait_for_url("**process=service_item_delegation*")
    assert row(li, "YT-DEMO-7").count() == 0
    li.get_by_label("事项", exact=True).select_option(label=DELIBERATION)
    li.get_by_role("button", name="筛选", exact=True).click()
    li.wait_for_url("**process=deliberation*")
    step = row(li, "YT-DEMO-7")
    step.wait_for()
    assert DELIBERATION in step.inner_text() and "先议" in step.inner_text()
    received = step.locator('td[data-label="收到时间"]').inner_text()
    assert re.fullmatch(r"\d\d-\d\d \d\d:\d\d", received.strip()), received
    fits_and_is_named(li, "inbox filtered")

    # ... and works it with the keyboard only: Tab to the row's link, Enter, fill, complete
    tab_to(li, "A", "先议：议题征询与民主恳谈")
    li.keyboard.press("Enter")
    li.locator("#task-form[data-ready=true] .fjs-form").wait_for()
    tab_to(li, "INPUT", "议题类别")
    choose_with_arrows(li, "居民自治事项")
    # form-js renders the choice after the key press: wait for it as a person would look for it.
    expect(li.locator(".fjs-form-field-select .fjs-select-display").first).to_have_text("居民自治事项")
    tab_to(li, "TEXTAREA", "议题征询与民主恳谈情况")
    li.keyboard.type("已在3号楼召开民主恳谈会，居民普遍支持")
    tab_to(li, "BUTTON", "办结")
    li.keyboard.press("Enter")
    li.wait_for_url("**/inbox?did=complete")
    [case] = [i for i in demo.list_instances(demo.principal("auditor"))["items"] if i["business_key"] == "YT-DEMO-7"]
    done = {
        e["element_id"]: e["actor"]["username"] for e in demo.history(case["id"]) if e["action"] == "task_completed"
    }
    assert done == {"register_issue": "rc_qiaoyi", "prior_deliberation": "party_qiaoyi"}
    assert li.script_errors == []


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_every_page_fits_a_phone_and_says_every_control_to_a_screen_reader(
    demo: Engine,
    officials,  # noqa: ANN001
    server: Server,
    chromium,  # noqa: ANN001
) -> None:
    """SQLite only: layout and names do not depend on the database (the story above runs on both)."""
    started = demo.start("deliberation", "qiaoyi", by=demo.principal("rc_qiaoyi"), business_key="YT-DEMO-8")
    task_id = started["tasks"][0]["id"]
    for viewport in (LAPTOP, PHONE):
        stranger = chromium.new_context(viewport=viewport, locale="zh-CN").new_page()
        stranger.goto(f"{server.url}/login")
        fits_and_is_named(stranger, f"login {viewport['width']}")
        stranger.context.close()
    phone = officials("rc_qiaoyi", viewport=PHONE, password=DEMO_PASSWORD)
    fits_and_is_named(phone, "inbox phone")
    for path in ("/inbox?tab=candidate", "/start", f"/tasks/{task_id}"):
        phone.goto(server.url + path)
        fits_and_is_named(phone, f"{path} phone")
    phone.locator("#task-form[data-ready=true] .fjs-form").wait_for()
    phone.locator("#diagram[data-ready=true]").wait_for()
    fits_and_is_named(phone, "task phone, form and diagram drawn")
    screenshot(phone, "demo_task_phone")
    for viewport in (LAPTOP, PHONE):
        auditor = officials("auditor", viewport=viewport, password=DEMO_PASSWORD)
        for path in ("/audit", f"/audit/instances/{started['id']}", "/audit/statistics", "/audit/retention"):
            auditor.goto(server.url + path)
            if "instances" in path:
                auditor.locator("#audit-diagram[data-ready=true]").wait_for()
            fits_and_is_named(auditor, f"{path} {viewport['width']}")
        assert auditor.script_errors == []
    assert phone.script_errors == []


FORMS_PER_PROCESS = 8  # small cases: each task page reads and draws a case of eight steps, not of 64


def every_form_bundle(folder: Path = ROOT / "forms") -> dict[str, bytes]:
    """Every shipped form, and processes that each open one user task per form at once (a parallel split)."""
    forms = {path.name: path.read_bytes() for path in sorted(folder.glob("*.form.json"))}
    ids = [json.loads(content)["id"] for content in forms.values()]
    chunks = [ids[n : n + FORMS_PER_PROCESS] for n in range(0, len(ids), FORMS_PER_PROCESS)]
    return {
        f"every_form_{n}.bpmn": every_form_bpmn(f"every_form_{n}", c).encode() for n, c in enumerate(chunks)
    } | forms


def every_form_bpmn(key: str, form_ids: list[str]) -> str:
    nodes = ['<bpmn:startEvent id="start"/>', '<bpmn:parallelGateway id="split"/>']
    nodes += ['<bpmn:parallelGateway id="join"/>', '<bpmn:endEvent id="end"/>']
    middle = len(form_ids) * 30
    shapes = [("start", 0, middle, 36, 36), ("split", 80, middle - 7, 50, 50)]
    shapes += [("join", 400, middle - 7, 50, 50), ("end", 500, middle, 36, 36)]
    flows = [
        ("start", "split", (36, middle + 18), (80, middle + 18)),
        ("join", "end", (450, middle + 18), (500, middle + 18)),
    ]
    for n, form in enumerate(form_ids):
        nodes.append(
            f'<bpmn:userTask id="t_{form}" name="{form}"><bpmn:extensionElements><spiffworkflow:properties>'
            f'<spiffworkflow:property name="formKey" value="{form}"/></spiffworkflow:properties>'
            "</bpmn:extensionElements></bpmn:userTask>"
        )
        shapes.append((f"t_{form}", 200, n * 60, 100, 50))
        flows += [("split", f"t_{form}", (130, middle + 18), (200, n * 60 + 25))]
        flows += [(f"t_{form}", "join", (300, n * 60 + 25), (400, middle + 18))]
    nodes += [f'<bpmn:sequenceFlow id="f{n}" sourceRef="{a}" targetRef="{b}"/>' for n, (a, b, _, _) in enumerate(flows)]
    drawn = [
        f'<bpmndi:BPMNShape id="{e}_di" bpmnElement="{e}"><dc:Bounds x="{x}" y="{y}" width="{w}" height="{h}"/>'
        "</bpmndi:BPMNShape>"
        for e, x, y, w, h in shapes
    ] + [
        f'<bpmndi:BPMNEdge id="f{n}_di" bpmnElement="f{n}"><di:waypoint x="{p[0]}" y="{p[1]}"/>'
        f'<di:waypoint x="{q[0]}" y="{q[1]}"/></bpmndi:BPMNEdge>'
        for n, (_, _, p, q) in enumerate(flows)
    ]
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"'
        ' xmlns:bpmndi="http://www.omg.org/spec/BPMN/20100524/DI" xmlns:dc="http://www.omg.org/spec/DD/20100524/DC"'
        ' xmlns:di="http://www.omg.org/spec/DD/20100524/DI" xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core"'
        f' id="{key}_defs" targetNamespace="https://govflow.example/test">'
        f'<bpmn:process id="{key}" name="每张表单 {key}" isExecutable="true">{"".join(nodes)}</bpmn:process>'
        f'<bpmndi:BPMNDiagram id="{key}_diagram"><bpmndi:BPMNPlane id="{key}_plane" bpmnElement="{key}">'
        f"{''.join(drawn)}</bpmndi:BPMNPlane></bpmndi:BPMNDiagram></bpmn:definitions>"
    )


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_every_form_shipped_in_forms_renders_on_the_task_page_without_a_script_error(
    demo: Engine,
    officials,  # noqa: ANN001
    server: Server,
) -> None:
    """SQLite only: what form-js draws does not depend on the database. 64 pages, one per form: the
    only check that each shipped form (not a test copy) mounts in the browser."""
    bundle = every_form_bundle()
    demo.deploy(bundle, by=demo.principal("designer"))
    tasks = [
        task
        for name in bundle
        if name.endswith(".bpmn")
        for task in demo.start(name.removesuffix(".bpmn"), "qiaoyi", by=demo.principal("rc_qiaoyi"))["tasks"]
    ]
    assert len(tasks) == len(list((ROOT / "forms").glob("*.form.json"))) > 60
    wang = officials("rc_qiaoyi", password=DEMO_PASSWORD)
    logged = console_errors(wang)
    broken = []
    for task in tasks:
        wang.goto(f"{server.url}/tasks/{task['id']}")
        wang.locator("#task-form[data-ready=true]").wait_for()
        fields = wang.locator("#task-form .fjs-form .fjs-form-field").count()
        notice = wang.locator("#notice").inner_text().strip()
        unnamed = wang.evaluate(UNNAMED)
        if not fields or notice or unnamed or logged or wang.script_errors:
            broken.append((task["name"], fields, notice, unnamed, list(logged), list(wang.script_errors)))
            logged.clear()
            wang.script_errors.clear()
    assert broken == []
