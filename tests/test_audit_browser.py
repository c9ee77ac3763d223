"""An auditor checks a finished deliberation in the browser: Playwright on Debian's chromium against
`govflow serve`.

The deliberation is the workspace's test bundle (tests/data/web, 居民区议事（工作台测试）: 登记议题 →
街道审核 → 公示结果), deployed and worked to the end through the REST API. The auditor finds it, sees
the path on the diagram and every event on the timeline, replays it with the slider, verifies it (ok),
downloads the signed export (which verifies offline); then someone changes one audit row in the
database, and the same page shows the break. SQLite only: the page's behaviour does not depend on the
database, and the engine tests cover verification on both.
"""

from __future__ import annotations

import io
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import update

from engine import Engine
from engine.case_file import verify_export
from engine.config import Settings
from engine.models import HumanTask
from engine.signing import existing_key
from tests.browser import PHONE, fits_and_is_named, screenshot
from tests.conftest import DATA
from tests.serving import Server
from tests.test_audit_workspace import tamper
from tests.test_workspace_browser import WEB_BUNDLE

pytestmark = [pytest.mark.browser, pytest.mark.slow]

PROCEDURE = "居民区议事（工作台测试）"
BUSINESS_KEY = "YT-2026-300"


def deploy_the_bundle(server: Server) -> None:
    files = [("files", (name, io.BytesIO((DATA / "web" / name).read_bytes()))) for name in WEB_BUNDLE]
    with server.client("designer") as designer:
        assert designer.post("/deployments", files=[(k, (n, f.read())) for k, (n, f) in files]).status_code == 201


def finish_a_deliberation(server: Server, org: Engine) -> str:
    """Deploy the bundle and work the case to its end through the REST API; the review is done late."""
    deploy_the_bundle(server)
    with server.client("wang") as wang, server.client("zhang") as zhang:
        body = {"process_key": "workspace_deliberation", "org_unit": "qiaoyi", "business_key": BUSINESS_KEY}
        instance = wang.post("/process-instances", json=body).json()
        issue = {"title": "加装电梯", "description": "3号楼居民联名申请", "households": 24}
        review = wang.post(f"/tasks/{instance['tasks'][0]['id']}/complete", json={"data": issue}).json()
        review_id = review["next_tasks"][0]["id"]
        with org.transaction() as session:  # the review was due an hour ago
            session.execute(
                update(HumanTask).where(HumanTask.id == review_id).values(due_at=datetime.now(UTC) - timedelta(hours=1))
            )
        decision = {"decision": "approve", "opinion": "同意加装"}
        publish = zhang.post(f"/tasks/{review_id}/complete", json={"data": decision}).json()
        done = wang.post(f"/tasks/{publish['next_tasks'][0]['id']}/complete", json={"data": {"published": True}})
        assert done.json()["instance"]["status"] == "completed"
    return instance["id"]


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_an_auditor_verifies_and_exports_a_finished_deliberation_and_sees_a_changed_row(
    server: Server,
    org: Engine,
    officials,
    tmp_path: Path,  # noqa: ANN001
) -> None:
    instance_id = finish_a_deliberation(server, org)
    events = len(org.history(instance_id))

    auditor = officials("auditor")
    auditor.get_by_role("link", name="审计").click()
    auditor.get_by_label("流程").select_option(label=PROCEDURE)
    auditor.get_by_label("状态").select_option(label="已办结")
    auditor.get_by_label("是否超期").select_option(label="有超期步骤")
    auditor.get_by_role("button", name="查找", exact=True).click()
    auditor.get_by_role("link", name=BUSINESS_KEY).click()
    auditor.get_by_role("heading", name=f"案卷 {BUSINESS_KEY}").wait_for()

    # the path on the diagram: every element done, the four flows taken; every event on the timeline
    diagram = auditor.locator("#audit-diagram[data-ready=true]")
    diagram.wait_for()
    assert auditor.locator(".djs-element.gf-done").count() == 5  # start, three steps, end
    assert auditor.locator(".djs-connection.gf-flow").count() == 4
    assert auditor.locator(".djs-element.gf-current").count() == 0
    timeline = auditor.locator("#audit-timeline > li")
    assert timeline.count() == events
    review = timeline.filter(has_text="办结了「街道审核」")
    assert "街道办事处 · 五里桥街道" in review.inner_text() and "已超期" in review.inner_text()
    assert "同意加装" in review.inner_text()  # what zhang submitted
    review.get_by_role("button").click()
    assert diagram.get_attribute("data-focused") == "street_review"
    assert auditor.locator('.djs-element.gf-focus[data-element-id="street_review"]').count() == 1

    # the slider replays the case: at the start nothing is marked, step by step the path appears
    slider = auditor.get_by_label("逐步回放")
    slider.focus()
    auditor.keyboard.press("Home")
    assert auditor.locator("#replay-step").inner_text() == f"第 0 / {events} 步"
    assert diagram.get_attribute("data-marked") == "0"
    for _ in range(3):
        auditor.keyboard.press("ArrowRight")  # started, registration opened, registration done
    assert auditor.locator(".djs-element.gf-done").count() == 2  # the start event and 登记议题
    auditor.keyboard.press("End")
    assert auditor.locator(".djs-element.gf-done").count() == 5

    auditor.get_by_role("button", name="核验本案卷").click()
    auditor.locator("#verification", has_text="核验通过").wait_for()
    screenshot(auditor, "audit_case_verified_laptop")
    fits_and_is_named(auditor, "case, laptop")

    with auditor.expect_download() as download:
        auditor.get_by_role("link", name="下载 JSON（含签名）").click()
    saved = tmp_path / "case.json"
    download.value.save_as(saved)
    trusted = existing_key(Settings(database_url="sqlite://", data_dir=str(tmp_path))).public_key
    check = verify_export(saved.read_bytes(), trusted)
    assert check.ok and check.instance_id == instance_id and check.events == events, check.problems

    # someone with database access changes what zhang decided
    tamper(
        org,
        "UPDATE audit_event SET data = :d WHERE stream = :s AND action = 'task_completed' "
        "AND element_id = 'street_review'",
        d='{"data": {"decision": "reject"}}',
        s=instance_id,
    )
    changed_seq = next(
        e["seq"]
        for e in org.history(instance_id)
        if e["element_id"] == "street_review" and e["action"] == "task_completed"
    )
    auditor.reload()
    auditor.get_by_role("button", name="核验本案卷").click()
    broken = auditor.locator("#verification", has_text="核验未通过")
    broken.wait_for()
    assert re.search(f"第 {changed_seq} 条（.*起）", broken.inner_text())
    assert "记录被改动过" in broken.inner_text()
    screenshot(auditor, "audit_case_broken_laptop")
    assert not verify_export(saved.read_bytes().replace(b"approve", b"reject", 1), trusted).ok

    phone = officials("auditor", viewport=PHONE)
    phone.goto(auditor.url)
    phone.locator("#audit-diagram[data-ready=true]").wait_for()
    screenshot(phone, "audit_case_phone")
    fits_and_is_named(phone, "case, phone")
    for page in (auditor, phone):
        assert page.script_errors == []


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_the_diagram_counts_a_step_returned_once_twice_and_marks_where_a_running_case_waits(
    server: Server,
    officials,  # noqa: ANN001
) -> None:
    deploy_the_bundle(server)
    issue = {"title": "加装电梯", "description": "3号楼居民联名申请", "households": 24}
    with server.client("wang") as wang, server.client("zhang") as zhang:
        body = {"process_key": "workspace_deliberation", "org_unit": "qiaoyi", "business_key": "YT-2026-301"}
        instance = wang.post("/process-instances", json=body).json()
        register_id = instance["tasks"][0]["id"]
        review = wang.post(f"/tasks/{register_id}/complete", json={"data": issue}).json()["next_tasks"][0]
        back = {"reason": "户数有误，请核实", "to_element": "register_issue"}
        assert zhang.post(f"/tasks/{review['id']}/return", json=back).status_code == 200
        assert wang.post(f"/tasks/{register_id}/complete", json={"data": issue}).status_code == 200

    auditor = officials("auditor")
    auditor.goto(f"{server.url}/audit/instances/{instance['id']}")
    auditor.locator("#audit-diagram[data-ready=true]").wait_for()
    badge = auditor.locator('.djs-overlays[data-container-id="register_issue"] .gf-count')
    assert badge.inner_text() == "×2" and badge.get_attribute("aria-label") == "×2"
    assert auditor.locator('.djs-overlays[data-container-id="street_review"] .gf-count').inner_text() == "×2"
    assert auditor.locator('.djs-element.gf-current[data-element-id="street_review"]').count() == 1
    assert auditor.locator(".djs-element.gf-current").count() == 1  # the running case waits there only
    assert auditor.locator('.djs-element.gf-done[data-element-id="register_issue"]').count() == 1
    fits_and_is_named(auditor, "running case, laptop")
    screenshot(auditor, "audit_case_returned_laptop")
    assert auditor.script_errors == []


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_an_auditor_asks_for_a_verification_of_everything_and_the_page_follows_it_to_the_end(
    server: Server,
    org: Engine,
    officials,  # noqa: ANN001
) -> None:
    finish_a_deliberation(server, org)
    auditor = officials("auditor")
    auditor.goto(f"{server.url}/audit")
    auditor.get_by_role("button", name="核验全部审计记录").click()
    waiting = auditor.locator("#verify-all", has_text="正在等待后台任务处理")
    waiting.wait_for()

    done = org.run_next_verification("test-worker")  # what `govflow worker` does on its thread
    assert done["ok"] is True
    # the page asks again every 2 s and shows the result once the worker has written it
    result = auditor.locator("#verify-all", has_text="核验通过")
    result.wait_for(timeout=10_000)
    assert f"共核验 {done['checked']} 条记录" in result.inner_text()
    auditor.reload()  # coming back, the page shows the last verification asked for
    auditor.locator("#verify-all", has_text="核验通过").wait_for()
    assert auditor.script_errors == []
