"""committee_change through the REST API: the org tree and the legal-person registry after each path."""

from __future__ import annotations

from tests.procedure_desk import Desk

CONSULTED = {"surveyed": 120, "in_favour": 100, "published_on": "2026-11-01", "consultation_summary": "多数赞成"}
SUBMITTED = {"submitted_on": "2026-11-10", "submission_summary": "报区政府"}
REVIEWED = {"complete_and_compliant": True, "review_opinion": "材料齐全"}
APPROVED = {"approved": True, "decision_doc_no": "黄府〔2026〕12号", "decided_on": "2026-11-20"}
ANNOUNCED = {"announced_on": "2026-11-22", "announcement_channel": "区政府网站"}
HANDOVER = {"handed_to": "桥一社区居委会", "handed_over_on": "2026-12-01", "handover_list": "档案 12 盒，印章 1 枚"}
MERGE = {
    "change_type": "merge",
    "org_kind": "urban_rc",
    "affected_org_ids": "qiaoyi, ruinan",
    "surviving_org": "qiaoyi",
    "new_name": "桥一社区居委会",
    "households": 2400,
    "reasons": "两个居委会规模过小",
}


def registry(desk: Desk, user: str = "civil_huangpu") -> dict[str, dict]:
    items = desk.get("/registries/committee-legal-persons", user).json["items"]
    return {item["org_unit"]: item for item in items}


def units(desk: Desk) -> dict[str, dict]:
    return {u["code"]: u for u in desk.get("/org-units", "admin").json["items"]}


def test_a_merge_keeps_one_code_retires_the_other_committee_and_hands_its_tasks_on(desk: Desk) -> None:
    before = registry(desk)
    case = desk.start("street_wuliqiao", "committee_change", "wuliqiao")["id"]
    plan = MERGE
    # A first plan that names a survivor outside the merge goes back to the subdistrict office.
    desk.work("street_wuliqiao", case, "draft_change_plan", plan | {"surviving_org": "yunnan"})
    desk.work("street_wuliqiao", case, "draft_change_plan", plan)
    desk.work("rc_qiaoyi", case, "consult_affected_residents", CONSULTED, org_unit="qiaoyi")
    desk.work("rc_ruinan", case, "consult_affected_residents", CONSULTED, org_unit="ruinan")
    desk.work("street_wuliqiao", case, "submit_to_district", SUBMITTED)
    # The district returns it once for revision, then approves.
    desk.work("civil_huangpu", case, "review_proposal", {"complete_and_compliant": False, "review_opinion": "补充"})
    desk.work("street_wuliqiao", case, "draft_change_plan", plan)
    desk.work("rc_qiaoyi", case, "consult_affected_residents", CONSULTED, org_unit="qiaoyi")
    desk.work("rc_ruinan", case, "consult_affected_residents", CONSULTED, org_unit="ruinan")
    desk.work("street_wuliqiao", case, "submit_to_district", SUBMITTED)
    desk.work("civil_huangpu", case, "review_proposal", REVIEWED)
    desk.work("gov_huangpu", case, "decide_at_executive_meeting", APPROVED)
    desk.work("street_wuliqiao", case, "publish_decision", ANNOUNCED)
    desk.work("rc_qiaoyi", case, "transfer_archives_assets_seals", HANDOVER, org_unit="qiaoyi")
    desk.work("rc_ruinan", case, "transfer_archives_assets_seals", HANDOVER, org_unit="ruinan")
    elections = {"elections": [{"org_code": "qiaoyi", "director": "王桂芳"}], "transition_note": "换届选举"}
    desk.work("street_wuliqiao", case, "first_election_or_transition", elections)
    done = desk.work("civil_huangpu", case, "uscc_certificate_action", {"certificate_note": "换发证书"})
    assert done["instance"]["status"] == "completed"
    assert desk.ended_at(case) == ["end_change_effective"]

    after = registry(desk)
    assert after["qiaoyi"]["uscc"] == before["qiaoyi"]["uscc"]  # the survivor's code survives
    assert after["qiaoyi"]["status"] == "active" and after["qiaoyi"]["legal_representative"] == "王桂芳"
    assert after["qiaoyi"]["name"] == "上海市黄浦区五里桥街道桥一社区居委会"
    assert after["ruinan"]["status"] == "cancelled" and after["ruinan"]["uscc"] == before["ruinan"]["uscc"]
    tree = units(desk)
    assert tree["qiaoyi"]["name"] == "桥一社区居委会" and tree["qiaoyi"]["status"] == "active"
    assert tree["ruinan"]["status"] == "dissolved" and tree["ruinan"]["successor"] == "qiaoyi"

    # The retired committee takes no new cases, and lanes that fall to it go to its successor.
    refused = desk.post("/process-instances", "rc_ruinan", json={"process_key": "deliberation", "org_unit": "ruinan"})
    assert refused.status_code == 422 and "takes no new cases" in refused.json["detail"]
    case2 = desk.start("street_wuliqiao", "committee_change", "wuliqiao")["id"]
    desk.work(
        "street_wuliqiao",
        case2,
        "draft_change_plan",
        {
            "change_type": "rename",
            "org_kind": "urban_rc",
            "affected_org_ids": "ruinan",
            "new_name": "x",
            "households": 1200,
            "reasons": "x",
        },
    )
    assert desk.instance(case2)["variables"]["plan_problems"] == ["瑞南居委会 was already dissolved."]
    assert desk.task(case2, "draft_change_plan")  # back with the subdistrict office


def test_establishing_a_committee_adds_it_to_the_tree_with_a_new_code(desk: Desk) -> None:
    case = desk.start("street_nanjing", "committee_change", "nanjingdonglu")["id"]
    plan = {
        "change_type": "establish",
        "org_kind": "urban_rc",
        "affected_org_ids": "yunnan",
        "new_units": [{"code": "junwang", "name": "君望社区居委会"}],
        "households": 1500,
        "reasons": "新建住宅区",
    }
    desk.work("street_nanjing", case, "draft_change_plan", plan)
    desk.work("rc_yunnan", case, "consult_affected_residents", CONSULTED)
    desk.work("street_nanjing", case, "submit_to_district", SUBMITTED)
    desk.work("civil_huangpu", case, "review_proposal", REVIEWED)
    desk.work("gov_huangpu", case, "decide_at_executive_meeting", APPROVED)
    desk.work("street_nanjing", case, "publish_decision", ANNOUNCED)
    desk.work("rc_yunnan", case, "transfer_archives_assets_seals", HANDOVER)
    desk.work(
        "street_nanjing",
        case,
        "first_election_or_transition",
        {"elections": [{"org_code": "junwang", "director": "周新"}]},
    )
    desk.work("civil_huangpu", case, "uscc_certificate_action", {})
    tree = units(desk)
    assert tree["junwang"]["parent"] == "nanjingdonglu" and tree["junwang"]["status"] == "active"
    entry = registry(desk)["junwang"]
    assert entry["uscc"].startswith("54310101") and len(entry["uscc"]) == 18
    assert entry["legal_representative"] == "周新" and entry["history"][0]["action"] == "issued"
    # A subdistrict official reads only the registry of their own area.
    assert set(registry(desk, "street_wuliqiao")) == {"qiaoyi", "ruinan"}


def test_the_district_can_refuse_and_a_village_can_abandon_after_a_failed_vote(desk: Desk) -> None:
    case = desk.start("street_wuliqiao", "committee_change", "wuliqiao")["id"]
    plan = {
        "change_type": "rename",
        "org_kind": "urban_rc",
        "affected_org_ids": "ruinan",
        "new_name": "瑞南新村居委会",
        "households": 1200,
        "reasons": "更名",
    }
    desk.work("street_wuliqiao", case, "draft_change_plan", plan)
    desk.work("rc_ruinan", case, "consult_affected_residents", CONSULTED)
    desk.work("street_wuliqiao", case, "submit_to_district", SUBMITTED)
    desk.work("civil_huangpu", case, "review_proposal", REVIEWED)
    desk.work("gov_huangpu", case, "decide_at_executive_meeting", APPROVED | {"approved": False})
    assert desk.ended_at(case) == ["end_rejected"]
    assert units(desk)["ruinan"]["name"] == "瑞南居委会"

    village = desk.start("town_zhuanghang", "committee_change", "zhuanghang")["id"]
    plan = {
        "change_type": "rename",
        "org_kind": "village_vc",
        "affected_org_ids": "xinye",
        "new_name": "新叶新村村委会",
        "households": 400,
        "reasons": "更名",
    }
    desk.work("town_zhuanghang", village, "draft_change_plan", plan)
    desk.work("vc_xinye", village, "consult_affected_residents", CONSULTED)
    desk.work(
        "town_zhuanghang", village, "asset_audit", {"collective_assets_yuan": 1200000, "asset_disposal_plan": "不变"}
    )
    vote = {
        "eligible": 300,
        "present": 150,
        "eligible_households": 90,
        "present_households": 59,
        "yes": 150,
        "meeting_date": "2026-11-15",
    }
    desk.work("assembly_xinye", village, "villagers_assembly_vote", vote)  # half the villagers: no quorum
    assert desk.instance(village)["variables"]["village_quorum"] is False
    desk.work("town_zhuanghang", village, "decide_after_failed_vote", {"after_vote": "abandon"})
    assert desk.ended_at(village) == ["end_abandoned"]
    assert registry(desk, "civil_shanghai")["xinye"]["name"] == "上海市奉贤区庄行镇新叶村村委会"
