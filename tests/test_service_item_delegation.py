"""service_item_delegation through the REST API: the centre's intake, the catalogue's routing, the benefit registry."""

from __future__ import annotations

from datetime import date

from engine.rules import add_months, today
from tests.procedure_desk import Desk

APPLICANT = {"channel": "window", "applicant_name": "张阿婆", "applicant_id_no": "310101195001011234"}
DELIVERED = {"delivery_channel": "electronic", "delivered_on": "2026-12-20"}
RATED = {"rating": "very_satisfied", "rating_comment": "一次办成"}


def benefits(desk: Desk, case: str, user: str = "civil_huangpu") -> list[dict]:
    return desk.get(f"/registries/benefits?instance_id={case}", user).json["items"]


def apply(desk: Desk, item: str, committee: str, documents: list[str]) -> str:
    case = desk.start("center_wuliqiao", "service_item_delegation", "wuliqiao")["id"]
    data = APPLICANT | {"item_code": item, "applicant_committee": committee, "submitted_documents": documents}
    desk.work("center_wuliqiao", case, "receive_application", data)
    return case


def test_an_elderly_care_subsidy_after_a_one_time_notice_and_a_care_assessment_is_granted_and_registered(
    demo_desk: Desk,
) -> None:
    desk = demo_desk
    case = apply(desk, "elderly_care_subsidy", "qiaoyi", [])
    shown = desk.instance(case)["variables"]
    # Identity, hukou, the assessment and the dibao status are pulled; only the form is asked for, once.
    assert shown["missing"] == ["养老服务补贴申请表"]
    assert {d["code"] for d in shown["shared"]["pulled"]} == {
        "identity_card",
        "hukou",
        "care_assessment",
        "economic_status",
    }
    desk.work("center_wuliqiao", case, "one_time_notice", {"notice_text": "请补交申请表", "notified_on": "2026-12-02"})
    desk.work(
        "center_wuliqiao",
        case,
        "supply_documents",
        {"submitted_documents": ["application_form"], "supplied_on": "2026-12-03"},
    )
    accept = {"receipt_no": "WLQ-001", "age": 78, "hukou": "shanghai", "economic_status": "dibao", "care_grade": 0}
    desk.work("center_wuliqiao", case, "accept_application", accept)
    # No valid assessment yet: the assessment agency assesses (late: a reminder), then the subdistrict decides.
    assessment = desk.task(case, "request_care_assessment")
    assert assessment["candidate"] == {"role": "assessment_agency", "org_unit": "shanghai"}
    desk.fire(case, "assessment_due")
    desk.work(
        "assess_shanghai", case, "request_care_assessment", {"care_grade": 3, "assessment_date": today().isoformat()}
    )
    assert desk.instance(case)["variables"]["eligible"] is True
    decide = desk.task(case, "decide")
    assert decide["candidate"] == {"role": "subdistrict_office", "org_unit": "wuliqiao"}
    decision = {"decision": "approve", "decision_reason": "符合条件", "decision_doc_no": "五里桥民〔2026〕8号"}
    desk.work("street_wuliqiao", case, "decide", decision)
    desk.work("center_wuliqiao", case, "deliver_decision", DELIVERED)
    desk.work("center_wuliqiao", case, "collect_rating", RATED)
    assert desk.ended_at(case) == ["end_assessment_overdue", "end_granted"]

    [benefit] = benefits(desk, case)
    assert (benefit["item_code"], benefit["org_unit"], benefit["decided_level"]) == (
        "elderly_care_subsidy",
        "qiaoyi",
        "subdistrict",
    )
    assert benefit["subsidy_share"] == "1" and benefit["monthly_amount"] is None  # a dibao household: the whole package
    assert benefit["start_month"] == add_months(today().replace(day=1), 1).strftime("%Y-%m")
    assert benefit["review_due_on"] == add_months(today(), 24).isoformat()  # the assessment's two years
    assert benefits(desk, case, "street_nanjing") == []  # another subdistrict does not read Qiaoyi's residents


def test_a_severe_disability_subsidy_verified_at_home_cannot_be_approved_unlawfully_and_is_rejected(
    demo_desk: Desk,
) -> None:
    desk = demo_desk
    # Filed at Wuliqiao's centre for a resident of Yunnan (南京东路街道): that subdistrict decides (全市通办).
    case = apply(desk, "severe_disability_unemployed_subsidy", "yunnan", ["application_form", "employment_statement"])
    desk.work(
        "center_wuliqiao",
        case,
        "accept_application",
        {"receipt_no": "WLQ-002", "age": 40, "economic_status": "none", "disability_grade": 2},
    )
    verify = desk.task(case, "verify_at_home")
    assert verify["candidate"] == {"role": "residents_committee", "org_unit": "yunnan"}
    desk.work(
        "rc_yunnan",
        case,
        "verify_at_home",
        {"employed": True, "verification_note": "在超市就业", "verified_on": "2026-12-05"},
    )
    assert desk.task(case, "decide")["candidate"] == {"role": "subdistrict_office", "org_unit": "nanjingdonglu"}
    desk.fire(case, "decision_due")  # past the working-day limit: the district supervises
    desk.work(
        "civil_huangpu",
        case,
        "supervise_overdue_decision",
        {"supervision_note": "限期办结", "supervised_on": "2026-12-28"},
    )
    approve = {"decision": "approve", "decision_reason": "同意", "decision_doc_no": "南东民〔2026〕3号"}
    desk.work("street_nanjing", case, "decide", approve)  # employed: approving is refused, the task comes back
    assert desk.instance(case)["variables"]["decision_problems"] == ["不符合条件，不能准予：已就业"]
    desk.work("street_nanjing", case, "decide", approve | {"decision": "reject", "decision_reason": "已就业"})
    desk.work("center_wuliqiao", case, "deliver_decision", DELIVERED)
    desk.work("center_wuliqiao", case, "collect_rating", RATED | {"rating": "basic"})
    assert desk.ended_at(case) == ["end_supervised", "end_rejected"]
    assert benefits(desk, case, "civil_shanghai") == []


def test_entrusted_items_go_to_the_district_or_the_city_and_come_back_through_the_centre(demo_desk: Desk) -> None:
    desk = demo_desk
    case = apply(desk, "special_hardship_support", "ruinan", ["application_form", "income_statement"])
    forward = desk.task(case, "entrusted_intake_forward")
    assert forward["candidate"] == {"role": "acceptance_center", "org_unit": "wuliqiao"}
    desk.fire(case, "forward_due")
    desk.work(
        "center_wuliqiao",
        case,
        "entrusted_intake_forward",
        {"forwarded_on": "2026-12-03", "forward_note": "转区民政局"},
    )
    assert desk.task(case, "decide_at_district")["candidate"] == {
        "role": "district_civil_affairs",
        "org_unit": "huangpu",
    }
    decision = {
        "decision": "approve",
        "decision_reason": "符合特困供养条件",
        "decision_doc_no": "黄民〔2026〕21号",
        "monthly_amount": 1900,
    }
    desk.work("civil_huangpu", case, "decide_at_district", decision)
    deliver = desk.task(case, "deliver_decision")  # back through the receiving centre
    assert deliver["candidate"] == {"role": "acceptance_center", "org_unit": "wuliqiao"}
    desk.work("center_wuliqiao", case, "deliver_decision", DELIVERED)
    desk.work("center_wuliqiao", case, "collect_rating", RATED)
    assert desk.ended_at(case) == ["end_forward_overdue", "end_granted"]
    [benefit] = benefits(desk, case)
    assert (benefit["decided_level"], benefit["monthly_amount"]) == ("district", 1900)

    city = apply(desk, "elderly_comprehensive_allowance", "qiaoyi", ["bank_account"])
    desk.work(
        "center_wuliqiao",
        city,
        "entrusted_intake_forward",
        {"forwarded_on": "2026-12-03", "forward_note": "转市民政局"},
    )
    assert desk.task(city, "decide_at_city")["candidate"] == {"role": "municipal_civil_affairs", "org_unit": "shanghai"}
    desk.work(
        "civil_shanghai",
        city,
        "decide_at_city",
        decision | {"decision_doc_no": "沪民〔2026〕5号", "monthly_amount": 150},
    )
    desk.work("center_wuliqiao", city, "deliver_decision", DELIVERED)
    desk.work("center_wuliqiao", city, "collect_rating", RATED)
    assert [b["decided_level"] for b in benefits(desk, city)] == ["municipal"]


def test_an_application_whose_missing_documents_are_not_supplied_in_time_is_closed(demo_desk: Desk) -> None:
    desk = demo_desk
    case = apply(desk, "severe_disability_unemployed_subsidy", "qiaoyi", ["application_form"])
    assert desk.instance(case)["variables"]["missing"] == ["无业情况承诺书"]
    desk.work(
        "center_wuliqiao", case, "one_time_notice", {"notice_text": "请补交无业情况承诺书", "notified_on": "2026-12-02"}
    )
    [job] = [
        j
        for j in desk.get(f"/process-instances/{case}/jobs", "admin").json["items"]
        if j["element_id"] == "supply_deadline"
    ]
    assert date.fromisoformat(job["due_at"][:10]) > today()  # ten working days ahead, by the calendar
    desk.fire(case, "supply_deadline")
    assert desk.ended_at(case) == ["end_closed_incomplete"]
    assert desk.instance(case)["tasks"] == [] and benefits(desk, case) == []


def test_with_public_notice_switched_on_an_upheld_objection_blocks_the_approval(desk: Desk) -> None:
    switched = desk.call(
        "PUT",
        "/rules/service.public_notice_required",
        "admin",
        json={"value": True, "valid_from": today().isoformat()},
    )
    assert switched.status_code == 200, switched.json
    case = apply(desk, "elderly_care_subsidy", "qiaoyi", ["application_form"])
    accept = {
        "receipt_no": "WLQ-009",
        "age": 82,
        "hukou": "shanghai",
        "economic_status": "low_income",
        "care_grade": 4,
        "assessment_date": today().isoformat(),
    }
    desk.work("center_wuliqiao", case, "accept_application", accept)
    desk.work("street_wuliqiao", case, "publish_notice", {"published_on": "2026-12-04", "notice_text": "公示"})
    desk.fire(case, "notice_period")
    desk.work(
        "street_wuliqiao",
        case,
        "handle_objections",
        {"objections_received": 1, "objection_upheld": True, "objection_note": "隐瞒收入"},
    )
    approve = {"decision": "approve", "decision_reason": "同意", "decision_doc_no": "五里桥民〔2026〕9号"}
    desk.work("street_wuliqiao", case, "decide", approve)
    assert desk.instance(case)["variables"]["decision_problems"] == ["公示期内异议成立，不能准予"]
    desk.work("street_wuliqiao", case, "decide", approve | {"decision": "reject", "decision_reason": "公示异议成立"})
    desk.work("center_wuliqiao", case, "deliver_decision", DELIVERED)
    desk.work("center_wuliqiao", case, "collect_rating", RATED)
    assert desk.ended_at(case) == ["end_rejected"] and benefits(desk, case) == []
