"""The statutory rules at their boundaries, read from the shipped rule table (engine/data/rules.json)."""

from __future__ import annotations

from datetime import date
from fractions import Fraction

import pytest

from engine import Engine
from engine.errors import NotAllowed, RuleBroken
from engine.rules import (
    PETITION_BODIES,
    RuleBook,
    admission_decision,
    approval_problems,
    assembly_body_problems,
    assessment_valid,
    composition_problems,
    households_warning,
    owners_minimum_yes_share,
    passes,
    petition_requires_assembly,
    quorum_met,
    seed_rules,
    service_eligibility,
    written_delegation,
)

BOOK = RuleBook(seed_rules())
TODAY = date(2026, 12, 1)


@pytest.mark.parametrize(
    ("basis", "proposers", "eligible", "must_convene"),
    [
        ("residents", 100, 500, True),  # exactly a fifth of residents 18+
        ("residents", 99, 500, False),
        ("households", 36, 180, True),  # exactly a fifth of households
        ("households", 35, 180, False),
        ("groups", 2, 6, True),  # exactly a third of resident groups
        ("groups", 1, 6, False),
        ("villagers", 30, 300, True),  # a tenth of villagers (VCOL Art.21)
        ("villagers", 29, 300, False),
    ],
)
def test_a_petition_forces_the_assembly_from_the_statutory_share(
    basis: str, proposers: int, eligible: int, must_convene: bool
) -> None:
    assert petition_requires_assembly(BOOK, basis, proposers, eligible, on=TODAY) is must_convene


@pytest.mark.parametrize(
    ("body", "counts", "met"),
    [
        ("residents_assembly", {"eligible": 100, "present": 50}, False),  # exactly half is not more than half
        ("residents_assembly", {"eligible": 100, "present": 51}, True),  # half plus one
        ("residents_assembly", {"eligible": 101, "present": 51}, True),
        ("residents_rep_assembly", {"eligible": 30, "present": 20}, True),  # two thirds of members
        ("residents_rep_assembly", {"eligible": 30, "present": 19}, False),
        ("villagers_rep_assembly", {"eligible": 45, "present": 30}, True),
        ("villagers_rep_assembly", {"eligible": 45, "present": 29}, False),
        # villagers: more than half of persons OR two thirds of households
        (
            "villagers_assembly",
            {"eligible": 300, "present": 150, "eligible_households": 90, "present_households": 60},
            True,
        ),
        (
            "villagers_assembly",
            {"eligible": 300, "present": 150, "eligible_households": 90, "present_households": 59},
            False,
        ),
        (
            "villagers_assembly",
            {"eligible": 300, "present": 151, "eligible_households": 90, "present_households": 0},
            True,
        ),
        # owners: two thirds of the area AND two thirds of the headcount take part
        ("owners_assembly", {"eligible_area": 3000, "present_area": 2000, "eligible": 60, "present": 40}, True),
        ("owners_assembly", {"eligible_area": 3000, "present_area": 1999, "eligible": 60, "present": 60}, False),
        ("owners_assembly", {"eligible_area": 3000, "present_area": 3000, "eligible": 60, "present": 39}, False),
        ("residents_assembly", {"eligible": 0, "present": 0}, False),  # no base, no quorum
    ],
)
def test_the_quorum_of_each_body_at_its_boundary(body: str, counts: dict, met: bool) -> None:
    assert quorum_met(BOOK, body, on=TODAY, **counts) is met


@pytest.mark.parametrize(
    ("body", "matter", "votes", "carried"),
    [
        ("residents_assembly", "general", {"present": 60, "yes": 30}, False),  # exactly half of those present
        ("residents_assembly", "general", {"present": 60, "yes": 31}, True),
        ("villagers_assembly", "general", {"present": 200, "yes": 101}, True),
        ("committee", "general", {"present": 7, "yes": 4}, True),
        ("committee", "general", {"present": 8, "yes": 4}, False),
        # elevator retrofit (改建): 3/4 of the participating area AND of the participating headcount
        (
            "owners_assembly",
            "elevator_retrofit",
            {"present_area": 2000, "yes_area": 1500, "present": 40, "yes": 30},
            True,
        ),
        # 3/4 by area but not by headcount
        (
            "owners_assembly",
            "elevator_retrofit",
            {"present_area": 2000, "yes_area": 1600, "present": 40, "yes": 29},
            False,
        ),
        # 3/4 by headcount but not by area
        (
            "owners_assembly",
            "elevator_retrofit",
            {"present_area": 2000, "yes_area": 1499, "present": 40, "yes": 40},
            False,
        ),
        # other owners' matters: more than half of both
        ("owners_assembly", "general", {"present_area": 2000, "yes_area": 1001, "present": 40, "yes": 21}, True),
        ("owners_assembly", "general", {"present_area": 2000, "yes_area": 1000, "present": 40, "yes": 40}, False),
    ],
)
def test_the_majority_of_each_body_at_its_boundary(body: str, matter: str, votes: dict, carried: bool) -> None:
    assert passes(BOOK, body, matter=matter, on=TODAY, **votes) is carried


def test_an_elevator_retrofit_needs_at_least_half_of_all_area_and_owners() -> None:
    assert owners_minimum_yes_share(BOOK, "elevator_retrofit", on=TODAY) == Fraction(1, 2)
    assert owners_minimum_yes_share(BOOK, "general", on=TODAY) == Fraction(1, 3)


def test_a_rule_answers_with_the_version_valid_on_the_day() -> None:
    assert BOOK.value("service.severe_disability.monthly_amount", date(2025, 6, 30)) == 410
    assert BOOK.value("service.severe_disability.monthly_amount", date(2025, 7, 1)) == 450
    assert BOOK.value("committee_change.households_range", date(2025, 12, 31)) == [100, 700]
    assert BOOK.get("committee_change.households_range", date(2026, 1, 1)).legal_basis_version == "UROL_2025"
    with pytest.raises(RuleBroken, match="no version valid on 2025-12-31"):
        BOOK.get("deliberation.residents_rep_assembly.quorum", date(2025, 12, 31))  # introduced by UROL 2025


def test_every_rule_names_its_law_and_article_and_assumed_defaults_are_marked() -> None:
    for key in BOOK.all_keys():
        for rule in BOOK.versions(key):
            assert rule.law and rule.article and rule.legal_basis_version, key
    assert BOOK.get("deliberation.coordination_max_rounds", TODAY).assumed is True
    assert BOOK.get("deliberation.residents_assembly.quorum", TODAY).assumed is False


@pytest.mark.parametrize(
    ("applicant", "eligible", "reason"),
    [
        ({"age": 60, "care_grade": 2, "assessment_date": "2025-12-02", "economic_status": "dibao"}, True, None),
        ({"age": 59, "care_grade": 2, "assessment_date": "2025-12-02", "economic_status": "dibao"}, False, "未满 60"),
        (
            {"age": 80, "care_grade": 1, "assessment_date": "2025-12-02", "economic_status": "dibao"},
            False,
            "照护等级 1",
        ),
        ({"age": 80, "care_grade": 6, "assessment_date": "2025-12-02", "economic_status": "dibao"}, True, None),
        (
            {"age": 80, "care_grade": 7, "assessment_date": "2025-12-02", "economic_status": "dibao"},
            False,
            "照护等级 7 不在 2–6",
        ),
        (
            {"age": 80, "care_grade": 4, "assessment_date": "2024-12-01", "economic_status": "low_income"},
            False,
            "有效期",
        ),
        ({"age": 80, "care_grade": 4, "assessment_date": "2024-12-02", "economic_status": "none"}, False, "低保"),
        # the [A] default: Shanghai hukou only
        (
            {"age": 80, "care_grade": 4, "assessment_date": "2025-12-02", "economic_status": "dibao", "hukou": "other"},
            False,
            "非本市户籍",
        ),
    ],
)
def test_elderly_care_subsidy_eligibility(applicant: dict, eligible: bool, reason: str | None) -> None:
    applicant = {"hukou": "shanghai"} | applicant
    result = service_eligibility(BOOK, "elderly_care_subsidy", applicant, on=TODAY)
    assert result.eligible is eligible
    if reason:
        assert any(reason in r for r in result.reasons), result.reasons


def test_severe_disability_subsidy_amount_follows_the_rule_version() -> None:
    applicant = {"age": 40, "disability_grade": 2, "employed": False, "has_pension": False}
    assert service_eligibility(BOOK, "severe_disability_unemployed_subsidy", applicant, on=TODAY).monthly_amount == 450
    old = service_eligibility(BOOK, "severe_disability_unemployed_subsidy", applicant, on=date(2024, 1, 1))
    assert old.monthly_amount == 410
    grade3 = service_eligibility(BOOK, "severe_disability_unemployed_subsidy", applicant | {"disability_grade": 3})
    assert not grade3.eligible and "不属于重度残疾" in grade3.reasons[0]
    assert assessment_valid(BOOK, "2024-12-02", TODAY) and not assessment_valid(BOOK, "2024-12-01", TODAY)


@pytest.mark.parametrize(
    ("reviews", "revisions", "emergency", "outcome"),
    [
        (("pass", "pass", "pass", "pass"), 0, False, "admit"),
        (("pass", "pass", "pass", "pass"), 0, True, "admit_temporary"),
        (("fail", "pass", "pass", "pass"), 0, False, "reject"),  # no legal basis
        (("pass", "fail", "pass", "pass"), 0, False, "reject"),  # the department can do it itself
        (("pass", "pass", "pass", "revise"), 0, False, "return_for_revision"),  # funding missing
        (("pass", "pass", "fail", "pass"), 1, False, "return_for_revision"),
        (("pass", "pass", "pass", "revise"), 2, False, "reject"),  # returned twice already
    ],
)
def test_the_admission_decision_aggregates_the_four_reviews(
    reviews: tuple, revisions: int, emergency: bool, outcome: str
) -> None:
    legality, necessity, reasonableness, funding = reviews
    decision = admission_decision(
        BOOK,
        legality=legality,
        necessity=necessity,
        reasonableness=reasonableness,
        funding=funding,
        revisions=revisions,
        emergency=emergency,
        on=TODAY,
    )
    assert decision["outcome"] == outcome and decision["reason"]


# --- the rule table in the database --------------------------------------------------------------


def test_an_admin_versions_an_assumed_default_and_the_change_is_audited(org: Engine) -> None:
    admin = org.principal("admin")
    changed = org.set_rule("deliberation.coordination_max_rounds", admin, 5, date(2027, 1, 1))
    assert changed["version"] == 2 and changed["assumed"] is True and changed["changed_by"] == "admin"
    versions = org.rule_versions("deliberation.coordination_max_rounds")["versions"]
    assert versions[0]["valid_to"] == "2026-12-31" and versions[1]["valid_from"] == "2027-01-01"
    assert org.rule_book().value("deliberation.coordination_max_rounds", date(2027, 1, 1)) == 5
    assert org.rule_book().value("deliberation.coordination_max_rounds", date(2026, 12, 31)) == 3
    events = org.audit_events(admin, action="rule_changed")["items"]
    assert events[-1]["element_id"] == "deliberation.coordination_max_rounds"


def test_a_statutory_rule_changes_only_with_a_new_legal_basis(org: Engine) -> None:
    admin = org.principal("admin")
    key = "deliberation.residents_assembly.quorum"
    with pytest.raises(RuleBroken, match="statutory"):
        org.set_rule(key, admin, "> 1/3", date(2027, 1, 1))
    revised = org.set_rule(
        key, admin, ">= 1/2", date(2027, 1, 1), law="城市居民委员会组织法（2025 修订）", legal_basis_version="UROL_2025"
    )
    assert revised["legal_basis_version"] == "UROL_2025" and revised["assumed"] is False
    with pytest.raises(RuleBroken, match="whole number"):
        org.set_rule("deliberation.coordination_max_rounds", admin, "three", date(2027, 1, 1))
    with pytest.raises(NotAllowed):
        org.set_rule("deliberation.coordination_max_rounds", org.principal("zhang"), 4, date(2027, 1, 1))


# --- what the deliberation needs, at its boundaries ----------------------------------------------


@pytest.mark.parametrize(
    ("body", "counts", "met"),
    [
        ("residents_assembly", {"eligible": 180, "present": 90}, False),  # households' reps: exactly half
        ("residents_assembly", {"eligible": 180, "present": 91}, True),  # half plus one
        ("villagers_rep_assembly", {"eligible": 36, "present": 24}, True),  # exactly 2/3 of the members
        ("villagers_rep_assembly", {"eligible": 36, "present": 23}, False),
        # a villagers' assembly on households: exactly 2/3 of the households suffices
        (
            "villagers_assembly",
            {"eligible": 300, "present": 0, "eligible_households": 120, "present_households": 80},
            True,
        ),
        (
            "villagers_assembly",
            {"eligible": 300, "present": 0, "eligible_households": 120, "present_households": 79},
            False,
        ),
        ("group_meeting", {"eligible": 30, "present": 20}, True),  # a villager group: 2/3 of its villagers
        ("group_meeting", {"eligible": 30, "present": 19}, False),
        ("committee", {"eligible": 7, "present": 4}, True),
        ("committee", {"eligible": 7, "present": 3}, False),
    ],
)
def test_the_deliberations_quorums_at_their_boundaries(body: str, counts: dict, met: bool) -> None:
    assert quorum_met(BOOK, body, on=TODAY, **counts) is met


@pytest.mark.parametrize(
    ("matter", "votes", "carried"),
    [
        # maintenance funds and changing the use of common parts need 3/4 like a retrofit
        ("maintenance_fund", {"present_area": 2000, "yes_area": 1500, "present": 40, "yes": 30}, True),
        ("change_common_use", {"present_area": 2000, "yes_area": 1499, "present": 40, "yes": 40}, False),
        # a general matter: exactly half of the area is not more than half
        ("general", {"present_area": 2000, "yes_area": 1001, "present": 40, "yes": 20}, False),
    ],
)
def test_owners_matters_need_both_area_and_headcount(matter: str, votes: dict, carried: bool) -> None:
    assert passes(BOOK, "owners_assembly", matter=matter, on=TODAY, **votes) is carried


def test_owners_take_part_only_with_two_thirds_of_both_area_and_headcount() -> None:
    area_only = {"eligible_area": 3000, "present_area": 2000, "eligible": 60, "present": 39}
    assert quorum_met(BOOK, "owners_assembly", on=TODAY, **area_only) is False
    both = area_only | {"present": 40}
    assert quorum_met(BOOK, "owners_assembly", on=TODAY, **both) is True


@pytest.mark.parametrize(
    ("basis", "proposers", "eligible", "must_convene"),
    [
        ("village_reps", 12, 36, True),  # a third of the villagers' representatives
        ("village_reps", 11, 36, False),
        ("groups", 0, 0, False),  # no groups counted: no petition
    ],
)
def test_a_village_petition_at_its_boundary(basis: str, proposers: int, eligible: int, must_convene: bool) -> None:
    assert petition_requires_assembly(BOOK, basis, proposers, eligible, on=TODAY) is must_convene


@pytest.mark.parametrize(
    ("body", "category", "kind", "on", "problem"),
    [
        ("residents_assembly", "convention", "residents", TODAY, None),
        ("residents_rep_assembly", "convention", "residents", TODAY, "不能由居民代表会议决定"),
        ("residents_rep_assembly", "self_governance", "residents", TODAY, None),
        (
            "residents_rep_assembly",
            "self_governance",
            "residents",
            date(2025, 12, 31),
            "尚无有效版本",
        ),  # before UROL 2025
        ("villagers_rep_assembly", "convention", "villagers", TODAY, "不能由村民代表会议决定"),  # SH-VC Art.16
        ("residents_assembly", "self_governance", "villagers", TODAY, "村民委员会不召集居民会议"),
        ("villagers_assembly", "self_governance", "residents", TODAY, "居民委员会不召集村民会议"),
        ("owners_assembly", "self_governance", "residents", TODAY, "表决机构须为"),
    ],
)
def test_which_meeting_may_decide_which_matter(
    body: str, category: str, kind: str, on: date, problem: str | None
) -> None:
    problems = assembly_body_problems(BOOK, body, category, kind, on=on)
    if problem is None:
        assert problems == []
    else:
        assert any(problem in p for p in problems), problems


def test_the_matters_that_must_go_to_the_assembly_are_statutory() -> None:
    matters = BOOK.get("deliberation.assembly_matters", TODAY)
    assert not matters.assumed and "convention" in matters.value and "all_residents_interest" in matters.value
    assert BOOK.value("deliberation.convention_bodies", TODAY) == ["residents_assembly", "villagers_assembly"]


# --- the gaps an audit found: more boundaries and the statutory numbers added to the table -------------


@pytest.mark.parametrize(
    ("body", "votes", "carried"),
    [
        ("villagers_rep_assembly", {"present": 30, "yes": 15}, False),  # exactly half of those present
        ("villagers_rep_assembly", {"present": 30, "yes": 16}, True),
        ("residents_rep_assembly", {"present": 24, "yes": 12}, False),
        ("residents_rep_assembly", {"present": 24, "yes": 13}, True),
        ("group_meeting", {"present": 20, "yes": 10}, False),
        ("group_meeting", {"present": 20, "yes": 11}, True),
        ("villagers_assembly", {"present": 200, "yes": 100}, False),  # exactly half of the villagers present
    ],
)
def test_representative_assemblies_and_group_meetings_need_more_than_half_of_those_present(
    body: str, votes: dict, carried: bool
) -> None:
    assert passes(BOOK, body, on=TODAY, **votes) is carried


@pytest.mark.parametrize(
    ("body", "counts", "met"),
    [
        # a villager group meeting on households: two thirds of its households, or two thirds of its villagers
        ("group_meeting", {"eligible": 30, "present": 0, "eligible_households": 12, "present_households": 8}, True),
        ("group_meeting", {"eligible": 30, "present": 0, "eligible_households": 12, "present_households": 7}, False),
        ("group_meeting", {"eligible": 30, "present": 19, "eligible_households": 12, "present_households": 7}, False),
        ("committee", {"eligible": 8, "present": 4}, False),  # exactly half of the members is no quorum
        ("committee", {"eligible": 8, "present": 5}, True),
    ],
)
def test_group_meetings_on_households_and_a_committee_at_exactly_half(body: str, counts: dict, met: bool) -> None:
    assert quorum_met(BOOK, body, on=TODAY, **counts) is met


@pytest.mark.parametrize(
    ("age", "eligible"),
    [(15, False), (16, True), (59, True), (60, False)],
)
def test_the_severe_disability_subsidy_is_for_working_age_from_16_to_59(age: int, eligible: bool) -> None:
    applicant = {"age": age, "disability_grade": 1, "employed": False, "has_pension": False}
    result = service_eligibility(BOOK, "severe_disability_unemployed_subsidy", applicant, on=TODAY)
    assert result.eligible is eligible
    assert eligible or f"年龄 {age} 不在 16–59" in result.reasons[0]


@pytest.mark.parametrize(
    ("households", "on", "warned"),
    [
        (99, date(2025, 12, 31), True),  # UROL 2018 Art.6: 100-700 households
        (100, date(2025, 12, 31), False),
        (700, date(2025, 12, 31), False),
        (701, date(2025, 12, 31), True),
        (999, date(2026, 1, 1), True),  # UROL 2025 Art.3: 1,000-3,000 households
        (1000, date(2026, 1, 1), False),
        (3000, date(2026, 1, 1), False),
        (3001, date(2026, 1, 1), True),
    ],
)
def test_a_committee_outside_the_usual_household_range_is_only_warned_about(
    households: int, on: date, warned: bool
) -> None:
    warning = households_warning(BOOK, households, on)
    assert bool(warning) is warned
    assert not warned or f"户数 {households} 不在" in warning


def test_rebuilding_is_an_owners_matter_that_needs_three_quarters() -> None:
    votes = {"present_area": 2000, "yes_area": 1500, "present": 40, "yes": 30}
    assert passes(BOOK, "owners_assembly", matter="rebuild", on=TODAY, **votes) is True
    short = votes | {"yes": 29}
    assert passes(BOOK, "owners_assembly", matter="rebuild", on=TODAY, **short) is False
    assert passes(BOOK, "owners_assembly", matter="general", on=TODAY, **short) is True  # 29/40 is over half
    assert owners_minimum_yes_share(BOOK, "rebuild", on=TODAY) == Fraction(1, 2)


@pytest.mark.parametrize(
    ("basis", "proposers", "eligible", "must_convene", "body"),
    [
        ("rep_assembly_reps", 8, 40, True, "villagers_rep_assembly"),  # a fifth of the representatives (VCOL 26)
        ("rep_assembly_reps", 7, 40, False, "villagers_rep_assembly"),
        ("group_villagers", 10, 30, True, "group_meeting"),  # a third of the group's villagers (SH-VC 19)
        ("group_villagers", 9, 30, False, "group_meeting"),
        ("owners", 12, 60, True, "owners_assembly"),  # 20% of the owners: an extraordinary meeting
        ("owners", 11, 60, False, "owners_assembly"),
    ],
)
def test_petitions_for_a_representative_assembly_a_group_meeting_and_an_owners_meeting(
    basis: str, proposers: int, eligible: int, must_convene: bool, body: str
) -> None:
    assert petition_requires_assembly(BOOK, basis, proposers, eligible, on=TODAY) is must_convene
    assert PETITION_BODIES[basis] == body


@pytest.mark.parametrize(
    ("counts", "matter", "valid", "passed", "reason"),
    [
        # more than half of the villagers 18+ reply under their real names, more than half of them agree
        ({"eligible": 300, "replied": 151, "yes": 76}, "general", True, True, None),
        ({"eligible": 300, "replied": 150, "yes": 150}, "general", False, False, "书面征求意见无效"),
        # ... or two thirds of the households
        (
            {"eligible": 300, "replied": 0, "eligible_households": 90, "replied_households": 60, "yes": 31},
            "general",
            True,
            False,
            "授权不成立",
        ),
        ({"eligible": 300, "replied": 151, "yes": 75}, "general", True, False, "未达答复数 151 的超过 1/2"),
        # a village code is never delegated, whatever the replies
        ({"eligible": 300, "replied": 300, "yes": 300}, "convention", True, False, "不得授权"),
    ],
)
def test_a_written_consultation_delegates_to_the_representative_assembly(
    counts: dict, matter: str, valid: bool, passed: bool, reason: str | None
) -> None:
    result = written_delegation(BOOK, matter=matter, on=TODAY, **counts)
    assert (result["valid"], result["passed"]) == (valid, passed)
    assert reason is None or any(reason in r for r in result["reasons"]), result["reasons"]


@pytest.mark.parametrize(
    ("body", "counts", "problem"),
    [
        ("residents_committee", {"members": 4}, "不在法定的 5–9 人之间"),
        ("residents_committee", {"members": 5}, None),
        ("residents_committee", {"members": 9}, None),
        ("residents_committee", {"members": 10}, "不在法定的 5–9 人之间"),
        ("supervision_committee", {"members": 2}, "3–7"),
        ("supervision_committee", {"members": 3}, None),
        ("supervision_committee", {"members": 7}, None),
        ("supervision_committee", {"members": 8}, "3–7"),
        ("villagers_committee", {"members": 7}, None),
        # 35 representatives, 4/5 of the 43 members; 15 women (a third of 43 is 14.33)
        ("villagers_rep_assembly", {"members": 43, "reps": 35, "women_reps": 15}, None),
        ("villagers_rep_assembly", {"members": 42, "reps": 34, "women_reps": 14}, "少于 35 人"),
        ("villagers_rep_assembly", {"members": 45, "reps": 35, "women_reps": 15}, "未达组成人员 45 人的4/5 以上"),
        ("villagers_rep_assembly", {"members": 43, "reps": 35, "women_reps": 14}, "妇女村民代表 14 人"),
        ("villagers_rep_assembly", {"members": 43, "reps": 35, "women_reps": 15, "households": 525}, None),
        ("villagers_rep_assembly", {"members": 43, "reps": 35, "women_reps": 15, "households": 526}, "每 5–15 户"),
        ("villagers_rep_assembly", {"members": 43, "reps": 35, "women_reps": 15, "households": 174}, "每 5–15 户"),
    ],
)
def test_a_body_is_lawfully_composed(body: str, counts: dict, problem: str | None) -> None:
    problems = composition_problems(BOOK, body, on=TODAY, **counts)
    if problem is None:
        assert problems == []
    else:
        assert any(problem in p for p in problems), problems


@pytest.mark.parametrize(
    ("combined", "chosen", "revisions", "problem"),
    [
        ("reject", "reject", 0, None),  # the government may always reject
        ("admit", "reject", 0, None),
        ("reject", "admit", 0, "不能审定为「准入」"),  # a failed legality review cannot be overridden
        ("return_for_revision", "admit", 1, "不能审定为「准入」"),
        ("admit", "admit_temporary", 0, "不能审定为「临时准入」"),  # temporary admission is for emergencies
        ("admit_temporary", "admit", 0, "不能审定为「准入」"),
        ("admit_temporary", "admit_temporary", 0, None),
        ("return_for_revision", "return_for_revision", 1, None),
        ("admit", "return_for_revision", 1, None),
        ("return_for_revision", "return_for_revision", 2, "达到上限 2 次"),  # returned twice already
    ],
)
def test_the_district_government_decides_within_what_the_reviews_allow(
    combined: str, chosen: str, revisions: int, problem: str | None
) -> None:
    problems = approval_problems(BOOK, combined=combined, chosen=chosen, revisions=revisions, on=TODAY)
    if problem is None:
        assert problems == []
    else:
        assert any(problem in p for p in problems), problems


def test_the_statutory_numbers_are_in_the_table_with_their_law_and_the_assumed_ones_marked() -> None:
    expected = {
        "deliberation.residents_assembly.min_meetings_per_year": (1, "第十一条", False),
        "deliberation.village_query_answer_days": (15, "第二十四条", False),
        "deliberation.village_supervision_meeting_days": (15, "第二十六条", False),
        "composition.villagers_rep_assembly.min_reps": (35, "第十七条", False),
        "deliberation.elevator_retrofit.max_subsidy_yuan": (240000, "每台补贴上限", True),
        "deliberation.elevator_retrofit.plan_notice_days": (10, "—", True),
        "service.elderly_care.requires_shanghai_hukou": (True, "—", True),
        "deliberation.owners_mediation_max_rounds": (1, "第三十三条", True),  # 上海市城市更新条例: mediation
    }
    for key, (value, article, assumed) in expected.items():
        rule = BOOK.get(key, TODAY)
        assert (rule.value, rule.article, rule.assumed) == (value, article, assumed), key
    near_dibao = BOOK.get("service.severe_disability.monthly_amount_near_dibao", date(2025, 7, 1))
    assert near_dibao.value == 320 and near_dibao.legal_basis_version == "SH_DISABILITY_SUBSIDY_2025"
    with pytest.raises(RuleBroken):
        BOOK.get("service.severe_disability.monthly_amount_near_dibao", date(2025, 6, 30))
    # the amounts come from the disabled persons' federation and the civil affairs bureau, not 沪民基发〔2021〕7号
    for rule in BOOK.versions("service.severe_disability.monthly_amount"):
        assert "残疾人联合会" in rule.law and "7号" not in rule.law + rule.article
