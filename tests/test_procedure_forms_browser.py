"""Reviewers see the warnings the procedures compute, on the form-js forms in the browser: Playwright on
Debian's chromium against `govflow serve`, with the demo org and library.

The district civil affairs bureau sees that an admission request came later than the lead time
(admission.lead_working_days); the district government sees the decision deadline
(admission.decision_working_days), the same warning, and, after it picked an outcome the reviews do not
support, why its decision came back; the bureau reviewing a committee change sees that the committee's
size is outside the usual household range. SQLite only: what the page shows does not depend on the
database, and the scenario tests walk these steps on both.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from engine import Engine
from engine.demo import DEMO_PASSWORD, load_demo
from engine.rules import today
from tests.browser import screenshot
from tests.test_access_review import OPINION, PASS, REQUEST

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture
def demo(org: Engine) -> Engine:
    load_demo(org)
    return org


def work(engine: Engine, case: str, element: str, user: str, data: dict, org_unit: str | None = None) -> str:
    """Complete the open step `element` as `user`; the id of the task completed."""
    tasks = engine.get_instance(case)["tasks"]
    task = next(t for t in tasks if t["element_id"] == element and org_unit in (None, t["candidate"]["org_unit"]))
    result = engine.complete(task["id"], engine.principal(user), data)
    assert result["instance"]["status"] != "failed", result["instance"]
    return task["id"]


def open_task(engine: Engine, case: str, element: str) -> str:
    return next(t["id"] for t in engine.get_instance(case)["tasks"] if t["element_id"] == element)


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_reviewers_see_a_late_request_the_decision_deadline_a_refused_decision_and_a_household_warning(
    demo: Engine, officials
) -> None:  # noqa: ANN001
    soon = (today() + timedelta(days=5)).isoformat()
    case = demo.start("access_review", "huangpu", by=demo.principal("dept_huangpu"))["id"]
    work(demo, case, "submit_request", "dept_huangpu", REQUEST | {"intended_start": soon})
    lead_deadline = demo.get_instance(case)["variables"]["lead_deadline"]

    civil = officials("civil_huangpu", password=DEMO_PASSWORD)
    base = civil.url.split("/inbox")[0]
    civil.goto(f"{base}/tasks/{open_task(demo, case, 'check_request_completeness')}")
    civil.locator("#task-form[data-ready=true]").wait_for()
    late = civil.locator("p", has_text="申请晚于规定的提前期")
    assert late.is_visible()
    assert f"拟实施日期 {soon} 早于 {lead_deadline}" in late.inner_text() and "30 个工作日" in late.inner_text()
    screenshot(civil, "admission_completeness_late_request")

    work(demo, case, "check_request_completeness", "civil_huangpu", {"request_complete": True})
    for element, (user, data) in PASS.items():
        work(demo, case, element, user, data)
    work(demo, case, "grassroots_opinion", "street_wuliqiao", OPINION, org_unit="wuliqiao")
    work(demo, case, "grassroots_opinion", "street_nanjing", OPINION, org_unit="nanjingdonglu")
    due = demo.get_instance(case)["variables"]["decision_due_on"]

    gov = officials("gov_huangpu", password=DEMO_PASSWORD)
    gov.goto(f"{base}/tasks/{open_task(demo, case, 'approve_list_change')}")
    gov.locator("#task-form[data-ready=true]").wait_for()
    deadline = gov.locator("p", has_text="审定期限")
    assert deadline.is_visible() and f"{due} 前" in deadline.inner_text() and "15 个工作日" in deadline.inner_text()
    assert gov.locator("p", has_text="申请晚于规定的提前期").is_visible()
    assert gov.get_by_text("合法性、必要性、合理性、经费审查均通过").is_visible()
    assert gov.locator("p", has_text="审定结论未获通过").count() == 0
    # A temporary admission the reviews do not support comes back with the reason.
    work(demo, case, "approve_list_change", "gov_huangpu", {"final_outcome": "admit_temporary", "approval_note": "x"})
    gov.goto(f"{base}/tasks/{open_task(demo, case, 'approve_list_change')}")
    gov.locator("#task-form[data-ready=true]").wait_for()
    refused = gov.locator("p", has_text="审定结论未获通过")
    assert refused.is_visible() and "不能审定为「临时准入」" in refused.inner_text()
    screenshot(gov, "admission_approval_refused")

    change = demo.start("committee_change", "wuliqiao", by=demo.principal("street_wuliqiao"))["id"]
    plan = {
        "change_type": "establish",
        "org_kind": "urban_rc",
        "new_units": [{"code": "junwang", "name": "君望社区居委会"}],
        "households": 50,
        "reasons": "新建住宅区",
    }
    work(demo, change, "draft_change_plan", "street_wuliqiao", plan)
    submitted = {"submitted_on": "2026-11-10", "submission_summary": "报区政府"}
    work(demo, change, "submit_to_district", "street_wuliqiao", submitted)
    civil.goto(f"{base}/tasks/{open_task(demo, change, 'review_proposal')}")
    civil.locator("#task-form[data-ready=true]").wait_for()
    households = civil.locator("p", has_text="户数提示")
    assert households.is_visible() and "户数 50 不在" in households.inner_text()
    for page in (civil, gov):
        assert page.script_errors == []
