"""An admin fires a waiting timer by hand; the instance runs on from it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from engine import Engine
from engine.errors import NotAllowed, NotFound
from tests.conftest import DATA, who

pytestmark = pytest.mark.usefixtures("org")


def test_an_admin_fires_a_publicity_timer_now_and_the_next_step_appears(engine: Engine) -> None:
    engine.deploy({"timer_wait.bpmn": (DATA / "engine" / "timer_wait.bpmn").read_bytes()})
    instance = engine.start("publicity_wait", "qiaoyi", by=who(engine, "wang"))
    assert instance["status"] == "running" and instance["tasks"] == []
    [job] = engine.waiting_jobs(instance["id"], by=who(engine, "wang"))
    assert job["element_id"] == "publicity_period" and job["kind"] == "timer" and job["status"] == "waiting"
    expected = datetime.now(UTC) + timedelta(days=7)
    assert abs((datetime.fromisoformat(job["due_at"]) - expected).total_seconds()) < 60

    with pytest.raises(NotAllowed):
        engine.execute_job(instance["id"], job["id"], by=who(engine, "wang"))
    with pytest.raises(NotFound):
        engine.execute_job(instance["id"], "not-a-job", by=who(engine, "admin"))
    fired = engine.execute_job(instance["id"], job["id"], by=who(engine, "admin"))
    assert fired["element_id"] == "publicity_period" and fired["status"] == "done"
    shown = engine.get_instance(instance["id"])
    assert [t["element_id"] for t in shown["tasks"]] == ["close_publicity"]
    last = [e for e in engine.history(instance["id"]) if e["action"] == "job_executed"]
    assert last[0]["actor"]["username"] == "admin"
    assert [e["element_id"] for e in engine.history(instance["id"]) if e["action"] == "timer_fired"] == [
        "publicity_period"
    ]
    assert engine.waiting_jobs(instance["id"], by=who(engine, "wang")) == []
    with pytest.raises(NotFound):
        engine.execute_job(instance["id"], job["id"], by=who(engine, "admin"))  # it has fired
