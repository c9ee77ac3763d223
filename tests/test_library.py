"""The shipped process library: `govflow init --demo` loads it and the deliberation runs its paths."""

from __future__ import annotations

import pytest

from engine import Engine
from engine.demo import DEMO_PASSWORD, USERS, load_demo

ISSUE = {
    "title": "加装电梯",
    "description": "3 号楼加装电梯",
    "source": "resident",
    "proposer_count": 40,
    "proposer_basis": "households",
    "eligible_residents": 500,
    "eligible_households": 180,
    "resident_groups": 6,
}
CONSULTATION = {
    "meeting_type": "hearing",
    "meeting_date": "2026-11-20",
    "participants": 25,
    "consensus_reached": True,
    "minutes": "听证会纪要",
}


@pytest.fixture
def demo(engine: Engine) -> Engine:
    result = load_demo(engine)
    assert "deliberation" in [p["key"] for p in result["processes"]]
    again = load_demo(engine)  # make run twice: nothing new
    assert all(p["unchanged"] for p in again["processes"])
    return engine


def run_to_vote(engine: Engine, org_unit: str, committee_user: str, category: str = "self_governance") -> dict:
    me = engine.principal(committee_user)
    instance = engine.start("deliberation", org_unit, by=me, business_key="YS-1")
    done = engine.complete(instance["tasks"][0]["id"], me, ISSUE)
    [prior] = done["next_tasks"]
    assert prior["element_id"] == "prior_deliberation"
    done = engine.complete(prior["id"], me, {"category": category, "solicitation_summary": "征询 3 次"})
    return {"instance": instance, "next": done["next_tasks"]}


def vote(engine: Engine, committee_user: str, step: dict, **votes) -> dict:
    me = engine.principal(committee_user)
    [consult] = step["next"]
    [ballot] = engine.complete(consult["id"], me, CONSULTATION)["next_tasks"]
    assert ballot["element_id"] == "resolution_vote"
    return engine.complete(ballot["id"], me, {"meeting_date": "2026-11-25", **votes})


@pytest.mark.parametrize(
    ("body", "eligible", "present", "yes", "passes"),
    [
        ("residents_assembly", 100, 51, 26, True),
        ("residents_assembly", 100, 50, 50, False),  # quorum is more than half
        ("residents_assembly", 100, 60, 30, False),  # approval is more than half of those present
        ("residents_rep_assembly", 30, 20, 11, True),  # two thirds of members present
        ("residents_rep_assembly", 30, 19, 19, False),
    ],
)
def test_a_resolution_passes_only_with_the_statutory_quorum_and_majority(
    demo: Engine, body: str, eligible: int, present: int, yes: int, passes: bool
) -> None:
    step = run_to_vote(demo, "qiaoyi", "rc_qiaoyi")
    result = vote(
        demo,
        "rc_qiaoyi",
        step,
        body=body,
        eligible_voters=eligible,
        present=present,
        yes=yes,
        no=present - yes,
        abstain=0,
    )
    variables = demo.get_instance(step["instance"]["id"])["variables"]
    assert variables["passed"] is passes
    assert variables["must_convene"] is True  # 40 of 180 households is more than a fifth
    if passes:
        [publish] = result["next_tasks"]
        assert publish["element_id"] == "publish_resolution"
        final = demo.complete(
            publish["id"],
            demo.principal("rc_qiaoyi"),
            {"channel": "board", "published_on": "2026-11-26", "notice_text": "决议公示"},
        )
        assert final["instance"]["status"] == "completed"
    else:
        assert result["instance"]["status"] == "completed"
        assert demo.history(step["instance"]["id"])[-2]["element_id"] == "end_not_passed"


def test_a_government_matter_is_referred_to_the_subdistrict_office(demo: Engine) -> None:
    step = run_to_vote(demo, "qiaoyi", "rc_qiaoyi", category="government_referral")
    [referral] = step["next"]
    assert referral["candidate"] == {"role": "subdistrict_office", "org_unit": "wuliqiao"}
    done = demo.complete(referral["id"], demo.principal("street_wuliqiao"), {"authority": "区房管局"})
    assert done["instance"]["status"] == "completed"


def test_a_village_deliberation_is_worked_by_the_villagers_committee(demo: Engine) -> None:
    step = run_to_vote(demo, "xinye", "vc_xinye")
    result = vote(
        demo,
        "vc_xinye",
        step,
        body="villagers_assembly",
        eligible_voters=300,
        present=200,
        yes=150,
        no=50,
        abstain=0,
    )
    assert result["next_tasks"][0]["candidate"] == {"role": "villagers_committee", "org_unit": "xinye"}


def test_every_demo_login_works_with_the_printed_password(demo: Engine) -> None:
    for username, _name, role, org_unit in USERS:
        person = demo.authenticate(username, DEMO_PASSWORD)
        assert person is not None and person.holds(role, org_unit)
    assert demo.authenticate("rc_qiaoyi", "wrong-password") is None
