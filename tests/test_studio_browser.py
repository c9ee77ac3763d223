"""A process designer changes the deliberation in the studio: Playwright on Debian's chromium against
`govflow serve`.

The designer signs in, opens `deliberation` version 1 from the process library, draws a new user task into
the residents' committee lane, names it and gives it a form in the properties panel, validates and sees the
one problem (the task is connected to nothing) marked on the diagram, clicks it, fixes it by dropping the
task onto the flow after 登记议题, validates clean and deploys version 2. A case started before keeps
running on version 1 to its end; a case started after runs on version 2 and reaches the new task. Then
every MIWG reference model is loaded into the same editor, saved back and validated, in one page.
SQLite only: the pages do not depend on the database, and the engine tests cover both.
"""

from __future__ import annotations

import pytest
from lxml import etree

from engine import Engine
from engine.demo import library_files
from tests.browser import screenshot
from tests.conftest import PASSWORD, SHARED, who

pytestmark = [pytest.mark.browser, pytest.mark.slow]

MIWG = sorted((SHARED / "conformance" / "miwg").glob("*.bpmn"))
NEW_TASK_NAME = "复核议题材料"
ISSUE = {"title": "加装电梯", "description": "3号楼", "source": "resident", "proposer_count": 1}
PRIOR = {"solicitation_summary": "征询 1 次", "legality_note": "无", "category": "rejected"}


@pytest.fixture
def library(org: Engine) -> Engine:
    org.add_user("party", PASSWORD, [("rc_party_org", "qiaoyi")])
    org.deploy(library_files(), by=who(org, "designer"))
    return org


def page_point(page, element_id: str, dx: float = 0, dy: float = 0) -> tuple[float, float]:  # noqa: ANN001
    """Where on the page the centre of a diagram element (moved by dx, dy in diagram units) is."""
    return tuple(
        page.evaluate(
            """([id, dx, dy]) => {
                const modeler = govflowStudio.modeler();
                const canvas = modeler.get('canvas');
                const element = modeler.get('elementRegistry').get(id);
                const box = canvas._container.getBoundingClientRect();
                const view = canvas.viewbox();
                const [a, b] = element.waypoints || [];
                const mid = a
                  ? { x: (a.x + b.x) / 2, y: (a.y + b.y) / 2 }
                  : { x: element.x + element.width / 2, y: element.y + element.height / 2 };
                return [box.left + (mid.x + dx - view.x) * view.scale, box.top + (mid.y + dy - view.y) * view.scale];
            }""",
            [element_id, dx, dy],
        )
    )


def complete(engine: Engine, instance_id: str, element_id: str, user: str, data: dict) -> dict:
    task = next(t for t in engine.get_instance(instance_id)["tasks"] if t["element_id"] == element_id)
    return engine.complete(task["id"], engine.principal(user), data)


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_a_designer_adds_a_step_validates_fixes_and_deploys_while_an_older_case_finishes_on_its_version(
    library: Engine,
    officials,  # noqa: ANN001
) -> None:
    wang = library.principal("wang")
    older = library.start("deliberation", "qiaoyi", by=wang)["id"]

    designer = officials("designer")
    designer.get_by_role("link", name="流程设计").click()
    designer.get_by_role("heading", name="流程库").wait_for()
    designer.get_by_role("button", name="编辑 deliberation 第 1 版").click()
    designer.wait_for_url("**/studio/drafts/*")
    designer.locator('.djs-element[data-element-id="register_issue"]').wait_for()

    # A new task, drawn from the palette into the residents' committee lane, below 准备议事记录.
    designer.get_by_role("button", name="创建任务").click()
    x, y = page_point(designer, "prepare_deliberation", dy=130)
    designer.mouse.move(x - 30, y - 30)
    designer.mouse.move(x, y, steps=5)
    designer.mouse.click(x, y)
    new_id = designer.get_by_label("标识").input_value()
    assert new_id and new_id != "deliberation"
    designer.locator(".djs-context-pad [data-action='replace']").click()
    designer.locator(".djs-popup [data-id='replace-with-user-task']").click()
    designer.get_by_label("名称").fill(NEW_TASK_NAME)
    designer.get_by_label("名称").press("Tab")
    designer.get_by_label("表单").select_option("prior_deliberation")
    assert "居民委员会" in designer.locator(".gf-lane").inner_text()

    designer.get_by_role("button", name="校验").click()
    problems = designer.locator("#studio-problem-list li")
    problems.first.wait_for()
    assert problems.count() == 1, problems.all_inner_texts()
    assert NEW_TASK_NAME in problems.first.inner_text() and "没有连接" in problems.first.inner_text()
    marked = designer.locator(f'.djs-element.gf-problem-warning[data-element-id="{new_id}"]')
    assert marked.count() == 1
    screenshot(designer, "studio_problem_marked_laptop")
    designer.locator("body").click(position={"x": 5, "y": 5})  # nothing selected: the panel shows the process
    problems.first.get_by_role("button").click()
    designer.get_by_role("heading", name=NEW_TASK_NAME).wait_for()

    # The fix: the task dropped onto the flow from 登记议题 to 核算联名比例 joins the path there.
    start_x, start_y = page_point(designer, new_id)
    to_x, to_y = page_point(designer, "f_register_issue_to_check_petition")
    designer.mouse.move(start_x, start_y)
    designer.mouse.down()
    designer.mouse.move((start_x + to_x) / 2, (start_y + to_y) / 2, steps=8)
    designer.mouse.move(to_x, to_y, steps=8)
    designer.mouse.up()
    designer.get_by_role("button", name="校验").click()
    designer.get_by_text("没有发现问题。").wait_for()
    assert designer.locator(".gf-problem-warning, .gf-problem-error").count() == 0

    designer.get_by_role("button", name="部署").click()
    designer.get_by_text("已部署：deliberation 第 2 版").wait_for()
    screenshot(designer, "studio_deployed_laptop")
    assert not designer.script_errors, designer.script_errors

    # A case started now runs on version 2 and reaches the new step; the older one finishes on version 1.
    newer = library.start("deliberation", "qiaoyi", by=wang)
    assert newer["version"] == 2
    after = complete(library, newer["id"], "register_issue", "wang", ISSUE)
    assert [t["element_id"] for t in after["next_tasks"]] == [new_id]
    assert after["next_tasks"][0]["name"] == NEW_TASK_NAME
    v2 = library.get_definition("deliberation", 2)
    assert v2["user_tasks"][new_id]["form_key"] == "prior_deliberation"
    assert v2["user_tasks"][new_id]["role"] == "residents_committee"
    assert v2["user_tasks"]["register_issue"]["form_key"] == "register_issue"  # saved back without loss

    assert library.get_instance(older)["version"] == 1
    following = complete(library, older, "register_issue", "wang", ISSUE)
    assert [t["element_id"] for t in following["next_tasks"]] == ["prior_deliberation"]
    complete(library, older, "prior_deliberation", "party", PRIOR)
    done = complete(
        library,
        older,
        "notify_proposer_with_reasons",
        "wang",
        {"reasons": "不属于自治事项", "notice_channel": "written"},
    )
    assert done["instance"]["status"] == "completed"
    assert library.get_instance(older)["version"] == 1

    # Every MIWG model in the same editor: opened, saved back without losing an element, validated.
    for path in MIWG:
        xml = path.read_text(encoding="utf-8")
        imported = designer.evaluate("xml => govflowStudio.importXml(xml)", xml)
        assert isinstance(imported["warnings"], list)
        saved = designer.evaluate("() => govflowStudio.exportXml()")
        lost = element_ids(xml.encode(), MODEL) - element_ids(saved.encode(), MODEL)
        assert not lost, (path.name, lost)
        # Diagram shapes are dropped only where bpmn-js said on import that it could not draw them (the
        # shapes of a process that no pool shows, in B.1.0).
        lost_shapes = element_ids(xml.encode(), DI) - element_ids(saved.encode(), DI)
        assert not lost_shapes or imported["warnings"], (path.name, lost_shapes)
        designer.evaluate("name => govflowStudio.save(name, true)", path.name)
        report = designer.evaluate("() => govflowStudio.validate()")
        shown = designer.locator("#studio-problem-list li")
        assert shown.count() == len(report["problems"]), path.name
        for problem in report["problems"]:
            assert problem["file"] == path.name and len(problem["message"]) > 10, problem
            assert "Traceback" not in problem["message"]
        if report["problems"]:
            assert path.name in shown.first.inner_text()
    assert not designer.script_errors, designer.script_errors
    screenshot(designer, "studio_miwg_last_laptop")


MODEL = "http://www.omg.org/spec/BPMN/20100524/MODEL"
DI = "http://www.omg.org/spec/BPMN/20100524/DI"


def element_ids(xml: bytes, namespace: str) -> set[str]:
    """The id of every element of a document in one namespace (the BPMN model, or its diagram)."""
    root = etree.fromstring(xml)
    return {
        e.get("id")
        for e in root.iter()
        if isinstance(e.tag, str) and e.get("id") and etree.QName(e).namespace == namespace
    }
