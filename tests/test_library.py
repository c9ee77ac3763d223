"""The shipped process library: `govflow init --demo` deploys the four procedures and the demo runs each."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from engine import Engine
from engine.cli import main
from engine.config import Settings
from engine.demo import DEMO_PASSWORD, USERS, load_demo
from tests.procedure_desk import Desk

PROCEDURES = ["access_review", "committee_change", "deliberation", "service_item_delegation"]


def test_loading_the_demo_twice_deploys_nothing_new_and_every_login_works(engine: Engine) -> None:
    first = load_demo(engine)
    assert sorted(p["key"] for p in first["processes"]) == PROCEDURES
    again = load_demo(engine)  # make run twice: nothing new
    assert all(p["unchanged"] for p in again["processes"])
    for username, _name, role, org_unit in USERS:
        person = engine.authenticate(username, DEMO_PASSWORD)
        assert person is not None and person.holds(role, org_unit)
    assert engine.authenticate("rc_qiaoyi", "wrong-password") is None


@pytest.mark.slow
def test_govflow_init_demo_deploys_the_four_procedures_and_the_demo_runs_each_to_its_end(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'govflow.db'}"
    result = CliRunner().invoke(
        main, ["--json", "init", "--demo"], env={"GOVFLOW_DATABASE_URL": url, "GOVFLOW_PASSWORD_PROFILE": "fast"}
    )
    assert result.exit_code == 0, result.output
    shown = json.loads(result.output)
    assert sorted(p["key"] for p in shown["demo"]["processes"]) == PROCEDURES

    from api import create_app

    engine = Engine(Settings(database_url=url, password_profile="fast"))
    try:
        desk = Desk(create_app({"GOVFLOW_ENGINE": engine, "TESTING": True}))
        deliberation = desk.start("rc_qiaoyi", "deliberation", "qiaoyi")["id"]
        desk.work("rc_qiaoyi", deliberation, "register_issue", {"title": "议题"})
        desk.work(
            "party_qiaoyi", deliberation, "prior_deliberation", {"category": "rejected", "solicitation_summary": "x"}
        )
        desk.work(
            "rc_qiaoyi", deliberation, "notify_proposer_with_reasons", {"reasons": "x", "notice_channel": "written"}
        )

        service = desk.start("center_wuliqiao", "service_item_delegation", "wuliqiao")["id"]
        application = {
            "item_code": "marriage_record_certificate",
            "channel": "window",
            "applicant_name": "李明",
            "applicant_id_no": "310101199001011234",
            "applicant_committee": "qiaoyi",
        }
        desk.work("center_wuliqiao", service, "receive_application", application)
        desk.work(
            "center_wuliqiao", service, "one_time_notice", {"notice_text": "请补交申请表", "notified_on": "2026-12-02"}
        )
        desk.fire(service, "supply_deadline")

        change = desk.start("street_wuliqiao", "committee_change", "wuliqiao")["id"]
        plan = {
            "change_type": "rename",
            "org_kind": "urban_rc",
            "affected_org_ids": "ruinan",
            "new_name": "瑞南新村居委会",
            "households": 1200,
            "reasons": "更名",
        }
        desk.work("street_wuliqiao", change, "draft_change_plan", plan)
        desk.work(
            "rc_ruinan",
            change,
            "consult_affected_residents",
            {"surveyed": 10, "in_favour": 9, "published_on": "2026-12-01", "consultation_summary": "同意"},
        )
        desk.work(
            "street_wuliqiao",
            change,
            "submit_to_district",
            {"submitted_on": "2026-12-02", "submission_summary": "报区"},
        )
        desk.work(
            "civil_huangpu", change, "review_proposal", {"complete_and_compliant": True, "review_opinion": "齐全"}
        )
        desk.work(
            "gov_huangpu",
            change,
            "decide_at_executive_meeting",
            {"approved": False, "decision_doc_no": "黄府〔2026〕1号", "decided_on": "2026-12-03"},
        )

        review = desk.start("dept_huangpu", "access_review", "huangpu")["id"]
        request = {
            "matter_code": "demo_ledger",
            "item_name": "台账",
            "requesting_dept": "区职能部门",
            "level": "district",
            "legal_basis": "某条例",
            "task_content": "填报",
            "target": "both",
            "frequency": "每月",
            "est_hours_per_rc_month": 1,
            "funding_amount": 1000,
            "funding_source": "专项",
            "intended_start": "2027-06-01",
            "emergency": True,
        }
        desk.work("dept_huangpu", review, "submit_request", request)
        desk.work("civil_huangpu", review, "check_request_completeness", {"request_complete": True})
        desk.work(
            "gov_huangpu", review, "approve_list_change", {"final_outcome": "admit_temporary", "approval_note": "应急"}
        )
        desk.work(
            "dept_huangpu",
            review,
            "notify_rcs_and_fund_transfer",
            {"funds_transferred": True, "notice_to_committees": "x"},
        )
        desk.fire(review, "temporary_period")

        ends = {case: desk.ended_at(case) for case in (deliberation, service, change, review)}
        assert ends == {
            deliberation: ["end_rejected"],
            service: ["end_closed_incomplete"],
            change: ["end_rejected"],
            review: ["end_temporary_expired"],
        }
        assert all(desk.instance(case)["status"] == "completed" for case in ends)
    finally:
        engine.close()
