"""A petition runs end to end through the persisted engine, on SQLite and on PostgreSQL."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from engine import Engine
from engine.config import Settings
from engine.errors import Conflict, FormInvalid, NotAllowed, TaskClosed
from engine.models import AuditEvent, ProcessDefinition, WorkflowTask
from tests.conftest import who

pytestmark = pytest.mark.usefixtures("petition")


def start_petition(engine: Engine, org_unit: str = "qiaoyi", **variables) -> dict:
    return engine.start(
        "petition_review",
        org_unit,
        by=who(engine, "wang" if org_unit == "qiaoyi" else "shen"),
        business_key="YT-2026-001",
        variables=variables,
    )


def test_a_petition_with_enough_signatures_goes_to_the_subdistrict_and_ends_reviewed(engine: Engine) -> None:
    instance = start_petition(engine)
    assert instance["status"] == "running"
    assert instance["version"] == 1
    [register] = instance["tasks"]
    assert register["element_id"] == "register_issue"
    assert register["name"] == "登记议题"
    assert register["candidate"] == {"role": "residents_committee", "org_unit": "qiaoyi"}

    detail = engine.get_task(register["id"], by=who(engine, "wang"))
    assert detail["why"] == "residents_committee of 桥一居委会, because the instance belongs to 桥一居委会"
    assert detail["form"]["key"] == "petition_register"

    done = engine.complete(
        register["id"],
        who(engine, "wang"),
        {"title": "加装电梯", "proposer_count": 30, "eligible_count": 100},
    )
    assert done["instance"]["status"] == "running"
    [review] = done["next_tasks"]
    assert review["element_id"] == "review_petition"
    assert review["candidate"] == {"role": "subdistrict_office", "org_unit": "wlq"}
    assert engine.get_task(review["id"])["why"] == (
        "subdistrict_office of 五里桥街道, because the instance belongs to 桥一居委会"
    )

    # the subdistrict official sees it in the group inbox; the committee official does not
    assert [t["id"] for t in engine.inbox(who(engine, "zhang"), scope="candidate")["items"]] == [review["id"]]
    assert engine.inbox(who(engine, "wang"), scope="candidate")["items"] == []

    final = engine.complete(review["id"], who(engine, "zhang"), {"decision": "approve", "opinion": "同意"})
    assert final["instance"]["status"] == "completed"
    assert final["next_tasks"] == []

    shown = engine.get_instance(instance["id"])
    assert shown["status"] == "completed"
    assert shown["ended_at"] is not None
    assert shown["variables"]["share"] == 0.3
    assert shown["variables"]["route"] == "review"
    assert shown["variables"]["summary"] == "30/100"
    assert shown["variables"]["decision"] == "approve"

    actions = [(e["action"], e["element_id"]) for e in engine.history(instance["id"])]
    assert actions == [
        ("instance_started", None),
        ("task_created", "register_issue"),
        ("task_completed", "register_issue"),
        ("gateway_taken", "route_by_share"),
        ("task_created", "review_petition"),
        ("task_completed", "review_petition"),
        ("end_event_reached", "end_reviewed"),
        ("instance_completed", None),
    ]
    history = engine.history(instance["id"])
    assert history[3]["data"]["to"] == ["review_petition"]
    assert history[2]["actor"] == {"username": "wang", "role": "residents_committee", "org_unit": "qiaoyi"}
    assert history[2]["data"]["data"] == {"title": "加装电梯", "proposer_count": 30, "eligible_count": 100}
    assert all(e["prev_hash"] == p["hash"] for p, e in zip(history, history[1:], strict=False))
    assert engine.verify_audit(instance["id"]).ok
    assert engine.verify_audit().ok


def test_a_petition_below_the_threshold_is_filed_without_a_review(engine: Engine) -> None:
    instance = start_petition(engine)
    done = engine.complete(
        instance["tasks"][0]["id"],
        who(engine, "wang"),
        {"title": "路灯", "proposer_count": 5, "eligible_count": 100},
    )
    assert done["instance"]["status"] == "completed"
    events = engine.history(instance["id"])
    assert [e["data"]["to"] for e in events if e["action"] == "gateway_taken"] == [["end_filed"]]


def test_a_village_instance_is_worked_by_the_villagers_committee_and_the_township(engine: Engine) -> None:
    instance = start_petition(engine, org_unit="xinye")
    [register] = instance["tasks"]
    assert register["candidate"] == {"role": "villagers_committee", "org_unit": "xinye"}
    done = engine.complete(
        register["id"],
        who(engine, "shen"),
        {"title": "村道修缮", "proposer_count": 50, "eligible_count": 100},
    )
    [review] = done["next_tasks"]
    assert review["candidate"] == {"role": "township_government", "org_unit": "zh"}
    assert "庄行镇" in engine.get_task(review["id"])["why"]
    engine.complete(review["id"], who(engine, "qian"), {"decision": "approve"})


def test_only_candidates_may_complete_a_task(engine: Engine) -> None:
    instance = start_petition(engine)
    task_id = instance["tasks"][0]["id"]
    data = {"title": "t", "proposer_count": 30, "eligible_count": 100}
    with pytest.raises(NotAllowed, match="not a candidate"):
        engine.complete(task_id, who(engine, "chen"), data)  # the committee next door
    with pytest.raises(NotAllowed):
        engine.complete(task_id, who(engine, "zhang"), data)  # right place, wrong role
    with pytest.raises(NotAllowed):
        engine.claim(task_id, who(engine, "auditor"))
    review_id = engine.complete(task_id, who(engine, "wang"), data)["next_tasks"][0]["id"]
    with pytest.raises(NotAllowed):
        engine.complete(review_id, who(engine, "wu"), {"decision": "approve"})  # another subdistrict


def test_a_claimed_task_belongs_to_its_claimant_until_released(engine: Engine) -> None:
    instance = start_petition(engine)
    review_id = engine.complete(
        instance["tasks"][0]["id"],
        who(engine, "wang"),
        {"title": "t", "proposer_count": 30, "eligible_count": 100},
    )["next_tasks"][0]["id"]
    assert engine.claim(review_id, who(engine, "liu"))["assignee"] == "liu"
    assert engine.claim(review_id, who(engine, "liu"))["assignee"] == "liu"  # a double click is fine
    with pytest.raises(Conflict, match="already claimed by liu"):
        engine.claim(review_id, who(engine, "zhang"))
    with pytest.raises(Conflict, match="claimed by liu"):
        engine.complete(review_id, who(engine, "zhang"), {"decision": "approve"})
    assert [t["id"] for t in engine.inbox(who(engine, "liu"), scope="mine")["items"]] == [review_id]
    assert engine.inbox(who(engine, "zhang"), scope="candidate")["items"] == []
    engine.unclaim(review_id, who(engine, "liu"))
    engine.complete(review_id, who(engine, "zhang"), {"decision": "reject"})
    with pytest.raises(TaskClosed, match="already completed by zhang at"):
        engine.complete(review_id, who(engine, "liu"), {"decision": "approve"})
    actions = [e["action"] for e in engine.history(instance["id"])]
    assert actions.count("task_claimed") == 1
    assert actions.count("task_unclaimed") == 1


def test_a_wrong_form_is_answered_per_field_and_changes_nothing(engine: Engine) -> None:
    instance = start_petition(engine)
    task_id = instance["tasks"][0]["id"]
    events_before = len(engine.history(instance["id"]))
    with pytest.raises(FormInvalid) as caught:
        engine.complete(task_id, who(engine, "wang"), {"proposer_count": "many", "eligible_count": 100})
    fields = {e.field for e in caught.value.errors}
    assert {"title", "proposer_count"} <= fields
    assert len(engine.history(instance["id"])) == events_before
    assert engine.get_task(task_id)["status"] == "open"
    engine.complete(task_id, who(engine, "wang"), {"title": "t", "proposer_count": 1, "eligible_count": 100})


def test_a_fresh_engine_continues_an_instance_from_the_database_alone(engine: Engine, db_url: str) -> None:
    instance = start_petition(engine)
    other = Engine(Settings(database_url=db_url))  # another process: empty caches
    try:
        done = other.complete(
            instance["tasks"][0]["id"],
            who(other, "wang"),
            {"title": "t", "proposer_count": 40, "eligible_count": 100},
        )
        review_id = done["next_tasks"][0]["id"]
        # the first engine's cached workflow is now stale; it must notice and reload
        final = engine.complete(review_id, who(engine, "zhang"), {"decision": "approve"})
        assert final["instance"]["status"] == "completed"
        assert engine.get_instance(instance["id"])["variables"]["share"] == 0.4
    finally:
        other.close()


def test_finished_tasks_are_written_once_and_never_rewritten(engine: Engine) -> None:
    instance = start_petition(engine)
    with engine.reading() as session:
        before = {
            r.id: r.body
            for r in session.execute(select(WorkflowTask).where(WorkflowTask.instance_id == instance["id"])).scalars()
            if r.state & 64  # COMPLETED
        }
    assert before
    engine.complete(
        instance["tasks"][0]["id"],
        who(engine, "wang"),
        {"title": "t", "proposer_count": 40, "eligible_count": 100},
    )
    with engine.reading() as session:
        after = {
            r.id: r.body
            for r in session.execute(select(WorkflowTask).where(WorkflowTask.instance_id == instance["id"])).scalars()
        }
    assert all(after[task_id] == body for task_id, body in before.items())


def test_instances_keep_their_version_when_a_new_one_is_deployed(engine: Engine) -> None:
    from tests.conftest import PETITION_BUNDLE, read_bundle

    old = start_petition(engine)
    files = read_bundle(*PETITION_BUNDLE)
    files["petition_review.bpmn"] = files["petition_review.bpmn"].replace("街道审查".encode(), "街道复核".encode())
    result = engine.deploy(files, by=who(engine, "designer"))
    assert {p["key"]: p["version"] for p in result["processes"]} == {"petition_review": 2}
    again = engine.deploy(files, by=who(engine, "designer"))
    assert again["processes"][0] == {
        "key": "petition_review",
        "version": 2,
        "name": "议题联名审查",
        "unchanged": True,
    }
    new = start_petition(engine)
    assert new["version"] == 2
    data = {"title": "t", "proposer_count": 40, "eligible_count": 100}
    old_review = engine.complete(old["tasks"][0]["id"], who(engine, "wang"), data)["next_tasks"][0]
    new_review = engine.complete(new["tasks"][0]["id"], who(engine, "wang"), data)["next_tasks"][0]
    assert old_review["name"] == "街道审查"
    assert new_review["name"] == "街道复核"
    pinned = engine.start("petition_review", "qiaoyi", by=who(engine, "wang"), version=1)
    assert pinned["version"] == 1
    with engine.reading() as session:
        assert session.execute(select(func.count()).select_from(ProcessDefinition)).scalar_one() == 2


def test_designers_deploy_and_officials_do_not(engine: Engine) -> None:
    from tests.conftest import PETITION_BUNDLE, read_bundle

    with pytest.raises(NotAllowed):
        engine.deploy(read_bundle(*PETITION_BUNDLE), by=who(engine, "wang"))


def test_an_official_cannot_start_a_procedure_outside_their_reach(engine: Engine) -> None:
    with pytest.raises(NotAllowed):
        engine.start("petition_review", "yunnan", by=who(engine, "wang"))
    with pytest.raises(NotAllowed):
        engine.start("petition_review", "qiaoyi", by=who(engine, "auditor"))


def test_audit_rows_cannot_be_updated_or_deleted(engine: Engine) -> None:
    start_petition(engine)
    from sqlalchemy import delete, update

    for statement in (update(AuditEvent).values(actor="mallory"), delete(AuditEvent)):
        with pytest.raises(Exception, match="append-only"), engine.transaction() as session:
            session.execute(statement)
    assert engine.verify_audit().ok
