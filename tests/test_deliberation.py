"""deliberation (先议→商议→决议) through the REST API, worked by the demo officials of each org unit."""

from __future__ import annotations

from tests.procedure_desk import Desk

ISSUE = {
    "title": "制定桥一居民公约",
    "description": "修订居民公约：楼道堆物、宠物管理",
    "source": "resident",
    "proposer_count": 40,
    "proposer_basis": "households",
    "eligible_residents": 500,
    "eligible_households": 180,
    "resident_groups": 6,
}
PRIOR = {"solicitation_summary": "征询 3 次，民主恳谈 1 次", "legality_note": "不违反法律法规"}
HEARING_NOTICE = {"hearing_date": "2026-12-10", "notice_published_on": "2026-12-03", "agenda": "听证公约草案"}
HEARING = {"participants": 25, "opinions_summary": "意见分歧", "minutes": "听证纪要"}
COORDINATION = {"meeting_date": "2026-12-12", "participants": 12, "dissent_summary": "宠物条款", "minutes": "协调纪要"}
DRAFT = {"plan_summary": "公约草案第二稿", "published_on": "2026-12-15", "channel": "board"}
NO_OBJECTION = {"objections_received": 0, "substantial_objection": False}
NOTICE = {"meeting_date": "2026-12-28", "notice_published_on": "2026-12-20", "agenda": "表决居民公约"}
PUBLISHED = {"channel": "board", "published_on": "2026-12-29", "notice_text": "决议公告"}
FILING = {
    "document_kind": "residents_convention",
    "document_title": "桥一居民公约",
    "document_text": "第一条……",
    "filed_on": "2026-12-30",
}
IMPLEMENT = {"plan": "分楼组宣传", "responsible": "王桂芳", "started_on": "2027-01-02"}
OVERSIGHT = {"oversight_on": "2027-01-20", "oversight_opinion": "按期推进", "issues_found": False}
EVALUATION = {
    "meeting_date": "2027-03-01",
    "participants": 30,
    "rating": "satisfied",
    "evaluation_summary": "居民满意",
}


def filings(desk: Desk, case: str, user: str = "street_wuliqiao") -> list[dict]:
    return desk.get(f"/registries/convention-filings?instance_id={case}", user).json["items"]


def begin(desk: Desk, rc: str, unit: str, issue: dict, category: str, **prior: object) -> str:
    """Start a deliberation at `unit`, register the issue and hold the prior deliberation (先议)."""
    party = {"qiaoyi": "party_qiaoyi", "xinye": "party_xinye"}[unit]
    case = desk.start(rc, "deliberation", unit)["id"]
    desk.work(rc, case, "register_issue", issue)
    desk.work(party, case, "prior_deliberation", PRIOR | {"category": category} | prior)
    return case


def consult(desk: Desk, case: str, rc: str, **hearing) -> None:
    """Hearing notice, the notice period, a hearing that reaches consensus, the draft plan on notice."""
    desk.work(rc, case, "publish_hearing_notice", HEARING_NOTICE)
    desk.fire(case, "hearing_notice_period")
    desk.work(rc, case, "hold_hearing", HEARING | {"consensus_reached": True} | hearing)


def notice_without_objection(desk: Desk, case: str, rc: str) -> None:
    desk.work(rc, case, "publish_draft_plan", DRAFT)
    desk.fire(case, "public_notice_period")
    desk.work(rc, case, "collect_objections", NO_OBJECTION)


def assembly(desk: Desk, case: str, rc: str, voter: str, body: str, counts: dict, votes: dict | None) -> None:
    desk.work(rc, case, "issue_convening_notice", NOTICE | {"body": body})
    desk.fire(case, "convening_notice_period")
    desk.work(voter, case, "check_quorum", counts)
    if votes is not None:
        desk.work(voter, case, "vote", votes)


def implement_and_evaluate(desk: Desk, case: str, rc: str, supervisor: str) -> None:
    desk.work(rc, case, "implement", IMPLEMENT)
    desk.work(supervisor, case, "oversee", OVERSIGHT)
    desk.fire(case, "progress_report_period")
    desk.work(rc, case, "publish_progress", {"progress_summary": "完成一半", "published_on": "2027-02-01"})
    desk.fire(case, "progress_report_period")
    progress = {"progress_summary": "完成", "published_on": "2027-02-28", "implementation_complete": True}
    desk.work(rc, case, "publish_progress", progress)
    desk.work(rc, case, "hold_evaluation_meeting", EVALUATION)


def test_a_convention_is_consulted_voted_corrected_on_review_filed_implemented_and_evaluated(demo_desk: Desk) -> None:
    desk = demo_desk
    case = desk.start("rc_qiaoyi", "deliberation", "qiaoyi")["id"]
    desk.work("rc_qiaoyi", case, "register_issue", ISSUE)
    assert desk.instance(case)["variables"]["must_convene"] is True  # 40 of 180 households: over a fifth
    prior = desk.task(case, "prior_deliberation")
    assert prior["candidate"] == {"role": "rc_party_org", "org_unit": "qiaoyi"}
    desk.work("party_qiaoyi", case, "prior_deliberation", PRIOR | {"category": "convention"})

    # 商议: the hearing leaves a dispute; two coordination meetings, the second asks for a joint meeting.
    desk.work("rc_qiaoyi", case, "publish_hearing_notice", HEARING_NOTICE)
    desk.fire(case, "hearing_notice_period")
    desk.work("rc_qiaoyi", case, "hold_hearing", HEARING | {"consensus_reached": False})
    desk.work("rc_qiaoyi", case, "hold_coordination_meeting", COORDINATION | {"consensus_reached": False})
    desk.work(
        "rc_qiaoyi",
        case,
        "hold_coordination_meeting",
        COORDINATION | {"consensus_reached": True, "needs_joint_meeting": True},
    )
    joint = {"meeting_date": "2026-12-13", "parties": "业委会、物业、社区民警", "agreed_items": "宠物登记"}
    desk.work("joint_qiaoyi", case, "hold_joint_meeting", joint)
    # The public notice draws a substantial objection: back to coordination, then a clean notice.
    desk.work("rc_qiaoyi", case, "publish_draft_plan", DRAFT)
    desk.fire(case, "public_notice_period")
    objection = {"objections_received": 3, "substantial_objection": True, "objection_summary": "养犬条款过严"}
    desk.work("rc_qiaoyi", case, "collect_objections", objection)
    desk.work(
        "rc_qiaoyi",
        case,
        "hold_coordination_meeting",
        COORDINATION | {"consensus_reached": True, "needs_joint_meeting": False},
    )
    notice_without_objection(desk, case, "rc_qiaoyi")
    variables = desk.instance(case)["variables"]
    assert (variables["coordination_rounds"], variables["objection_rounds"]) == (3, 1)

    # 决议: a convention cannot go to the representative assembly; the residents' assembly adopts it.
    desk.work("rc_qiaoyi", case, "issue_convening_notice", NOTICE | {"body": "residents_rep_assembly"})
    assert "不能由居民代表会议决定" in desk.instance(case)["variables"]["body_problems"][0]
    attendance = {"eligible": 100, "present": 51}
    assembly(
        desk,
        case,
        "rc_qiaoyi",
        "assembly_qiaoyi",
        "residents_assembly",
        attendance,
        {"yes": 26, "no": 20, "abstain": 5},
    )
    desk.work("rc_qiaoyi", case, "publish_resolution", PUBLISHED)
    desk.work("rc_qiaoyi", case, "file_with_subdistrict", FILING)
    [filed] = filings(desk, case)
    assert filed["status"] == "under_review" and filed["filed_to"] == "wuliqiao"
    assert filed["resolution"]["vote"]["present"] == 51 and filed["resolution"]["vote"]["body"] == "residents_assembly"

    # The subdistrict office orders a correction: the convention is deliberated and voted again.
    review = {"review_result": "correction_ordered", "review_opinion": "第五条违法", "correction_items": "删除罚款条款"}
    desk.work("street_wuliqiao", case, "legality_review", review)
    assert filings(desk, case)[0]["status"] == "correction_ordered"
    desk.work("party_qiaoyi", case, "prior_deliberation", PRIOR | {"category": "convention"})
    consult(desk, case, "rc_qiaoyi")
    notice_without_objection(desk, case, "rc_qiaoyi")
    assembly(
        desk,
        case,
        "rc_qiaoyi",
        "assembly_qiaoyi",
        "residents_assembly",
        attendance,
        {"yes": 40, "no": 11, "abstain": 0},
    )
    desk.fire(case, "publish_resolution_due")  # not published in time: a reminder, the task stays
    desk.work("rc_qiaoyi", case, "publish_resolution", PUBLISHED)
    desk.work("rc_qiaoyi", case, "file_with_subdistrict", FILING | {"document_text": "第一条……（已删除罚款条款）"})
    lawful = {"review_result": "lawful", "review_opinion": "准予备案"}
    desk.work("street_wuliqiao", case, "legality_review", lawful)
    implement_and_evaluate(desk, case, "rc_qiaoyi", "supervisor_qiaoyi")

    assert desk.instance(case)["status"] == "completed"
    assert desk.ended_at(case) == ["end_overdue", "end_resolved"]
    first, second = filings(desk, case)
    assert (first["status"], first["correction_items"]) == ("correction_ordered", "删除罚款条款")
    assert second["status"] == "filed" and second["resolution"]["vote"]["yes"] == 40
    assert [f["id"] for f in filings(desk, case, "rc_qiaoyi")] == [first["id"], second["id"]]
    assert filings(desk, case, "rc_yunnan") == []  # another committee does not read Qiaoyi's filings


def test_a_failed_quorum_is_rescheduled_twice_and_then_the_deliberation_ends(demo_desk: Desk) -> None:
    desk = demo_desk
    case = desk.start("rc_qiaoyi", "deliberation", "qiaoyi")["id"]
    desk.work("rc_qiaoyi", case, "register_issue", {"title": "修订停车管理公约"})
    assert desk.instance(case)["variables"]["must_convene"] is False
    prior = PRIOR | {"category": "convention"}
    desk.work("party_qiaoyi", case, "prior_deliberation", prior)
    consult(desk, case, "rc_qiaoyi")
    notice_without_objection(desk, case, "rc_qiaoyi")
    for present in (50, 50):  # exactly half is not more than half: rescheduled
        assembly(
            desk,
            case,
            "rc_qiaoyi",
            "assembly_qiaoyi",
            "residents_assembly",
            {"eligible": 100, "present": present},
            None,
        )
    assert desk.instance(case)["variables"]["reschedules"] == 2
    assembly(desk, case, "rc_qiaoyi", "assembly_qiaoyi", "residents_assembly", {"eligible": 100, "present": 45}, None)
    assert desk.ended_at(case) == ["end_failed_quorum"]
    assert desk.instance(case)["status"] == "completed"
    assert filings(desk, case) == []  # a convention never adopted is never filed


def test_an_elevator_retrofit_with_three_quarters_of_the_area_but_not_of_the_owners_is_not_passed(
    demo_desk: Desk,
) -> None:
    desk = demo_desk
    case = desk.start("rc_qiaoyi", "deliberation", "qiaoyi")["id"]
    desk.work("rc_qiaoyi", case, "register_issue", {"title": "3 号楼加装电梯", "description": "3 号楼 1 单元"})
    prior = PRIOR | {"category": "owners_matter", "entrusted_by_government": True}
    desk.work("party_qiaoyi", case, "prior_deliberation", prior)
    consult(desk, case, "rc_qiaoyi")
    # A matter entrusted by the government: the result goes to the subdistrict, which does not answer in time.
    desk.work(
        "rc_qiaoyi", case, "report_result_to_government", {"reported_on": "2026-12-11", "result_summary": "同意加装"}
    )
    assert desk.task(case, "government_feedback")["candidate"] == {"role": "subdistrict_office", "org_unit": "wuliqiao"}
    desk.fire(case, "government_feedback_due")
    assert desk.instance(case)["variables"]["government_feedback"] == "overdue"
    notice_without_objection(desk, case, "rc_qiaoyi")
    vote = {
        "matter": "elevator_retrofit",
        "building": "3 号楼 1 单元",
        "vote_date": "2026-12-28",
        "eligible_area": 3000,
        "eligible": 60,
        "present_area": 2000,
        "present": 40,
        "yes_area": 1600,  # 4/5 of the participating area
        "yes": 29,  # but less than 3/4 of the 40 owners who took part
    }
    desk.work("owners_qiaoyi", case, "organise_owners_vote", vote)
    record = desk.instance(case)["variables"]["vote_record"]
    assert record["participation"] is True and record["passed"] is False
    # The objection is mediated at a coordination meeting (DOMAIN 2.3a), once, then the owners vote again.
    assert desk.instance(case)["variables"]["owners_mediations"] == 1
    desk.work("rc_qiaoyi", case, "hold_coordination_meeting", COORDINATION | {"consensus_reached": True})
    notice_without_objection(desk, case, "rc_qiaoyi")
    desk.work("owners_qiaoyi", case, "organise_owners_vote", vote | {"vote_date": "2027-01-20"})
    assert desk.ended_at(case) == ["end_not_passed"]
    assert filings(desk, case) == []


def test_a_refused_issue_and_a_government_matter_end_at_once(demo_desk: Desk) -> None:
    desk = demo_desk
    refused = desk.start("rc_qiaoyi", "deliberation", "qiaoyi")["id"]
    desk.work("rc_qiaoyi", refused, "register_issue", {"title": "要求开除物业经理"})
    desk.work("party_qiaoyi", refused, "prior_deliberation", PRIOR | {"category": "rejected"})
    desk.work(
        "rc_qiaoyi",
        refused,
        "notify_proposer_with_reasons",
        {"reasons": "不属于居民自治事项", "notice_channel": "written"},
    )
    assert desk.ended_at(refused) == ["end_rejected"] and filings(desk, refused) == []

    referred = desk.start("rc_qiaoyi", "deliberation", "qiaoyi")["id"]
    desk.work("rc_qiaoyi", referred, "register_issue", {"title": "道路积水"})
    desk.work("party_qiaoyi", referred, "prior_deliberation", PRIOR | {"category": "government_referral"})
    desk.work("street_wuliqiao", referred, "refer_to_authority", {"authority": "区建管委"})
    assert desk.ended_at(referred) == ["end_referred"] and filings(desk, referred) == []


def test_a_committee_without_quorum_decides_nothing_and_a_village_rep_assembly_adopts_by_two_thirds(
    demo_desk: Desk,
) -> None:
    desk = demo_desk
    small = desk.start("rc_qiaoyi", "deliberation", "qiaoyi")["id"]
    desk.work("rc_qiaoyi", small, "register_issue", {"title": "更换活动室窗帘"})
    desk.work(
        "party_qiaoyi", small, "prior_deliberation", PRIOR | {"category": "self_governance", "subject": "general"}
    )
    consult(desk, small, "rc_qiaoyi")
    notice_without_objection(desk, small, "rc_qiaoyi")
    decision = {"meeting_date": "2026-12-20", "members": 7, "present": 3, "yes": 3, "decision_summary": "更换"}
    desk.work("rc_qiaoyi", small, "committee_decision", decision)  # 3 of 7 members: no quorum
    assert desk.ended_at(small) == ["end_not_passed"]

    village = desk.start("vc_xinye", "deliberation", "xinye")["id"]
    petition = {"title": "村道养护", "proposer_count": 30, "proposer_basis": "villagers", "eligible_residents": 300}
    desk.work("vc_xinye", village, "register_issue", petition)
    assert desk.instance(village)["variables"]["must_convene"] is True  # a tenth of the villagers
    assert desk.task(village, "prior_deliberation")["candidate"] == {"role": "rc_party_org", "org_unit": "xinye"}
    prior = PRIOR | {"category": "self_governance", "entrusted_by_government": True}
    desk.work("party_xinye", village, "prior_deliberation", prior)
    assert desk.task(village, "publish_hearing_notice")["candidate"] == {
        "role": "villagers_committee",
        "org_unit": "xinye",
    }
    consult(desk, village, "vc_xinye")
    desk.work(
        "vc_xinye", village, "report_result_to_government", {"reported_on": "2026-12-11", "result_summary": "养护方案"}
    )
    desk.work("town_zhuanghang", village, "government_feedback", {"government_feedback": "adopted"})
    notice_without_objection(desk, village, "vc_xinye")
    desk.work("vc_xinye", village, "issue_convening_notice", NOTICE | {"body": "residents_assembly"})
    assert "村民委员会不召集居民会议" in desk.instance(village)["variables"]["body_problems"][0]
    attendance = {"eligible": 45, "present": 30}  # two thirds of the members
    assembly(
        desk,
        village,
        "vc_xinye",
        "assembly_xinye",
        "villagers_rep_assembly",
        attendance,
        {"yes": 16, "no": 14, "abstain": 0},
    )
    assert desk.instance(village)["variables"]["notice_rule"] == "deliberation.village_convening_notice_days"
    desk.work("vc_xinye", village, "publish_resolution", PUBLISHED)
    implement_and_evaluate(desk, village, "vc_xinye", "supervisor_xinye")
    assert desk.ended_at(village) == ["end_resolved"]
    assert filings(desk, village, "town_zhuanghang") == []  # not a convention: nothing filed


def test_a_retrofit_mediated_after_a_failed_owners_vote_passes_with_three_quarters_of_both(demo_desk: Desk) -> None:
    desk = demo_desk
    case = begin(
        desk, "rc_qiaoyi", "qiaoyi", {"title": "5 号楼加装电梯", "description": "5 号楼 2 单元"}, "owners_matter"
    )
    consult(desk, case, "rc_qiaoyi")
    notice_without_objection(desk, case, "rc_qiaoyi")
    vote = {
        "matter": "elevator_retrofit",
        "building": "5 号楼 2 单元",
        "vote_date": "2026-12-28",
        "eligible_area": 3000,
        "eligible": 60,
        "present_area": 2000,
        "present": 40,
        "yes_area": 1400,  # less than 3/4 of the area taking part
        "yes": 32,
    }
    desk.work("owners_qiaoyi", case, "organise_owners_vote", vote)
    mediation = desk.task(case, "hold_coordination_meeting")  # the low floors' objection is mediated
    assert mediation["candidate"] == {"role": "residents_committee", "org_unit": "qiaoyi"}
    desk.work("rc_qiaoyi", case, "hold_coordination_meeting", COORDINATION | {"consensus_reached": True})
    notice_without_objection(desk, case, "rc_qiaoyi")
    desk.work("owners_qiaoyi", case, "organise_owners_vote", vote | {"yes_area": 1500, "yes": 30})
    record = desk.instance(case)["variables"]["vote_record"]
    assert record["passed"] is True and record["yes_area"] == 1500 and record["body"] == "owners_assembly"
    desk.work("rc_qiaoyi", case, "publish_resolution", PUBLISHED)
    implement_and_evaluate(desk, case, "rc_qiaoyi", "supervisor_qiaoyi")
    assert desk.ended_at(case) == ["end_resolved"]
    assert filings(desk, case) == []  # an owners' decision is not a convention


def test_an_assembly_that_votes_a_convention_down_ends_it_and_nothing_is_filed(demo_desk: Desk) -> None:
    desk = demo_desk
    case = begin(desk, "rc_qiaoyi", "qiaoyi", ISSUE | {"title": "制定文明养犬公约"}, "convention")
    consult(desk, case, "rc_qiaoyi")
    notice_without_objection(desk, case, "rc_qiaoyi")
    attendance = {"eligible": 100, "present": 51}
    assembly(
        desk,
        case,
        "rc_qiaoyi",
        "assembly_qiaoyi",
        "residents_assembly",
        attendance,
        {"yes": 25, "no": 26, "abstain": 0},
    )
    record = desk.instance(case)["variables"]["vote_record"]
    assert (record["present"], record["yes"], record["passed"]) == (51, 25, False)
    assert desk.instance(case)["variables"]["owners_mediations"] == 0  # only owners' votes are mediated
    assert desk.ended_at(case) == ["end_not_passed"]
    assert filings(desk, case) == []


def test_coordination_meetings_and_objection_loops_stop_at_their_limits(demo_desk: Desk) -> None:
    desk = demo_desk
    case = begin(desk, "rc_qiaoyi", "qiaoyi", {"title": "小区绿地改停车位"}, "self_governance")
    consult(desk, case, "rc_qiaoyi", consensus_reached=False)
    for _ in range(3):  # deliberation.coordination_max_rounds: no consensus, still only three meetings
        desk.work("rc_qiaoyi", case, "hold_coordination_meeting", COORDINATION | {"consensus_reached": False})
    assert desk.instance(case)["variables"]["coordination_rounds"] == 3
    objection = {"objections_received": 5, "substantial_objection": True, "objection_summary": "绿地减少"}
    for _ in range(2):  # deliberation.max_objection_loops: each objection goes back to coordination
        desk.work("rc_qiaoyi", case, "publish_draft_plan", DRAFT)
        desk.fire(case, "public_notice_period")
        desk.work("rc_qiaoyi", case, "collect_objections", objection)
        desk.work("rc_qiaoyi", case, "hold_coordination_meeting", COORDINATION | {"consensus_reached": False})
    desk.work("rc_qiaoyi", case, "publish_draft_plan", DRAFT)
    desk.fire(case, "public_notice_period")
    desk.work("rc_qiaoyi", case, "collect_objections", objection)  # a third objection: on to the decision
    variables = desk.instance(case)["variables"]
    assert (variables["coordination_rounds"], variables["objection_rounds"]) == (5, 2)
    assert [t["element_id"] for t in desk.instance(case)["tasks"]] == ["committee_decision"]
    decision = {"meeting_date": "2027-01-10", "members": 10, "present": 10, "yes": 5, "decision_summary": "不改"}
    desk.work("rc_qiaoyi", case, "committee_decision", decision)
    record = desk.instance(case)["variables"]["vote_record"]
    assert record["passed"] is False  # exactly half of those present
    assert record["composition_problems"] == ["组成人员 10 人，不在法定的 5–9 人之间"]  # UROL Art.7, recorded
    assert desk.ended_at(case) == ["end_not_passed"]


def test_a_village_code_is_adopted_by_a_villagers_assembly_quorate_by_households_and_filed_with_the_township(
    demo_desk: Desk,
) -> None:
    desk = demo_desk
    case = begin(desk, "vc_xinye", "xinye", {"title": "修订新叶村村规民约"}, "convention")
    consult(desk, case, "vc_xinye")
    notice_without_objection(desk, case, "vc_xinye")
    # Fewer than half of the villagers came, but two thirds of the households did (VCOL Art.22).
    attendance = {"eligible": 300, "present": 140, "eligible_households": 90, "present_households": 60}
    assembly(
        desk, case, "vc_xinye", "assembly_xinye", "villagers_assembly", attendance, {"yes": 71, "no": 69, "abstain": 0}
    )
    variables = desk.instance(case)["variables"]
    assert variables["quorum"] is True and variables["vote_record"]["passed"] is True
    assert {r["key"] for r in variables["resolution_rules"]} >= {"deliberation.villagers_assembly.quorum_households"}
    desk.work("vc_xinye", case, "publish_resolution", PUBLISHED)
    filing = FILING | {"document_kind": "village_code", "document_title": "新叶村村规民约"}
    desk.work("vc_xinye", case, "file_with_subdistrict", filing)
    [filed] = filings(desk, case, "town_zhuanghang")
    assert (filed["status"], filed["filed_to"]) == ("under_review", "zhuanghang")
    desk.work("town_zhuanghang", case, "legality_review", {"review_result": "lawful", "review_opinion": "准予备案"})
    assert filings(desk, case, "town_zhuanghang")[0]["status"] == "filed"
    implement_and_evaluate(desk, case, "vc_xinye", "supervisor_xinye")
    assert desk.ended_at(case) == ["end_resolved"]


def test_a_third_of_a_villager_group_petitions_its_group_meeting_which_decides_on_households(demo_desk: Desk) -> None:
    desk = demo_desk
    petition = {
        "title": "三组灌溉渠维修",
        "proposer_count": 10,
        "proposer_basis": "group_villagers",
        "eligible_group_villagers": 30,
    }
    case = begin(desk, "vc_xinye", "xinye", petition, "self_governance")
    variables = desk.instance(case)["variables"]
    assert variables["must_convene"] is True and variables["petition_body"] == "group_meeting"  # SH-VC Art.19
    consult(desk, case, "vc_xinye")
    notice_without_objection(desk, case, "vc_xinye")
    # Half of the group's villagers, but two thirds of its households: quorate (VCOL Art.28).
    attendance = {"eligible": 30, "present": 15, "eligible_households": 12, "present_households": 8}
    assembly(desk, case, "vc_xinye", "assembly_xinye", "group_meeting", attendance, {"yes": 8, "no": 7, "abstain": 0})
    assert desk.instance(case)["variables"]["vote_record"]["passed"] is True
    desk.work("vc_xinye", case, "publish_resolution", PUBLISHED)
    implement_and_evaluate(desk, case, "vc_xinye", "supervisor_xinye")
    assert desk.ended_at(case) == ["end_resolved"]
    assert filings(desk, case, "town_zhuanghang") == []
