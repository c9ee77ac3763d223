"""Timer start events of every ISO shape the designer may write: a date, a delay after deployment, a cycle
from a start date (the rounds before deployment skipped, none at all once they are over) and a cycle
ending at a date. When each first falls due is worked out by hand; the worker starts each round's case
exactly once, with the clock moved instead of waiting."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from engine import Engine, Principal
from engine.errors import NotAllowed
from engine.spiff.timers import first_due
from tests.test_timers import run_worker

BEIJING = timezone(timedelta(hours=8))
SYSTEM = Principal.system()


def at(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=BEIJING)


@pytest.mark.parametrize(
    ("value", "deployed", "due", "rounds_after"),
    [
        ("2027-03-01T09:00:00+08:00", at(2027, 2, 15, 9), at(2027, 3, 1, 9), 0),
        ("2027-01-01T09:00:00+08:00", at(2027, 2, 15, 9), at(2027, 1, 1, 9), 0),  # past: at once
        ("PT1H", at(2027, 2, 15, 9), at(2027, 2, 15, 10), 0),
        ("P2D", at(2027, 2, 15, 9), at(2027, 2, 17, 9), 0),
        ("R/P1Y", at(2027, 2, 15, 9), at(2028, 2, 15, 9), -1),
        ("R3/P1M", at(2027, 2, 15, 9), at(2027, 3, 15, 9), 2),
        ("R/2027-01-01T09:00:00+08:00/P1M", at(2026, 12, 1, 9), at(2027, 1, 1, 9), -1),
        ("R/2027-01-01T09:00:00+08:00/P1M", at(2027, 2, 15, 9), at(2027, 3, 1, 9), -1),
        ("R3/2027-01-01T09:00:00+08:00/P1M", at(2027, 2, 15, 9), at(2027, 3, 1, 9), 0),  # the third and last
        ("R/P1D/2027-03-10T09:00:00+08:00", at(2027, 2, 15, 9), at(2027, 3, 9, 9), 0),
    ],
)
def test_a_timer_start_event_first_falls_due_as_its_iso_value_says(
    value: str, deployed: datetime, due: datetime, rounds_after: int
) -> None:
    assert first_due(value, deployed) == (due, rounds_after)


@pytest.mark.usefixtures("org")
def test_a_cycle_whose_rounds_are_all_over_when_it_is_deployed_starts_nothing(engine: Engine, clock) -> None:
    assert first_due("R2/2026-01-01T09:00:00+08:00/P1M", at(2027, 2, 15, 9)) is None
    clock.freeze(at(2027, 2, 15, 9))
    deploy_report(engine, "R2/2026-01-01T09:00:00+08:00/P1M")
    assert engine.list_jobs(SYSTEM) == []
    assert run_worker(engine) == [] and reports(engine) == []


REPORT = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="timed_report_defs"
                  targetNamespace="http://govflow.example/test">
  <bpmn:process id="timed_report" name="市级统计报表" isExecutable="true">
    <bpmn:laneSet id="lanes">
      <bpmn:lane id="municipal_civil_affairs" name="市民政局">
        <bpmn:flowNodeRef>report_due</bpmn:flowNodeRef>
        <bpmn:flowNodeRef>compile_report</bpmn:flowNodeRef>
        <bpmn:flowNodeRef>end</bpmn:flowNodeRef>
      </bpmn:lane>
    </bpmn:laneSet>
    <bpmn:startEvent id="report_due" name="报表时间到">
      <bpmn:outgoing>f1</bpmn:outgoing>
      <bpmn:timerEventDefinition><bpmn:{kind}>{value}</bpmn:{kind}></bpmn:timerEventDefinition>
    </bpmn:startEvent>
    <bpmn:userTask id="compile_report" name="汇总报表">
      <bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing>
    </bpmn:userTask>
    <bpmn:endEvent id="end"><bpmn:incoming>f2</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="report_due" targetRef="compile_report"/>
    <bpmn:sequenceFlow id="f2" sourceRef="compile_report" targetRef="end"/>
  </bpmn:process>
</bpmn:definitions>
"""


def deploy_report(engine: Engine, value: str) -> None:
    kind = "timeCycle" if value.startswith("R") else "timeDuration" if value.startswith("P") else "timeDate"
    bpmn = REPORT.replace("{kind}", kind).replace("{value}", value)
    engine.deploy({"timed_report.bpmn": bpmn.encode()}, by=engine.principal("designer"))


def reports(engine: Engine) -> list[str]:
    """The org units the report cases were started for, oldest first."""
    cases = engine.list_instances(SYSTEM, process_key="timed_report")["items"]
    return [c["org_unit"] for c in sorted(cases, key=lambda c: c["started_at"])]


def start_timer_due(engine: Engine) -> datetime | None:
    jobs = [j for j in engine.list_jobs(SYSTEM) if j["kind"] == "start_timer"]
    return datetime.fromisoformat(jobs[0]["due_at"]) if jobs else None


def passes(engine: Engine, clock, due: datetime) -> None:  # noqa: ANN001
    """Nothing starts a minute before `due`; one case (the city's) a minute after."""
    before = len(reports(engine))
    clock.freeze(due - timedelta(minutes=1))
    assert run_worker(engine) == []
    clock.freeze(due + timedelta(minutes=1))
    [outcome] = run_worker(engine)
    assert (outcome.result, outcome.job.element_id) == ("done", "report_due"), outcome.detail
    assert reports(engine) == ["sh"] * (before + 1)


@pytest.mark.parametrize(
    ("value", "deployed", "due"),
    [
        ("2027-03-01T09:00:00+08:00", at(2027, 2, 15, 9), at(2027, 3, 1, 9)),
        ("PT1H", at(2027, 2, 15, 9), at(2027, 2, 15, 10)),
        ("R3/2027-01-01T09:00:00+08:00/P1M", at(2027, 2, 15, 9), at(2027, 3, 1, 9)),
    ],
    ids=["date", "duration", "last-round-of-a-cycle"],
)
@pytest.mark.usefixtures("org")
def test_a_start_timer_with_one_round_left_starts_one_case_and_never_another(
    engine: Engine, clock, value: str, deployed: datetime, due: datetime
) -> None:
    clock.freeze(deployed)
    deploy_report(engine, value)
    assert start_timer_due(engine) == due
    passes(engine, clock, due)
    [case] = engine.list_instances(SYSTEM, process_key="timed_report")["items"]
    assert [t["element_id"] for t in engine.get_instance(case["id"])["tasks"]] == ["compile_report"]
    assert start_timer_due(engine) is None  # no round left
    clock.advance(timedelta(days=400))
    assert run_worker(engine) == [] and reports(engine) == ["sh"]


@pytest.mark.usefixtures("org")
def test_a_monthly_cycle_from_a_start_date_starts_a_case_each_calendar_month(engine: Engine, clock) -> None:
    clock.freeze(at(2026, 12, 1, 9))
    deploy_report(engine, "R/2027-01-01T09:00:00+08:00/P1M")
    for due in (at(2027, 1, 1, 9), at(2027, 2, 1, 9), at(2027, 3, 1, 9)):  # 31, 28 days apart: calendar months
        assert start_timer_due(engine) == due
        passes(engine, clock, due)
    assert start_timer_due(engine) == at(2027, 4, 1, 9)
    rounds = [e for e in engine.audit_events(SYSTEM, action="start_timer_fired")["items"]]
    assert [e["data"]["due_at"][:10] for e in rounds] == ["2027-01-01", "2027-02-01", "2027-03-01"]


@pytest.mark.usefixtures("org")
def test_an_admin_starts_this_months_report_early_and_it_is_recorded_as_theirs(engine: Engine, clock) -> None:
    clock.freeze(at(2026, 12, 1, 9))
    deploy_report(engine, "R/2027-01-01T09:00:00+08:00/P1M")
    [job] = engine.list_jobs(SYSTEM)
    with pytest.raises(NotAllowed):
        engine.run_job_now(job["id"], by=engine.principal("wang"))
    assert engine.run_job_now(job["id"], by=engine.principal("admin"))["status"] == "done"
    assert reports(engine) == ["sh"]
    [by_hand] = engine.audit_events(SYSTEM, action="job_executed")["items"]
    assert by_hand["actor"]["username"] == "admin" and by_hand["data"]["job_id"] == job["id"]
    assert start_timer_due(engine) == at(2027, 2, 1, 9)  # January's round is spent; February keeps its day
