"""A job whose step fails is rolled back, retried with back-off, then shown as an incident an admin retries
or cancels; the jobs of an instance are written and replaced with its waits, in the same transaction."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from engine import Engine, waits
from engine.errors import NotAllowed
from engine.models import AuditEvent, HumanTask, Job, MessageSubscription, ProcessInstance
from tests.conftest import ApiClient, problem_of, read_bundle, who
from tests.test_timers import run_worker

pytestmark = pytest.mark.usefixtures("org")


def start_failing(engine: Engine) -> dict:
    engine.deploy(read_bundle("timed_failure.bpmn"), by=engine.principal("designer"))
    return engine.start("timed_failure", "qiaoyi", by=who(engine, "zhang"), variables={"households": 0})


def test_a_failing_step_after_a_timer_is_retried_with_back_off_then_becomes_an_incident(engine: Engine, clock) -> None:
    instance = start_failing(engine)
    zhang = who(engine, "zhang")
    clock.advance(timedelta(days=1, seconds=1))
    [first] = run_worker(engine)
    assert first.result == "retrying" and "division by zero" in first.detail
    [job] = engine.waiting_jobs(instance["id"], by=zhang)
    assert job["status"] == "retrying" and job["attempts"] == 1 and "division by zero" in job["last_error"]
    # rolled back: the timer has not fired, no task, the instance still runs
    shown = engine.get_instance(instance["id"])
    assert shown["status"] == "running" and shown["tasks"] == [] and shown["incidents"] == []
    assert "timer_fired" not in [e["action"] for e in engine.history(instance["id"])]

    assert run_worker(engine) == []  # the next attempt waits for its back-off (60 s)
    clock.advance(timedelta(seconds=61))
    [second] = run_worker(engine)
    assert second.result == "retrying"
    clock.advance(timedelta(seconds=239))
    assert run_worker(engine) == []  # 4 x 60 s after the second attempt
    clock.advance(timedelta(seconds=2))
    [third] = run_worker(engine)
    assert third.result == "incident"

    [job] = engine.waiting_jobs(instance["id"], by=zhang)
    assert job["status"] == "incident" and job["attempts"] == 3 and job["kind"] == "timer"
    [incident] = engine.get_instance(instance["id"])["incidents"]
    assert incident["element_id"] == "wait_a_day" and incident["attempts"] == 3
    assert "compute_share" in incident["error"] and "division by zero" in incident["error"]
    actions = [e["action"] for e in engine.history(instance["id"])]
    assert actions.count("job_failed") == 2 and actions.count("incident_raised") == 1
    clock.advance(timedelta(days=30))
    assert run_worker(engine) == []  # an incident waits for an admin
    assert engine.verify(who(engine, "auditor"), instance["id"])["ok"]


def test_an_admin_retries_an_incident_with_fixed_data_and_the_case_goes_on(engine: Engine, clock) -> None:
    instance = start_failing(engine)
    clock.advance(timedelta(days=1, seconds=1))
    for _ in range(3):
        run_worker(engine)
        clock.advance(timedelta(hours=1))
    assert engine.get_instance(instance["id"])["incidents"]
    with pytest.raises(NotAllowed):
        engine.retry(instance["id"], by=who(engine, "zhang"), variables={"households": 4})
    shown = engine.retry(instance["id"], by=who(engine, "admin"), variables={"households": 4})
    assert shown["incidents"] == [] and [t["element_id"] for t in shown["tasks"]] == ["confirm_share"]
    assert shown["variables"]["share"] == 25
    retried = [e for e in engine.history(instance["id"]) if e["action"] == "instance_retried"]
    assert retried[0]["actor"]["username"] == "admin" and retried[0]["data"]["variables"] == {"households": 4}
    assert engine.waiting_jobs(instance["id"], by=who(engine, "zhang")) == []


def test_an_admin_cancels_a_case_with_an_incident_and_its_jobs_go(engine: Engine, clock) -> None:
    instance = start_failing(engine)
    clock.advance(timedelta(days=1, seconds=1))
    for _ in range(3):
        run_worker(engine)
        clock.advance(timedelta(hours=1))
    engine.cancel(instance["id"], "资料有误，撤销", by=who(engine, "admin"))
    assert engine.waiting_jobs(instance["id"], by=who(engine, "admin")) == []
    assert engine.get_instance(instance["id"])["incidents"] == []


def test_run_now_of_a_failing_job_records_the_attempt_and_changes_nothing_else(engine: Engine) -> None:
    instance = start_failing(engine)
    [job] = engine.waiting_jobs(instance["id"], by=who(engine, "zhang"))
    result = engine.execute_job(instance["id"], job["id"], by=who(engine, "admin"))
    assert result["status"] == "retrying" and result["attempts"] == 1 and "division by zero" in result["last_error"]
    assert engine.get_instance(instance["id"])["tasks"] == []
    last = engine.history(instance["id"])[-1]
    assert last["action"] == "job_failed" and last["actor"]["username"] == "admin"


def test_the_job_rows_are_written_with_the_command_and_replaced_when_the_waits_change(engine: Engine) -> None:
    engine.deploy(read_bundle("timed_decision.bpmn"), by=engine.principal("designer"))
    instance = engine.start("timed_decision", "qiaoyi", by=who(engine, "wang"))
    with engine.reading() as session:
        rows = session.execute(select(Job).where(Job.instance_id == instance["id"])).scalars().all()
        assert sorted(r.element_id for r in rows) == ["escalate_decision", "remind_decision"]
    # a command that fails leaves the jobs as they were
    with pytest.raises(NotAllowed):
        engine.complete(instance["tasks"][0]["id"], who(engine, "wang"), {})
    engine.complete(instance["tasks"][0]["id"], who(engine, "zhang"), {})
    with engine.reading() as session:
        assert session.execute(select(func.count()).select_from(Job)).scalar_one() == 0


def test_a_start_that_fails_after_its_waits_were_written_leaves_no_job_subscription_or_case_behind(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine.deploy(read_bundle("timed_objection.bpmn"), by=engine.principal("designer"))
    written = []
    real_sync = waits.sync_waits

    def sync_then_fail(session, instance, live, audit, happened) -> None:  # noqa: ANN001
        real_sync(session, instance, live, audit, happened)
        session.flush()  # the rows are in the database, inside the command's transaction
        written.append(
            (
                session.execute(
                    select(func.count()).select_from(Job).where(Job.instance_id == instance.id)
                ).scalar_one(),
                session.execute(
                    select(func.count())
                    .select_from(MessageSubscription)
                    .where(MessageSubscription.instance_id == instance.id)
                ).scalar_one(),
            )
        )
        raise OSError("No space left on device")

    monkeypatch.setattr(waits, "sync_waits", sync_then_fail)
    with pytest.raises(OSError):
        engine.start("timed_objection", "qiaoyi", by=who(engine, "wang"))
    assert written == [(1, 1)]  # the timer's job and the message's subscription had been written
    with engine.reading() as session:
        for table in (ProcessInstance, Job, MessageSubscription, HumanTask):
            assert session.execute(select(func.count()).select_from(table)).scalar_one() == 0, table.__name__
        case_events = select(func.count()).select_from(AuditEvent).where(AuditEvent.stream != "system")
        assert session.execute(case_events).scalar_one() == 0

    monkeypatch.setattr(waits, "sync_waits", real_sync)
    instance = engine.start("timed_objection", "qiaoyi", by=who(engine, "wang"))
    assert [j["element_id"] for j in engine.waiting_jobs(instance["id"], by=who(engine, "wang"))] == ["notice_period"]


def test_an_admin_cancels_a_case_stuck_on_an_incident_over_the_api(api: ApiClient, engine: Engine, clock) -> None:
    instance = start_failing(engine)
    clock.advance(timedelta(days=1, seconds=1))
    for _ in range(3):
        run_worker(engine)
        clock.advance(timedelta(hours=1))
    api.tokens.clear()  # signed in now, not a day ago
    case = f"/process-instances/{instance['id']}"
    [incident] = api.get(case, "zhang").json["incidents"]
    assert incident["element_id"] == "wait_a_day" and incident["attempts"] == 3

    refused = api.post(f"{case}/cancel", "zhang", json={"reason": "撤销"})
    assert refused.status_code == 403 and "Only an admin may cancel" in problem_of(refused)["detail"]
    cancelled = api.post(f"{case}/cancel", "admin", json={"reason": "资料有误，撤销"})
    assert cancelled.status_code == 200, cancelled.json
    shown = api.get(case, "admin").json
    assert shown["status"] == "cancelled" and shown["incidents"] == []
    assert api.get(f"{case}/jobs", "admin").json["items"] == []
    [event] = [e for e in api.get(f"{case}/history", "admin").json["items"] if e["action"] == "instance_cancelled"]
    assert event["actor"]["username"] == "admin" and event["data"]["reason"] == "资料有误，撤销"
    again = api.post(f"{case}/cancel", "admin", json={"reason": "再次撤销"})
    assert again.status_code == 409 and "already cancelled" in problem_of(again)["detail"]
    clock.advance(timedelta(days=30))
    assert run_worker(engine) == []  # nothing of it is left to run
