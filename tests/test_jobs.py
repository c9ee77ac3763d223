"""An admin fires a waiting timer by hand; the instance runs on from it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from engine import Engine
from engine.errors import NotAllowed, NotFound
from engine.spiff import timer_jobs
from tests.conftest import DATA, who

pytestmark = pytest.mark.usefixtures("org")


def test_an_admin_fires_a_publicity_timer_now_and_the_next_step_appears(engine: Engine) -> None:
    engine.deploy({"timer_wait.bpmn": (DATA / "engine" / "timer_wait.bpmn").read_bytes()})
    instance = engine.start("publicity_wait", "qiaoyi", by=who(engine, "wang"))
    assert instance["status"] == "running" and instance["tasks"] == []
    with engine.reading() as session:
        from engine.models import ProcessInstance

        live = engine.store.load(session, session.get(ProcessInstance, instance["id"]))
    [timer] = timer_jobs.waiting_timers(live.workflow)
    assert timer.element_id == "publicity_period"
    expected = datetime.now(UTC) + timedelta(days=7)
    assert abs((timer.due_at - expected).total_seconds()) < 60

    with pytest.raises(NotAllowed):
        engine.execute_job(instance["id"], timer.task_id, by=who(engine, "wang"))
    with pytest.raises(NotFound):
        engine.execute_job(instance["id"], "not-a-job", by=who(engine, "admin"))
    fired = engine.execute_job(instance["id"], timer.task_id, by=who(engine, "admin"))
    assert fired["element_id"] == "publicity_period"
    shown = engine.get_instance(instance["id"])
    assert [t["element_id"] for t in shown["tasks"]] == ["close_publicity"]
    last = [e for e in engine.history(instance["id"]) if e["action"] == "job_executed"]
    assert last[0]["actor"]["username"] == "admin"
    with pytest.raises(NotFound):
        engine.execute_job(instance["id"], timer.task_id, by=who(engine, "admin"))  # it has fired
