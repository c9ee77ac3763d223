"""Admins suspend, resume and cancel instances; removed audit rows are named by verification."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from engine import Engine
from engine.errors import Conflict, NotAllowed
from tests.conftest import who

pytestmark = pytest.mark.usefixtures("petition")
DATA = {"title": "t", "proposer_count": 30, "eligible_count": 100}


def test_a_suspended_instance_refuses_work_until_resumed(engine: Engine) -> None:
    instance = engine.start("petition_review", "qiaoyi", by=who(engine, "wang"))
    task_id = instance["tasks"][0]["id"]
    with pytest.raises(NotAllowed):
        engine.suspend(instance["id"], by=who(engine, "wang"))
    assert engine.suspend(instance["id"], by=who(engine, "admin"))["status"] == "suspended"
    with pytest.raises(Conflict, match="suspended"):
        engine.complete(task_id, who(engine, "wang"), DATA)
    with pytest.raises(Conflict):
        engine.suspend(instance["id"], by=who(engine, "admin"))
    assert engine.resume(instance["id"], by=who(engine, "admin"))["status"] == "running"
    assert engine.complete(task_id, who(engine, "wang"), DATA)["instance"]["status"] == "running"
    actions = [e["action"] for e in engine.history(instance["id"])]
    assert "instance_suspended" in actions and "instance_resumed" in actions


def test_a_cancelled_instance_withdraws_its_open_tasks(engine: Engine) -> None:
    instance = engine.start("petition_review", "qiaoyi", by=who(engine, "wang"))
    task_id = instance["tasks"][0]["id"]
    cancelled = engine.cancel(instance["id"], "重复登记", by=who(engine, "admin"))
    assert cancelled["status"] == "cancelled"
    assert cancelled["ended_at"] is not None
    assert cancelled["tasks"] == []
    assert engine.get_task(task_id)["status"] == "cancelled"
    assert engine.inbox(who(engine, "wang"), scope="all")["items"] == []
    with pytest.raises(Conflict, match="withdrawn"):
        engine.complete(task_id, who(engine, "wang"), DATA)
    with pytest.raises(Conflict, match="already cancelled"):
        engine.cancel(instance["id"], "again", by=who(engine, "admin"))
    last = engine.history(instance["id"])[-1]
    assert last["action"] == "instance_cancelled" and last["data"] == {"reason": "重复登记"}
    assert engine.verify_audit(instance["id"]).ok


def test_verification_names_audit_rows_removed_from_the_end_of_a_chain(engine: Engine) -> None:
    instance = engine.start("petition_review", "qiaoyi", by=who(engine, "wang"))
    engine.complete(instance["tasks"][0]["id"], who(engine, "wang"), DATA)
    last_seq = engine.history(instance["id"])[-1]["seq"]
    with engine.sql.begin() as conn:
        if engine.dialect == "postgresql":
            conn.execute(text("ALTER TABLE audit_event DISABLE TRIGGER audit_event_append_only"))
        else:
            conn.execute(text("DROP TRIGGER audit_event_no_delete"))
        conn.execute(
            text("DELETE FROM audit_event WHERE stream = :s AND seq = :q"), {"s": instance["id"], "q": last_seq}
        )
        if engine.dialect == "postgresql":
            conn.execute(text("ALTER TABLE audit_event ENABLE TRIGGER audit_event_append_only"))
    result = engine.verify_audit()
    assert not result.ok
    [broken] = result.broken
    assert broken.instance_id == instance["id"]
    assert "removed" in broken.reason
