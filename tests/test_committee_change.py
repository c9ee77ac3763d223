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


def approve_and_carry_out(
    desk: Desk, case: str, street: str, handovers: dict[str, str], elections: list, district: str = "huangpu"
) -> dict:
    """From the submission to the district to the change taking effect; the last completion's answer."""
    desk.work(street, case, "submit_to_district", SUBMITTED)
    desk.work(f"civil_{district}", case, "review_proposal", REVIEWED)
    desk.work(f"gov_{district}", case, "decide_at_executive_meeting", APPROVED)
    desk.work(street, case, "publish_decision", ANNOUNCED)
    for unit, official in handovers.items():
        desk.work(official, case, "transfer_archives_assets_seals", HANDOVER, org_unit=unit)
    desk.work(street, case, "first_election_or_transition", {"elections": elections, "transition_note": "过渡"})
    return desk.work(f"civil_{district}", case, "uscc_certificate_action", {"certificate_note": "办理证书"})


def test_a_village_revises_its_plan_after_a_failed_vote_and_the_boundary_change_takes_effect(desk: Desk) -> None:
    before = registry(desk, "civil_shanghai")["xinye"]
    case = desk.start("town_zhuanghang", "committee_change", "zhuanghang")["id"]
    plan = {
        "change_type": "boundary_adjust",
        "org_kind": "village_vc",
        "affected_org_ids": "xinye",
        "households": 400,
        "reasons": "并入邻村两个村民小组",
    }
    desk.work("town_zhuanghang", case, "draft_change_plan", plan)
    assert desk.instance(case)["variables"]["households_warning"].startswith("户数 400 不在 1000–3000 户")
    desk.work("vc_xinye", case, "consult_affected_residents", CONSULTED)
    audit = {"collective_assets_yuan": 1200000, "asset_disposal_plan": "按人口折股量化"}
    desk.work("town_zhuanghang", case, "asset_audit", audit)
    vote = desk.task(case, "villagers_assembly_vote")
    assert vote["candidate"] == {"role": "villagers_assembly", "org_unit": "xinye"}  # the 村民会议 lane
    failed = {"eligible": 300, "present": 200, "eligible_households": 90, "present_households": 70, "yes": 100}
    desk.work("assembly_xinye", case, "villagers_assembly_vote", failed | {"meeting_date": "2026-11-15"})
    assert desk.instance(case)["variables"]["village_passed"] is False  # exactly half of those present
    desk.work("town_zhuanghang", case, "decide_after_failed_vote", {"after_vote": "revise", "after_vote_reason": "改"})

    # The revised plan goes round again: consultation, audit, and a vote with a quorum of households.
    desk.work("town_zhuanghang", case, "draft_change_plan", plan | {"reasons": "并入邻村一个村民小组"})
    desk.work("vc_xinye", case, "consult_affected_residents", CONSULTED)
    desk.work("town_zhuanghang", case, "asset_audit", audit)
    passed = {"eligible": 300, "present": 140, "eligible_households": 90, "present_households": 60, "yes": 71}
    desk.work("assembly_xinye", case, "villagers_assembly_vote", passed | {"meeting_date": "2026-12-01"})
    variables = desk.instance(case)["variables"]
    assert variables["village_quorum"] is True and variables["village_passed"] is True  # 2/3 of the households
    assert {r["key"] for r in variables["village_rules"]} >= {"deliberation.villagers_assembly.quorum_households"}
    approval = {"asset_approval_doc_no": "庄府〔2026〕8号", "asset_approved_on": "2026-12-03"}
    desk.work("town_zhuanghang", case, "township_approve_asset_plan", approval)
    done = approve_and_carry_out(desk, case, "town_zhuanghang", {"xinye": "vc_xinye"}, [], district="fengxian")
    assert done["instance"]["status"] == "completed"
    assert desk.ended_at(case) == ["end_change_effective"]

    after = registry(desk, "civil_shanghai")["xinye"]
    assert after["uscc"] == before["uscc"] and after["status"] == "active"  # a boundary change keeps the code
    assert [h["action"] for h in after["history"]][-1] == "changed" and "boundary_adjust" in after["history"][-1][
        "detail"
    ]
    assert units(desk)["xinye"]["status"] == "active"


def test_a_dissolved_committee_hands_its_open_cases_on_to_its_successor(desk: Desk) -> None:
    # A deliberation at 瑞南 is under way when the committee is dissolved into 桥一.
    running = desk.start("rc_ruinan", "deliberation", "ruinan")["id"]
    before = registry(desk)
    case = desk.start("street_wuliqiao", "committee_change", "wuliqiao")["id"]
    plan = {
        "change_type": "dissolve",
        "org_kind": "urban_rc",
        "affected_org_ids": "ruinan",
        "successor_org": "qiaoyi",
        "households": 300,
        "reasons": "旧区改造后居民迁出",
    }
    desk.work("street_wuliqiao", case, "draft_change_plan", plan)
    desk.work("rc_ruinan", case, "consult_affected_residents", CONSULTED)
    done = approve_and_carry_out(desk, case, "street_wuliqiao", {"ruinan": "rc_ruinan"}, [])
    assert done["instance"]["status"] == "completed" and desk.ended_at(case) == ["end_change_effective"]

    after = registry(desk)
    assert after["ruinan"]["status"] == "cancelled" and after["ruinan"]["uscc"] == before["ruinan"]["uscc"]
    assert "由 qiaoyi 承继" in after["ruinan"]["history"][-1]["detail"]
    assert after["qiaoyi"]["history"][-1]["action"] == "changed"  # the successor's certificate changes
    tree = units(desk)
    assert (tree["ruinan"]["status"], tree["ruinan"]["successor"]) == ("dissolved", "qiaoyi")

    # The step already waiting at 瑞南 is finished there; the next one falls to 桥一, which took over.
    desk.work("rc_ruinan", running, "register_issue", {"title": "拆迁后公共空间使用"})
    handed = desk.task(running, "prior_deliberation")
    assert handed["candidate"] == {"role": "rc_party_org", "org_unit": "qiaoyi"}
    why = desk.get(f"/tasks/{handed['id']}", "party_qiaoyi").json["why"]
    assert "瑞南居委会 was dissolved and 桥一居委会 took over" in why
    desk.work("party_qiaoyi", running, "prior_deliberation", {"solicitation_summary": "征询", "category": "rejected"})
    desk.work(
        "rc_qiaoyi", running, "notify_proposer_with_reasons", {"reasons": "不属于自治事项", "notice_channel": "written"}
    )
    assert desk.ended_at(running) == ["end_rejected"]


def test_a_split_creates_a_committee_with_a_new_code_beside_the_changed_one(desk: Desk) -> None:
    before = registry(desk)
    case = desk.start("street_nanjing", "committee_change", "nanjingdonglu")["id"]
    plan = {
        "change_type": "split",
        "org_kind": "urban_rc",
        "affected_org_ids": "yunnan",
        "new_units": [{"code": "yunnan_east", "name": "云南东居委会"}],
        "households": 1100,
        "reasons": "户数过多，按道路拆分",
    }
    desk.work("street_nanjing", case, "draft_change_plan", plan)
    assert desk.instance(case)["variables"]["households_warning"] == ""
    desk.work("rc_yunnan", case, "consult_affected_residents", CONSULTED)
    elections = [{"org_code": "yunnan_east", "director": "顾明"}]
    done = approve_and_carry_out(desk, case, "street_nanjing", {"yunnan": "rc_yunnan"}, elections)
    assert done["instance"]["status"] == "completed" and desk.ended_at(case) == ["end_change_effective"]

    after = registry(desk)
    assert after["yunnan"]["uscc"] == before["yunnan"]["uscc"] and after["yunnan"]["status"] == "active"
    assert after["yunnan"]["history"][-1]["action"] == "changed"
    new = after["yunnan_east"]
    assert new["uscc"] != after["yunnan"]["uscc"] and new["legal_representative"] == "顾明"
    assert new["name"] == "上海市黄浦区南京东路街道云南东居委会"
    tree = units(desk)
    assert (tree["yunnan_east"]["parent"], tree["yunnan_east"]["status"]) == ("nanjingdonglu", "active")
    assert tree["yunnan"]["status"] == "active"
