"""Officials hand tasks on: transfer, delegate, return, withdraw, comment and urge, on SQLite and PostgreSQL.

The petition goes from 登记议题 (wang, residents' committee of 桥一) to 街道审查 (zhang and liu, subdistrict
office of 五里桥); wu works at another subdistrict, chen at the committee next door.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from engine import Engine
from engine.config import Settings
from engine.errors import Conflict, NotAllowed, RuleBroken, TaskClosed
from engine.models import HumanTask
from tests.conftest import PASSWORD, who

pytestmark = pytest.mark.usefixtures("petition")

ISSUE = {"title": "加装电梯", "proposer_count": 30, "eligible_count": 100}


def start(engine: Engine, by: str = "wang") -> dict:
    return engine.start("petition_review", "qiaoyi", by=who(engine, by), business_key="YT-2026-007")


def to_review(engine: Engine) -> tuple[str, str, str]:
    """A petition registered by wang, waiting for the subdistrict's review: (instance, register, review)."""
    instance = start(engine)
    register_id = instance["tasks"][0]["id"]
    [review] = engine.complete(register_id, who(engine, "wang"), ISSUE)["next_tasks"]
    return instance["id"], register_id, review["id"]


def actions(engine: Engine, instance_id: str) -> list[str]:
    return [e["action"] for e in engine.history(instance_id)]


def event(engine: Engine, instance_id: str, action: str) -> dict:
    return next(e for e in reversed(engine.history(instance_id)) if e["action"] == action)


def add_colleague(engine: Engine) -> None:
    """zhou works at the subdistrict's acceptance centre: a colleague of zhang, not a candidate of the review."""
    engine.add_user("zhou", PASSWORD, [("acceptance_center", "wlq")])


# --- 转办 ------------------------------------------------------------------------------------------


def test_an_official_transfers_a_claimed_task_to_a_colleague_who_then_completes_it(engine: Engine) -> None:
    instance_id, _, review_id = to_review(engine)
    engine.claim(review_id, who(engine, "zhang"))

    moved = engine.transfer(review_id, who(engine, "zhang"), "liu", comment="请刘同志办理")
    assert moved["assignee"] == "liu"
    assert engine.transfer(review_id, who(engine, "zhang"), "liu", comment="请刘同志办理") == moved  # double click
    assert [t["id"] for t in engine.inbox(who(engine, "liu"), scope="mine")["items"]] == [review_id]
    assert engine.inbox(who(engine, "zhang"), scope="mine")["items"] == []
    transferred = event(engine, instance_id, "task_transferred")
    assert transferred["data"] == {"task_id": review_id, "from": "zhang", "to": "liu", "comment": "请刘同志办理"}
    assert transferred["actor"]["username"] == "zhang"
    assert actions(engine, instance_id).count("task_transferred") == 1
    [note] = engine.comments(review_id, who(engine, "liu"))
    assert (note["kind"], note["text"], note["author"]["username"]) == ("transfer", "请刘同志办理", "zhang")

    with pytest.raises(Conflict, match="claimed by liu"):
        engine.complete(review_id, who(engine, "zhang"), {"decision": "approve"})
    done = engine.complete(review_id, who(engine, "liu"), {"decision": "approve"})
    assert done["instance"]["status"] == "completed"
    assert engine.verify_audit(instance_id).ok


def test_a_task_is_transferred_only_to_an_active_candidate(engine: Engine) -> None:
    _, _, review_id = to_review(engine)
    with pytest.raises(RuleBroken, match="wu is not a candidate for “街道审查”"):
        engine.transfer(review_id, who(engine, "zhang"), "wu")  # another subdistrict
    with pytest.raises(RuleBroken, match="wang is not a candidate"):
        engine.transfer(review_id, who(engine, "zhang"), "wang")  # the committee, not the subdistrict office
    with pytest.raises(RuleBroken, match="no active user 'ghost'"):
        engine.transfer(review_id, who(engine, "zhang"), "ghost")
    task = engine.get_task(review_id)
    assert (task["status"], task["assignee"]) == ("open", None)


def test_only_the_assignee_a_candidate_of_an_unclaimed_task_or_an_admin_may_transfer_it(engine: Engine) -> None:
    instance_id, _, review_id = to_review(engine)
    with pytest.raises(NotAllowed, match="wang is not a candidate"):
        engine.transfer(review_id, who(engine, "wang"), "liu")
    with pytest.raises(NotAllowed):
        engine.transfer(review_id, who(engine, "auditor"), "liu")
    assert engine.transfer(review_id, who(engine, "zhang"), "liu")["assignee"] == "liu"  # unclaimed: a candidate
    with pytest.raises(Conflict, match="already claimed by liu"):
        engine.transfer(review_id, who(engine, "zhang"), "zhang")
    assert engine.transfer(review_id, who(engine, "admin"), "zhang")["assignee"] == "zhang"
    assert event(engine, instance_id, "task_transferred")["actor"] == {
        "username": "admin",
        "role": "admin",
        "org_unit": "sh",
    }


# --- 委派 ------------------------------------------------------------------------------------------


def test_a_delegated_task_comes_back_to_its_owner_who_confirms_the_delegates_draft(engine: Engine) -> None:
    add_colleague(engine)
    instance_id, _, review_id = to_review(engine)
    engine.claim(review_id, who(engine, "zhang"))

    delegated = engine.delegate(review_id, who(engine, "zhang"), "zhou", comment="请先核对联名材料")
    assert (delegated["owner"], delegated["assignee"], delegated["delegation"]) == ("zhang", "zhou", "pending")
    assert engine.delegate(review_id, who(engine, "zhang"), "zhou") == delegated  # double click
    assert [t["id"] for t in engine.inbox(who(engine, "zhou"), scope="mine")["items"]] == [review_id]

    back = engine.complete(review_id, who(engine, "zhou"), {"decision": "approve", "opinion": "材料齐全"})
    assert back["instance"]["status"] == "running"
    [same] = back["next_tasks"]
    assert (same["id"], same["status"], same["assignee"], same["delegation"]) == (
        review_id,
        "open",
        "zhang",
        "resolved",
    )
    shown = engine.get_task(review_id, by=who(engine, "zhang"))
    assert shown["data"]["decision"] == "approve" and shown["data"]["opinion"] == "材料齐全"
    assert shown["owner"] == "zhang"
    with pytest.raises(Conflict, match="already handed “街道审查” back to zhang"):
        engine.complete(review_id, who(engine, "zhou"), {"decision": "reject"})  # the delegate clicks again

    # the owner confirms, changing the opinion
    done = engine.complete(review_id, who(engine, "zhang"), {"opinion": "材料齐全，同意召开"})
    assert done["instance"]["status"] == "completed"
    variables = engine.get_instance(instance_id)["variables"]
    assert (variables["decision"], variables["opinion"]) == ("approve", "材料齐全，同意召开")
    history = engine.history(instance_id)
    assert [e["action"] for e in history if e["element_id"] == "review_petition"] == [
        "task_created",
        "task_claimed",
        "task_delegated",
        "task_resolved",
        "task_completed",
    ]
    resolved = event(engine, instance_id, "task_resolved")
    assert resolved["actor"] == {"username": "zhou", "role": "acceptance_center", "org_unit": "wlq"}
    assert resolved["data"]["data"] == {"decision": "approve", "opinion": "材料齐全"}
    assert event(engine, instance_id, "task_completed")["actor"]["username"] == "zhang"
    assert [c["kind"] for c in engine.comments(review_id, who(engine, "zhang"))] == ["delegate"]
    assert engine.verify_audit(instance_id).ok


def test_the_owner_cannot_complete_release_or_hand_on_a_task_while_it_is_delegated(engine: Engine) -> None:
    add_colleague(engine)
    _, _, review_id = to_review(engine)
    engine.delegate(review_id, who(engine, "zhang"), "zhou")  # unclaimed: zhang, a candidate, becomes its owner
    with pytest.raises(Conflict, match="delegated to zhou; it comes back to zhang"):
        engine.complete(review_id, who(engine, "zhang"), {"decision": "approve"})
    with pytest.raises(Conflict, match="delegated to zhou by zhang"):
        engine.unclaim(review_id, who(engine, "zhou"))
    with pytest.raises(Conflict, match="delegated to zhou by zhang"):
        engine.transfer(review_id, who(engine, "zhang"), "liu")
    with pytest.raises(Conflict, match="delegated to zhou by zhang"):
        engine.return_task(review_id, who(engine, "zhou"), "材料不全")
    with pytest.raises(Conflict, match="already claimed by zhou"):
        engine.claim(review_id, who(engine, "liu"))
    with pytest.raises(Conflict, match="delegated to zhou by zhang"):
        engine.delegate(review_id, who(engine, "zhang"), "liu")
    task = engine.get_task(review_id)
    assert (task["owner"], task["assignee"], task["delegation"]) == ("zhang", "zhou", "pending")


def test_a_task_is_delegated_only_to_a_colleague_of_its_unit(engine: Engine) -> None:
    _, _, review_id = to_review(engine)
    with pytest.raises(RuleBroken, match="wang holds no official role at 五里桥街道"):
        engine.delegate(review_id, who(engine, "zhang"), "wang")
    with pytest.raises(RuleBroken, match="cannot be delegated to yourself"):
        engine.delegate(review_id, who(engine, "zhang"), "zhang")
    with pytest.raises(RuleBroken, match="no active user 'ghost'"):
        engine.delegate(review_id, who(engine, "zhang"), "ghost")
    with pytest.raises(NotAllowed):
        engine.delegate(review_id, who(engine, "wu"), "liu")
    assert engine.get_task(review_id)["delegation"] is None


# --- 退回 ------------------------------------------------------------------------------------------


def test_a_returned_review_goes_back_to_the_official_who_registered_it_and_the_case_then_completes(
    engine: Engine,
) -> None:
    instance_id, register_id, review_id = to_review(engine)
    engine.claim(review_id, who(engine, "zhang"))

    returned = engine.return_task(review_id, who(engine, "zhang"), "联名人数与名册不符，请核对")
    assert returned["instance"]["status"] == "running"
    [again] = returned["next_tasks"]
    assert (again["id"], again["element_id"], again["assignee"]) == (register_id, "register_issue", "wang")
    assert engine.get_task(review_id)["status"] == "cancelled"
    assert engine.get_task(register_id)["status"] == "open"
    assert [t["id"] for t in engine.inbox(who(engine, "wang"), scope="mine")["items"]] == [register_id]
    assert engine.inbox(who(engine, "zhang"), scope="all")["items"] == []
    assert event(engine, instance_id, "task_returned")["data"] == {
        "task_id": review_id,
        "to_element": "register_issue",
        "to_task_id": register_id,
        "reason": "联名人数与名册不符，请核对",
    }
    assert actions(engine, instance_id)[-3:] == ["task_returned", "task_reopened", "task_cancelled"]
    [reason] = engine.comments(register_id, who(engine, "wang"))
    assert (reason["kind"], reason["text"], reason["author"]["username"]) == (
        "return",
        "联名人数与名册不符，请核对",
        "zhang",
    )
    with pytest.raises(TaskClosed):
        engine.return_task(review_id, who(engine, "zhang"), "联名人数与名册不符，请核对")  # double click

    fixed = engine.complete(register_id, who(engine, "wang"), ISSUE | {"proposer_count": 40})
    [review_again] = fixed["next_tasks"]
    assert review_again["element_id"] == "review_petition" and review_again["id"] != review_id
    assert review_again["assignee"] is None
    done = engine.complete(review_again["id"], who(engine, "liu"), {"decision": "approve"})
    assert done["instance"]["status"] == "completed"
    assert engine.get_instance(instance_id)["variables"]["share"] == 0.4
    assert engine.verify_audit().ok


def test_a_task_is_returned_only_with_a_reason_to_a_step_completed_before_it(engine: Engine) -> None:
    instance = start(engine)
    register_id = instance["tasks"][0]["id"]
    with pytest.raises(RuleBroken, match="nothing to return it to"):
        engine.return_task(register_id, who(engine, "wang"), "请重新登记")
    review_id = engine.complete(register_id, who(engine, "wang"), ISSUE)["next_tasks"][0]["id"]
    with pytest.raises(RuleBroken, match="reason is empty"):
        engine.return_task(review_id, who(engine, "zhang"), "  ")
    with pytest.raises(RuleBroken, match="“街道审查” was not completed on the way"):
        engine.return_task(review_id, who(engine, "zhang"), "退回", to_element="review_petition")
    with pytest.raises(RuleBroken, match="no user task 'nope'"):
        engine.return_task(review_id, who(engine, "zhang"), "退回", to_element="nope")
    assert engine.get_task(review_id)["status"] == "open"
    named = engine.return_task(review_id, who(engine, "zhang"), "退回", to_element="register_issue")
    assert [t["id"] for t in named["next_tasks"]] == [register_id]


def test_only_the_assignee_or_a_candidate_of_an_unclaimed_task_may_return_it(engine: Engine) -> None:
    _, _, review_id = to_review(engine)
    engine.claim(review_id, who(engine, "liu"))
    with pytest.raises(Conflict, match="already claimed by liu"):
        engine.return_task(review_id, who(engine, "zhang"), "材料不全")
    for outsider in ("wu", "admin", "wang"):
        with pytest.raises(NotAllowed):
            engine.return_task(review_id, who(engine, outsider), "材料不全")
    assert engine.get_task(review_id)["status"] == "open"


# --- 撤回 ------------------------------------------------------------------------------------------


def test_an_official_withdraws_a_registration_while_the_review_is_untouched(engine: Engine) -> None:
    instance_id, register_id, review_id = to_review(engine)

    withdrawn = engine.withdraw(register_id, who(engine, "wang"), reason="联名人数登记错了")
    [again] = withdrawn["next_tasks"]
    assert (again["id"], again["status"], again["assignee"]) == (register_id, "open", "wang")
    assert engine.get_task(review_id)["status"] == "cancelled"
    assert engine.inbox(who(engine, "zhang"), scope="candidate")["items"] == []
    assert event(engine, instance_id, "task_withdrawn")["data"] == {
        "task_id": register_id,
        "reason": "联名人数登记错了",
        "followers": [review_id],
    }
    assert [c["kind"] for c in engine.comments(register_id, who(engine, "wang"))] == ["withdraw"]
    with pytest.raises(Conflict, match="already back with you"):
        engine.withdraw(register_id, who(engine, "wang"))  # double click

    [review] = engine.complete(register_id, who(engine, "wang"), ISSUE | {"proposer_count": 35})["next_tasks"]
    done = engine.complete(review["id"], who(engine, "zhang"), {"decision": "approve"})
    assert done["instance"]["status"] == "completed"
    assert engine.get_instance(instance_id)["variables"]["summary"] == "35/100"
    assert engine.verify_audit().ok


def test_a_registration_cannot_be_withdrawn_once_the_review_has_been_claimed(engine: Engine) -> None:
    instance_id, register_id, review_id = to_review(engine)
    engine.claim(review_id, who(engine, "zhang"))
    with pytest.raises(Conflict, match="“街道审查” has already been claimed by zhang"):
        engine.withdraw(register_id, who(engine, "wang"))
    assert engine.get_task(review_id)["status"] == "open"
    assert "task_withdrawn" not in actions(engine, instance_id)


def test_a_registration_cannot_be_withdrawn_once_the_review_has_been_commented_on_or_urged(engine: Engine) -> None:
    _, register_id, review_id = to_review(engine)
    engine.add_comment(review_id, who(engine, "liu"), "先看一下")
    with pytest.raises(Conflict, match="has already been commented on by liu"):
        engine.withdraw(register_id, who(engine, "wang"))
    _, register_id, review_id = to_review(engine)
    engine.urge(review_id, who(engine, "wang"))
    with pytest.raises(Conflict, match="has already been urged"):
        engine.withdraw(register_id, who(engine, "wang"))


def test_only_the_official_who_completed_a_task_may_withdraw_it_while_the_case_runs(engine: Engine) -> None:
    _, register_id, review_id = to_review(engine)
    for other in ("chen", "zhang", "admin"):
        with pytest.raises(NotAllowed, match="Only wang, who completed “登记议题”, may withdraw it"):
            engine.withdraw(register_id, who(engine, other))
    with pytest.raises(Conflict, match="has not been completed"):
        engine.withdraw(review_id, who(engine, "zhang"))
    engine.complete(review_id, who(engine, "zhang"), {"decision": "approve"})
    with pytest.raises(Conflict, match="The case is completed"):
        engine.withdraw(register_id, who(engine, "wang"))


# --- 审批意见 ----------------------------------------------------------------------------------------


def test_officials_comment_on_a_task_and_readers_of_the_case_see_the_comments_in_order(engine: Engine) -> None:
    engine.add_user("huang", PASSWORD, [("district_civil_affairs", "hp")])
    instance_id, _, review_id = to_review(engine)
    first = engine.add_comment(review_id, who(engine, "zhang"), " 材料齐全，建议同意 ")
    assert first["text"] == "材料齐全，建议同意"
    assert first["author"] == {"username": "zhang", "role": "subdistrict_office", "org_unit": "wlq"}
    assert engine.add_comment(review_id, who(engine, "zhang"), "材料齐全，建议同意") == first  # double click
    engine.add_comment(review_id, who(engine, "huang"), "区里关注此事")  # a district official above
    engine.add_comment(review_id, who(engine, "admin"), "请按期办结")

    expected = [
        ("zhang", "材料齐全，建议同意"),
        ("huang", "区里关注此事"),
        ("admin", "请按期办结"),
    ]
    for reader in ("liu", "wang", "auditor", "huang"):
        listed = engine.comments(review_id, who(engine, reader))
        assert [(c["author"]["username"], c["text"]) for c in listed] == expected
    assert {c["kind"] for c in engine.instance_comments(instance_id, who(engine, "auditor"))} == {"comment"}
    assert engine.comments(review_id, who(engine, "huang"))[1]["author"]["org_unit"] == "hp"
    commented = [e for e in engine.history(instance_id) if e["action"] == "task_commented"]
    assert [e["data"]["text"] for e in commented] == [text for _, text in expected]
    engine.complete(review_id, who(engine, "zhang"), {"decision": "approve"})
    assert len(engine.instance_comments(instance_id, who(engine, "wang"))) == 3
    assert engine.verify_audit(instance_id).ok


def test_auditors_and_officials_outside_the_task_may_not_add_comments(engine: Engine) -> None:
    instance_id, register_id, review_id = to_review(engine)
    with pytest.raises(NotAllowed, match="Auditors read the comments"):
        engine.add_comment(review_id, who(engine, "auditor"), "x")
    for outsider in ("wu", "chen", "designer", "wang"):  # wang's committee is below the subdistrict, not above
        with pytest.raises(NotAllowed):
            engine.add_comment(review_id, who(engine, outsider), "x")
    with pytest.raises(NotAllowed):
        engine.comments(review_id, who(engine, "chen"))
    with pytest.raises(NotAllowed):
        engine.instance_comments(instance_id, who(engine, "wu"))
    with pytest.raises(RuleBroken, match="A comment is empty"):
        engine.add_comment(review_id, who(engine, "zhang"), "   ")
    with pytest.raises(RuleBroken, match="2001 characters"):
        engine.add_comment(review_id, who(engine, "zhang"), "意" * 2001)
    with pytest.raises(TaskClosed):
        engine.add_comment(register_id, who(engine, "wang"), "已登记")
    assert engine.add_comment(review_id, who(engine, "zhang"), "意" * 2000)["text"] == "意" * 2000
    assert "task_commented" in actions(engine, instance_id)


# --- 催办 ------------------------------------------------------------------------------------------


def test_the_initiator_urges_a_task_which_rises_in_its_officials_inbox(engine: Engine) -> None:
    instance_id, _, review_id = to_review(engine)
    urged = engine.urge(review_id, who(engine, "wang"), comment="居民在等答复")
    assert (urged["priority"], urged["urged_count"]) == (60, 1)
    with pytest.raises(Conflict, match=r"already urged at \d\d:\d\d"):
        engine.urge(review_id, who(engine, "admin"))  # within ten minutes, by anyone
    assert engine.get_task(review_id)["urged_count"] == 1
    urge = event(engine, instance_id, "task_urged")
    assert urge["actor"]["username"] == "wang"
    assert urge["data"] == {"task_id": review_id, "comment": "居民在等答复", "priority": 60, "urged_count": 1}
    [note] = engine.comments(review_id, who(engine, "zhang"))
    assert (note["kind"], note["text"]) == ("urge", "居民在等答复")

    with engine.transaction() as session:  # eleven minutes later, after many urges
        row = session.get(HumanTask, review_id)
        row.last_urged_at, row.priority = row.last_urged_at - timedelta(minutes=11), 95
    again = engine.urge(review_id, who(engine, "admin"))
    assert (again["priority"], again["urged_count"]) == (100, 2)
    assert engine.verify_audit(instance_id).ok


def test_officials_above_the_task_and_admins_may_urge_it_but_its_candidates_and_outsiders_may_not(
    engine: Engine,
) -> None:
    engine.add_user("huang", PASSWORD, [("district_civil_affairs", "hp")])
    instance = start(engine, by="admin")
    register_id = instance["tasks"][0]["id"]
    for refused in ("wang", "chen", "wu", "auditor", "designer"):  # wang is the task's own candidate
        with pytest.raises(NotAllowed):
            engine.urge(register_id, who(engine, refused))
    assert engine.urge(register_id, who(engine, "zhang"))["urged_count"] == 1  # the subdistrict above
    _, _, review_id = to_review(engine)
    with pytest.raises(NotAllowed, match="zhang works “街道审查” and cannot urge it"):
        engine.urge(review_id, who(engine, "zhang"))
    assert engine.urge(review_id, who(engine, "huang"))["priority"] == 60  # the district above
    assert event(engine, engine.get_task(review_id)["instance_id"], "task_urged")["actor"] == {
        "username": "huang",
        "role": "district_civil_affairs",
        "org_unit": "hp",
    }


def test_a_delegates_draft_is_kept_in_the_database_for_the_owner(engine: Engine, db_url: str) -> None:
    add_colleague(engine)
    instance_id, _, review_id = to_review(engine)
    engine.delegate(review_id, who(engine, "zhang"), "zhou")
    engine.complete(review_id, who(engine, "zhou"), {"decision": "reject", "opinion": "联名不足"})
    other = Engine(Settings(database_url=db_url))  # another process: nothing cached
    try:
        assert other.get_task(review_id, by=who(other, "zhang"))["data"]["opinion"] == "联名不足"
        done = other.complete(review_id, who(other, "zhang"), {})  # confirmed as it is
        assert done["instance"]["status"] == "completed"
        assert other.get_instance(instance_id)["variables"]["decision"] == "reject"
    finally:
        other.close()


def test_a_case_returned_twice_still_reaches_its_end(engine: Engine) -> None:
    instance_id, register_id, review_id = to_review(engine)
    for round_ in range(2):
        engine.return_task(review_id, who(engine, "zhang"), f"第{round_ + 1}次退回")
        assert engine.get_task(register_id)["assignee"] == "wang"
        [review] = engine.complete(register_id, who(engine, "wang"), ISSUE)["next_tasks"]
        review_id = review["id"]
    done = engine.complete(review_id, who(engine, "zhang"), {"decision": "approve"})
    assert done["instance"]["status"] == "completed"
    assert actions(engine, instance_id).count("task_reopened") == 2
    assert [c["text"] for c in engine.instance_comments(instance_id, who(engine, "wang"))] == ["第1次退回", "第2次退回"]
    assert engine.verify_audit(instance_id).ok
