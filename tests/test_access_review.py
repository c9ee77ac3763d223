"""access_review through the REST API, and the admission list enforced on deployment and start."""

from __future__ import annotations

from datetime import timedelta

from engine.rules import today
from tests.conftest import DATA, problem_of
from tests.procedure_desk import Desk

LEDGER = (DATA / "procedures" / "garbage_ledger.bpmn").read_bytes()
REQUEST = {
    "matter_code": "garbage_sorting_ledger",
    "item_name": "垃圾分类台账填报",
    "requesting_dept": "区绿化市容局",
    "level": "district",
    "legal_basis": "上海市生活垃圾管理条例第十条",
    "task_content": "每月填报垃圾分类台账",
    "target": "both",
    "frequency": "每月",
    "est_hours_per_rc_month": 4,
    "funding_amount": 20000,
    "funding_source": "区绿化市容局专项经费",
    "intended_start": "2027-06-01",
    "emergency": False,
}
PASS = {
    "legality_review": ("justice_huangpu", {"legality_result": "pass", "legality_opinion": "有依据"}),
    "necessity_review": ("civil_huangpu", {"necessity_result": "pass", "necessity_opinion": "需居委会协助"}),
    "reasonableness_review": (
        "civil_huangpu",
        {"reasonableness_result": "pass", "reasonableness_opinion": "工作量适中"},
    ),
    "funding_review": ("finance_huangpu", {"funding_result": "pass", "funding_opinion": "经费落实"}),
}
OPINION = {"grassroots_view": "agree", "grassroots_note": "同意"}


def deploy_ledger(desk: Desk):  # noqa: ANN201
    return desk.post(
        "/deployments", "designer", data={"files": [(__import__("io").BytesIO(LEDGER), "garbage_ledger.bpmn")]}
    )


def review(desk: Desk, case: str, **results: dict) -> None:
    for element, (user, data) in PASS.items():
        desk.work(user, case, element, results.get(element, data))
    desk.work("street_wuliqiao", case, "grassroots_opinion", OPINION, org_unit="wuliqiao")
    desk.work("street_nanjing", case, "grassroots_opinion", OPINION, org_unit="nanjingdonglu")


def test_a_matter_is_refused_until_admitted_then_monitored_and_taken_off_the_list(desk: Desk) -> None:
    refused = deploy_ledger(desk)
    assert refused.status_code == 422
    assert "garbage_sorting_ledger" in problem_of(refused)["errors"][0]["message"]

    case = desk.start("dept_huangpu", "access_review", "huangpu")["id"]
    desk.work("dept_huangpu", case, "submit_request", REQUEST | {"funding_amount": 0})
    desk.work("civil_huangpu", case, "check_request_completeness", {"request_complete": True})
    # Funding missing: returned for revision (费随事转).
    review(desk, case, funding_review={"funding_result": "revise", "funding_opinion": "未落实经费"})
    assert desk.instance(case)["variables"]["final_outcome"] == "return_for_revision"
    desk.work(
        "gov_huangpu", case, "approve_list_change", {"final_outcome": "return_for_revision", "approval_note": "退回"}
    )
    desk.work("dept_huangpu", case, "revise_request", REQUEST)
    desk.work("civil_huangpu", case, "check_request_completeness", {"request_complete": True})
    review(desk, case)
    desk.work("gov_huangpu", case, "approve_list_change", {"final_outcome": "admit", "approval_note": "同意准入"})
    desk.work(
        "dept_huangpu",
        case,
        "notify_rcs_and_fund_transfer",
        {"funds_transferred": True, "notice_to_committees": "通知"},
    )

    listed = desk.get("/registries/assist-matters?scope=huangpu", "rc_qiaoyi").json
    assert [m["code"] for m in listed["matters"]] == ["garbage_sorting_ledger"]
    assert listed["matters"][0]["next_review_on"] and listed["version"] == 1

    assert deploy_ledger(desk).status_code == 201
    assert desk.start("rc_qiaoyi", "garbage_ledger", "qiaoyi")["status"] == "running"
    # Fengxian's committees are not bound by Huangpu's list: refused there, with the reason.
    elsewhere = desk.post("/process-instances", "vc_xinye", json={"process_key": "garbage_ledger", "org_unit": "xinye"})
    assert elsewhere.status_code == 422 and "no list of assisted matters" in problem_of(elsewhere)["detail"]

    # Four quarterly reports (one finds an unlisted task), then the yearly re-review takes it off the list.
    for quarter in range(4):
        desk.fire(case, "monitoring_period")
        found = quarter == 1
        report = {"unlisted_found": found, "unlisted_tasks": "街道要求填报清单外报表" if found else "", "hours": 10}
        desk.work("rc_qiaoyi", case, "monitoring_point_report", report)
        if found:
            desk.work(
                "gov_huangpu", case, "correct_and_criticise", {"criticism_issued": True, "correction_note": "已纠正"}
            )
    reports = desk.get("/registries/monitoring-reports?matter_code=garbage_sorting_ledger", "civil_huangpu").json[
        "items"
    ]
    assert [r["period"] for r in reports] == ["Q1", "Q2", "Q3", "Q4"] and reports[1]["unlisted_tasks"]
    desk.work(
        "civil_huangpu", case, "periodic_re_review", {"re_review_result": "exit", "re_review_reason": "任务已结束"}
    )
    assert desk.ended_at(case) == ["end_exited"]
    after = desk.get("/registries/assist-matters?scope=huangpu", "civil_huangpu").json
    assert after["matters"] == [] and after["latest_version"] == 2
    assert desk.get("/registries/assist-matters?scope=huangpu&version=1", "civil_huangpu").json["matters"]
    gone = desk.post("/process-instances", "rc_qiaoyi", json={"process_key": "garbage_ledger", "org_unit": "qiaoyi"})
    assert gone.status_code == 422 and "taken off the list in version 2" in problem_of(gone)["detail"]


def test_a_request_without_legal_basis_is_rejected_and_an_emergency_admitted_for_a_while(desk: Desk) -> None:
    case = desk.start("dept_huangpu", "access_review", "huangpu")["id"]
    desk.work("dept_huangpu", case, "submit_request", REQUEST)
    desk.work("civil_huangpu", case, "check_request_completeness", {"request_complete": True})
    desk.fire(case, "legality_review_due")  # a review past its due date is urged
    review(desk, case, legality_review={"legality_result": "fail", "legality_opinion": "无法律依据"})
    # The district government cannot admit what failed the legality review: the task comes back with why.
    desk.work("gov_huangpu", case, "approve_list_change", {"final_outcome": "admit", "approval_note": "同意"})
    assert "审查汇总结论为「不予准入」" in desk.instance(case)["variables"]["approval_problem_text"]
    desk.work("gov_huangpu", case, "approve_list_change", {"final_outcome": "reject", "approval_note": "不予准入"})
    desk.work("civil_huangpu", case, "notify_dept", {"notice_text": "不予准入，由部门自行办理"})
    assert sorted(desk.ended_at(case)) == ["end_rejected", "end_review_urged"]

    urgent = desk.start("dept_huangpu", "access_review", "huangpu")["id"]
    desk.work("dept_huangpu", urgent, "submit_request", REQUEST | {"emergency": True})
    desk.work("civil_huangpu", urgent, "check_request_completeness", {"request_complete": True})
    desk.work(
        "gov_huangpu", urgent, "approve_list_change", {"final_outcome": "admit_temporary", "approval_note": "应急"}
    )
    desk.work(
        "dept_huangpu", urgent, "notify_rcs_and_fund_transfer", {"funds_transferred": True, "notice_to_committees": "x"}
    )
    [matter] = desk.get("/registries/assist-matters?scope=huangpu", "civil_huangpu").json["matters"]
    assert matter["status"] == "temporary" and matter["expires_on"]
    desk.fire(urgent, "temporary_period")
    assert desk.ended_at(urgent) == ["end_temporary_expired"]
    assert desk.get("/registries/assist-matters?scope=huangpu", "civil_huangpu").json["matters"] == []


def matters(desk: Desk, code: str, version: int | None = None) -> list[dict]:
    """The district's list of assisted matters (a version of it), as a committee reads it: one matter's rows."""
    query = "/registries/assist-matters?scope=huangpu" + (f"&version={version}" if version else "")
    response = desk.get(query, "rc_qiaoyi")
    if response.status_code == 404:  # the district has published no list yet
        assert "no list of assisted matters for huangpu" in problem_of(response)["detail"]
        return []
    return [m for m in response.json["matters"] if m["code"] == code]


def test_a_request_returned_twice_is_rejected_in_the_third_round_whatever_the_district_picks(
    demo_desk: Desk,
) -> None:
    desk = demo_desk
    request = REQUEST | {"matter_code": "street_lamp_survey", "item_name": "路灯巡查", "funding_amount": 0}
    case = desk.start("dept_huangpu", "access_review", "huangpu")["id"]
    desk.work("dept_huangpu", case, "submit_request", request)
    unfunded = {"funding_review": {"funding_result": "revise", "funding_opinion": "未落实经费"}}
    for round_no in (1, 2):
        desk.work("civil_huangpu", case, "check_request_completeness", {"request_complete": True})
        review(desk, case, **unfunded)
        assert desk.instance(case)["variables"]["combined_outcome"] == "return_for_revision"
        if round_no == 1:  # admitting a request the reviews return is refused, the task comes back with why
            desk.work("gov_huangpu", case, "approve_list_change", {"final_outcome": "admit", "approval_note": "同意"})
            shown = desk.instance(case)["variables"]
            assert shown["approval_problems"][0].startswith("审查汇总结论为「退回修改」，不能审定为「准入」")
            assert desk.task(case, "approve_list_change")["candidate"] == {
                "role": "district_government",
                "org_unit": "huangpu",
            }
        back = {"final_outcome": "return_for_revision", "approval_note": "补充经费来源"}
        desk.work("gov_huangpu", case, "approve_list_change", back)
        assert desk.instance(case)["variables"]["revisions"] == round_no
        desk.work("dept_huangpu", case, "revise_request", request)

    # The third round: still unfunded after two revisions, so the reviews reject it.
    desk.work("civil_huangpu", case, "check_request_completeness", {"request_complete": True})
    review(desk, case, **unfunded)
    variables = desk.instance(case)["variables"]
    assert variables["combined_outcome"] == "reject" and "已退回修改 2 次" in variables["decision_reason"]
    third = {"final_outcome": "return_for_revision", "approval_note": "再补充一次"}
    desk.work("gov_huangpu", case, "approve_list_change", third)
    assert "达到上限 2 次" in desk.instance(case)["variables"]["approval_problem_text"]
    assert desk.instance(case)["variables"]["revisions"] == 2  # the refused return was not counted
    desk.work("gov_huangpu", case, "approve_list_change", {"final_outcome": "reject", "approval_note": "不予准入"})
    desk.work("civil_huangpu", case, "notify_dept", {"notice_text": "不予准入，由部门自行办理"})
    assert desk.ended_at(case) == ["end_rejected"]
    assert matters(desk, "street_lamp_survey") == []  # nothing was ever put on the list


def test_an_incomplete_late_request_is_revised_admitted_then_modified_and_kept_at_its_re_reviews(
    demo_desk: Desk,
) -> None:
    desk = demo_desk
    soon = (today() + timedelta(days=5)).isoformat()  # well inside the 30 working days' lead time
    request = REQUEST | {"matter_code": "elder_visit_ledger", "item_name": "高龄老人走访台账", "intended_start": soon}
    case = desk.start("dept_huangpu", "access_review", "huangpu")["id"]
    desk.work("dept_huangpu", case, "submit_request", request | {"legal_basis": "待补充"})
    check = desk.get(f"/tasks/{desk.task(case, 'check_request_completeness')['id']}", "civil_huangpu").json
    assert check["data"]["late_request"] is True and check["data"]["lead_working_days"] == 30
    assert check["data"]["intended_start"] == soon and check["data"]["lead_deadline"] > soon
    assert "申请晚于规定的提前期" in str(check["form"]["schema"])
    # Incomplete: back to the department (一次性告知), which revises it; then complete.
    desk.work("civil_huangpu", case, "check_request_completeness", {"request_complete": False, "missing_note": "依据"})
    desk.work("dept_huangpu", case, "revise_request", request)
    assert desk.instance(case)["variables"]["revisions"] == 0  # a completeness return is not a review round
    desk.work("civil_huangpu", case, "check_request_completeness", {"request_complete": True})
    review(desk, case)
    approval = desk.get(f"/tasks/{desk.task(case, 'approve_list_change')['id']}", "gov_huangpu").json
    counted = desk.get(f"/calendar/working-days?start={today().isoformat()}&days=15", "civil_huangpu").json
    assert approval["data"]["decision_working_days"] == 15 and approval["data"]["decision_due_on"] == counted["due"]
    assert approval["data"]["late_request"] is True and approval["data"]["final_outcome"] == "admit"
    desk.work("gov_huangpu", case, "approve_list_change", {"final_outcome": "admit", "approval_note": "同意"})
    funded = {"funds_transferred": True, "notice_to_committees": "通知"}
    desk.work("dept_huangpu", case, "notify_rcs_and_fund_transfer", funded)
    [admitted] = matters(desk, "elder_visit_ledger")
    assert admitted["status"] == "admitted" and admitted["funding_amount"] == 20000

    def a_year_of_reports() -> None:
        for _ in range(4):
            desk.fire(case, "monitoring_period")
            report = {"unlisted_found": False, "unlisted_tasks": "", "hours": 4}
            desk.work("rc_qiaoyi", case, "monitoring_point_report", report)

    a_year_of_reports()
    modify = {"re_review_result": "modify", "new_funding_amount": 30000, "re_review_reason": "工作量增加"}
    desk.work("civil_huangpu", case, "periodic_re_review", modify)
    [modified] = matters(desk, "elder_visit_ledger")
    assert modified["funding_amount"] == 30000 and modified["since_version"] > admitted["since_version"]
    assert matters(desk, "elder_visit_ledger", admitted["since_version"])[0]["funding_amount"] == 20000
    a_year_of_reports()
    keep = {"re_review_result": "keep", "re_review_reason": "继续需要"}
    desk.work("civil_huangpu", case, "periodic_re_review", keep)
    [kept] = matters(desk, "elder_visit_ledger")
    assert kept["funding_amount"] == 30000 and kept["since_version"] > modified["since_version"]
    jobs = desk.get(f"/process-instances/{case}/jobs", "admin").json["items"]
    assert desk.instance(case)["status"] == "running" and [j["element_id"] for j in jobs] == ["monitoring_period"]
