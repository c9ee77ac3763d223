"""Timer paths of the procedures, with the engine's clock moved forward instead of waiting for days.

The processes in tests/data/engine/timed_*.bpmn have the timer shapes DOMAIN.md section 6 gives the four
procedures: working-day decision deadlines with a reminder and an escalation to the district, publication
periods (P7D), parallel reviews each with an interrupting P10D, quarterly monitoring (R/P3M) and yearly
re-review, a yearly timer start event (R/P1Y). The worker runs as `govflow worker --once` would.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from engine import Engine, Principal
from engine.worker import run_due
from tests.conftest import DATA, PASSWORD, read_bundle, who

BEIJING = timezone(timedelta(hours=8))
pytestmark = pytest.mark.usefixtures("org")


def run_worker(engine: Engine) -> list:
    """Every job due now, run by one worker until none is left (as `govflow worker --once`)."""
    outcomes = []
    while batch := run_due(engine, "test-worker", batch=50):
        outcomes.extend(batch)
    return outcomes


def fired(engine: Engine, instance_id: str) -> list[str]:
    return [e["element_id"] for e in engine.history(instance_id) if e["action"] == "timer_fired"]


def open_tasks(engine: Engine, instance_id: str) -> list[str]:
    return sorted(t["element_id"] for t in engine.get_instance(instance_id)["tasks"])


def deploy(engine: Engine, *names: str) -> None:
    engine.deploy(read_bundle(*names), by=engine.principal("designer"))


@pytest.fixture
def district(org: Engine) -> Engine:
    org.add_user("hu", PASSWORD, [("district_civil_affairs", "hp")])
    org.add_user("fa", PASSWORD, [("district_justice", "hp")])
    return org


# --- deadlines in working days, reminders, escalation ---------------------------------------------------


def test_a_decision_due_in_15_working_days_counts_past_national_day_and_the_make_up_saturday(
    district: Engine, clock
) -> None:
    engine = district
    clock.freeze(datetime(2026, 9, 30, 10, 0, tzinfo=BEIJING))  # the day before the National Day holiday
    deploy(engine, "timed_decision.bpmn")
    instance = engine.start("timed_decision", "qiaoyi", by=who(engine, "wang"))
    [decide] = instance["tasks"]
    assert decide["element_id"] == "decide" and decide["candidate"] == {"role": "subdistrict_office", "org_unit": "wlq"}
    # 1 Oct - 7 Oct are holidays; Saturday 10 Oct is worked (调休): the 15th working day is Tuesday 27 Oct.
    assert datetime.fromisoformat(decide["due_at"]) == datetime(2026, 10, 27, 10, 0, tzinfo=BEIJING)
    jobs = {j["element_id"]: j for j in engine.waiting_jobs(instance["id"], by=who(engine, "zhang"))}
    assert set(jobs) == {"remind_decision", "escalate_decision"}
    assert datetime.fromisoformat(jobs["remind_decision"]["due_at"]) == datetime(2026, 10, 3, 10, 0, tzinfo=BEIJING)
    assert datetime.fromisoformat(jobs["escalate_decision"]["due_at"]) == datetime(2026, 10, 27, 10, 0, tzinfo=BEIJING)

    clock.advance(timedelta(days=2))
    assert run_worker(engine) == []  # nothing is due yet

    clock.advance(timedelta(days=1, minutes=1))  # three days: the reminder (催办)
    [outcome] = run_worker(engine)
    assert outcome.result == "done" and fired(engine, instance["id"]) == ["remind_decision"]
    [task] = engine.inbox(who(engine, "zhang"), scope="candidate")["items"]
    assert task["urged_count"] == 1 and task["priority"] == 60 and not task["overdue"]
    urged = [e for e in engine.history(instance["id"]) if e["action"] == "task_urged"]
    assert urged[0]["actor"]["username"] == "engine" and urged[0]["element_id"] == "decide"

    clock.freeze(datetime(2026, 10, 27, 10, 1, tzinfo=BEIJING))  # the 15th working day has passed
    run_worker(engine)
    assert fired(engine, instance["id"]) == ["remind_decision", "escalate_decision"]
    assert open_tasks(engine, instance["id"]) == ["decide", "supervise_decision"]
    # the district sees the escalated case; the subdistrict sees its own task overdue
    [supervise] = engine.inbox(who(engine, "hu"), scope="candidate")["items"]
    assert supervise["element_id"] == "supervise_decision" and supervise["candidate"]["org_unit"] == "hp"
    [late] = engine.inbox(who(engine, "zhang"), scope="candidate", sort="due")["items"]
    assert late["overdue"] is True and late["element_id"] == "decide"
    assert engine.waiting_jobs(instance["id"], by=who(engine, "zhang")) == []

    clock.advance(timedelta(days=30))
    assert run_worker(engine) == []  # each timer fired exactly once
    engine.complete(decide["id"], who(engine, "zhang"), {})
    engine.complete(supervise["id"], who(engine, "hu"), {})
    assert engine.get_instance(instance["id"])["status"] == "completed"
    assert engine.verify(who(engine, "auditor"), instance["id"])["ok"]


def test_deciding_in_time_removes_the_reminder_and_the_escalation(district: Engine, clock) -> None:
    engine = district
    deploy(engine, "timed_decision.bpmn")
    instance = engine.start("timed_decision", "qiaoyi", by=who(engine, "wang"))
    assert len(engine.waiting_jobs(instance["id"], by=who(engine, "zhang"))) == 2
    engine.complete(instance["tasks"][0]["id"], who(engine, "zhang"), {})
    assert engine.waiting_jobs(instance["id"], by=who(engine, "zhang")) == []
    clock.advance(timedelta(days=60))
    assert run_worker(engine) == [] and fired(engine, instance["id"]) == []


def test_working_days_in_a_timer_expression_follow_the_calendar_admins_edit(district: Engine, clock) -> None:
    engine = district
    # The city declares 8 and 9 October extra holidays: the deadline moves two working days later.
    days = engine.calendar_year(2026)["days"] + [
        {"day": "2026-10-08", "kind": "holiday", "name": "test"},
        {"day": "2026-10-09", "kind": "holiday", "name": "test"},
    ]
    engine.set_calendar_year(2026, days, by=who(engine, "admin"))
    clock.freeze(datetime(2026, 9, 30, 10, 0, tzinfo=BEIJING))
    deploy(engine, "timed_decision.bpmn")
    [decide] = engine.start("timed_decision", "qiaoyi", by=who(engine, "wang"))["tasks"]
    assert datetime.fromisoformat(decide["due_at"]) == datetime(2026, 10, 29, 10, 0, tzinfo=BEIJING)


def test_a_case_waits_for_its_date_then_its_reply_is_urged_daily_three_times(engine: Engine, clock) -> None:
    clock.freeze(datetime(2026, 12, 28, 9, 0, tzinfo=BEIJING))
    deploy(engine, "timed_reply.bpmn")
    instance = engine.start("timed_reply", "qiaoyi", by=who(engine, "wang"))
    [job] = engine.waiting_jobs(instance["id"], by=who(engine, "wang"))
    assert datetime.fromisoformat(job["due_at"]) == datetime(2027, 1, 4, 9, 0, tzinfo=BEIJING)
    clock.freeze(datetime(2027, 1, 4, 9, 0, 1, tzinfo=BEIJING))
    run_worker(engine)
    assert open_tasks(engine, instance["id"]) == ["reply"]
    for day in range(1, 6):
        clock.advance(timedelta(days=1))
        run_worker(engine)
        [task] = engine.inbox(who(engine, "wang"), scope="candidate")["items"]
        assert task["urged_count"] == min(day, 3)
    assert fired(engine, instance["id"]) == ["until_new_year"] + ["daily_reminder"] * 3
    assert engine.waiting_jobs(instance["id"], by=who(engine, "wang")) == []  # three rounds, then done


def test_an_intermediate_cycle_lets_the_case_through_once_a_round_three_days_running(engine: Engine, clock) -> None:
    clock.freeze(datetime(2026, 12, 1, 9, 0, tzinfo=BEIJING))
    deploy(engine, "timed_cycle_wait.bpmn")
    instance = engine.start("timed_cycle_wait", "qiaoyi", by=who(engine, "wang"))
    for day in (2, 3, 4):
        [job] = engine.waiting_jobs(instance["id"], by=who(engine, "wang"))
        assert datetime.fromisoformat(job["due_at"]) == datetime(2026, 12, day, 9, 0, tzinfo=BEIJING)
        clock.freeze(datetime(2026, 12, day, 8, 59, tzinfo=BEIJING))
        assert run_worker(engine) == []
        clock.freeze(datetime(2026, 12, day, 9, 1, tzinfo=BEIJING))
        [outcome] = run_worker(engine)
        assert outcome.result == "done" and outcome.job.element_id == "three_days"
        assert open_tasks(engine, instance["id"]) == ["after_three_days"] * (day - 1)  # one pass per round
    assert engine.waiting_jobs(instance["id"], by=who(engine, "wang")) == []  # R3: the rounds are over
    clock.advance(timedelta(days=5))
    assert run_worker(engine) == []
    assert fired(engine, instance["id"]) == ["three_days"] * 3


# --- publication periods and parallel reviews --------------------------------------------------------


def test_a_publication_period_of_seven_days_ends_on_the_seventh_day(engine: Engine, clock) -> None:
    engine.deploy({"timer_wait.bpmn": (DATA / "engine" / "timer_wait.bpmn").read_bytes()})
    instance = engine.start("publicity_wait", "qiaoyi", by=who(engine, "wang"))
    clock.advance(timedelta(days=6, hours=23))
    assert run_worker(engine) == [] and open_tasks(engine, instance["id"]) == []
    clock.advance(timedelta(hours=1, seconds=1))
    [outcome] = run_worker(engine)
    assert outcome.result == "done" and outcome.job.element_id == "publicity_period"
    assert open_tasks(engine, instance["id"]) == ["close_publicity"]


def test_a_notice_waits_for_an_objection_or_its_seven_days_whichever_comes_first(engine: Engine, clock) -> None:
    deploy(engine, "timed_objection.bpmn")
    quiet = engine.start("timed_objection", "qiaoyi", by=who(engine, "wang"))
    objected = engine.start("timed_objection", "qiaoyi", by=who(engine, "wang"))
    [job] = engine.waiting_jobs(quiet["id"], by=who(engine, "wang"))
    assert job["element_id"] == "notice_period" and job["kind"] == "timer"
    assert datetime.fromisoformat(job["due_at"]) == clock.now() + timedelta(days=7)
    # An objection comes in: the case goes on by the message, and its time-out is dropped.
    engine.deliver_message(objected["id"], "objection_received", {"from": "3号楼"}, by=who(engine, "wang"))
    assert open_tasks(engine, objected["id"]) == ["handle_objection"]
    assert engine.waiting_jobs(objected["id"], by=who(engine, "wang")) == []

    clock.advance(timedelta(days=7) - timedelta(minutes=1))
    assert run_worker(engine) == []
    clock.advance(timedelta(minutes=2))
    [outcome] = run_worker(engine)
    assert outcome.job.instance_id == quiet["id"] and outcome.result == "done"
    assert engine.get_instance(quiet["id"])["status"] == "completed"
    assert [e["element_id"] for e in engine.history(quiet["id"]) if e["action"] == "end_event_reached"] == [
        "end_no_objection"
    ]
    assert fired(engine, quiet["id"]) == ["notice_period"] and fired(engine, objected["id"]) == []


def test_a_review_not_given_within_ten_days_is_recorded_overdue_and_the_others_go_on(district: Engine, clock) -> None:
    engine = district
    deploy(engine, "timed_reviews.bpmn")
    instance = engine.start("timed_reviews", "qiaoyi", by=who(engine, "wang"))
    tasks = {t["element_id"]: t for t in instance["tasks"]}
    assert set(tasks) == {"legality_review", "necessity_review"}
    assert all(t["due_at"] for t in tasks.values())
    engine.complete(tasks["necessity_review"]["id"], who(engine, "hu"), {"necessity": "passed"})
    assert [j["element_id"] for j in engine.waiting_jobs(instance["id"], by=who(engine, "hu"))] == ["legality_overdue"]

    clock.advance(timedelta(days=10, minutes=1))
    run_worker(engine)
    shown = engine.get_instance(instance["id"])
    assert [t["element_id"] for t in shown["tasks"]] == ["aggregate_decision"]
    assert shown["variables"]["legality"] == "overdue" and shown["variables"]["necessity"] == "passed"
    assert fired(engine, instance["id"]) == ["legality_overdue"]
    assert engine.inbox(who(engine, "fa"), scope="candidate")["items"] == []  # the late review was withdrawn


# --- cycles: quarterly monitoring, yearly re-review, the yearly agenda ---------------------------------


def test_monitoring_points_report_every_quarter_while_the_list_is_re_reviewed_every_year(
    district: Engine, clock
) -> None:
    engine = district
    hu = who(engine, "hu")
    clock.freeze(datetime(2027, 1, 1, 9, 0, tzinfo=BEIJING))
    deploy(engine, "timed_monitoring.bpmn")
    instance = engine.start("timed_monitoring", "qiaoyi", by=who(engine, "wang"))
    engine.complete(instance["tasks"][0]["id"], hu, {})
    jobs = {j["element_id"]: j for j in engine.waiting_jobs(instance["id"], by=hu)}
    assert set(jobs) == {"quarterly", "in_force"}
    assert datetime.fromisoformat(jobs["in_force"]["due_at"]) == datetime(2028, 1, 1, 9, 0, tzinfo=BEIJING)
    assert datetime.fromisoformat(jobs["quarterly"]["due_at"]) == datetime(2027, 4, 1, 9, 0, tzinfo=BEIJING)

    reports, quarters = 0, []
    for _ in range(4):  # a year, one quarter at a time
        clock.advance(timedelta(days=92))
        run_worker(engine)
        [quarterly] = [j for j in engine.waiting_jobs(instance["id"], by=hu) if j["element_id"] == "quarterly"]
        quarters.append(datetime.fromisoformat(quarterly["due_at"]).astimezone(BEIJING).date().isoformat())
        for task in engine.get_instance(instance["id"])["tasks"]:
            if task["element_id"] == "monitoring_point_report":
                engine.complete(task["id"], who(engine, "wang"), {})
                reports += 1
    assert reports == 4 and fired(engine, instance["id"]).count("quarterly") == 4
    # every round a calendar quarter after the one before, not a fixed 90 days
    assert quarters == ["2027-07-01", "2027-10-01", "2028-01-01", "2028-04-01"]
    assert fired(engine, instance["id"]).count("in_force") == 1
    [review] = [t for t in engine.get_instance(instance["id"])["tasks"] if t["element_id"] == "periodic_re_review"]
    engine.complete(review["id"], hu, {"decision": "keep"})  # kept: another year in force
    in_force = [j for j in engine.waiting_jobs(instance["id"], by=hu) if j["element_id"] == "in_force"]
    assert len(in_force) == 1

    clock.advance(timedelta(days=367))
    run_worker(engine)
    [review] = [t for t in engine.get_instance(instance["id"])["tasks"] if t["element_id"] == "periodic_re_review"]
    for task in engine.get_instance(instance["id"])["tasks"]:
        if task["element_id"] == "monitoring_point_report":
            engine.complete(task["id"], who(engine, "wang"), {})
    engine.complete(review["id"], hu, {"decision": "exit"})
    # off the list: the quarterly monitoring stops waiting and the case ends
    shown = engine.get_instance(instance["id"])
    assert shown["status"] == "completed", shown["tasks"]
    assert engine.waiting_jobs(instance["id"], by=hu) == []
    assert fired(engine, instance["id"]).count("in_force") == 2


def test_the_yearly_agenda_starts_one_case_for_every_committee_each_year(engine: Engine, clock) -> None:
    clock.freeze(datetime(2026, 12, 31, 9, 0, tzinfo=BEIJING))
    deploy(engine, "timed_agenda.bpmn")
    [job] = engine.list_jobs(Principal.system())
    assert job["kind"] == "start_timer" and job["element_id"] == "annual_agenda" and job["instance_id"] is None
    assert datetime.fromisoformat(job["due_at"]) == datetime(2027, 12, 31, 9, 0, tzinfo=BEIJING)

    clock.advance(timedelta(days=365, minutes=1))
    [outcome] = run_worker(engine)
    assert outcome.result == "done", outcome.detail
    cases = engine.list_instances(Principal.system(), process_key="timed_agenda")["items"]
    assert sorted(c["org_unit"] for c in cases) == ["qiaoyi", "ruinan", "xinye", "yunnan"]
    for case in cases:
        assert open_tasks(engine, case["id"]) == ["register_issue"]
        assert engine.waiting_jobs(case["id"], by=Principal.system()) == []  # one occurrence, no inner timer
    [village] = [c for c in cases if c["org_unit"] == "xinye"]
    assert engine.get_instance(village["id"])["tasks"][0]["candidate"]["role"] == "villagers_committee"
    [job] = engine.list_jobs(Principal.system())
    assert datetime.fromisoformat(job["due_at"]) == datetime(2028, 12, 31, 9, 0, tzinfo=BEIJING)

    clock.advance(timedelta(days=30))
    assert run_worker(engine) == []  # not again until next year
    assert len(engine.list_instances(Principal.system(), process_key="timed_agenda")["items"]) == 4


def test_an_issue_submitted_as_a_message_starts_the_agenda_process_without_its_yearly_timer(
    engine: Engine, clock
) -> None:
    deploy(engine, "timed_agenda.bpmn")
    shown, started = engine.correlate_message(
        "issue_submitted", None, {"title": "加装电梯"}, by=who(engine, "wang"), business_key="ISSUE-7"
    )
    assert started and shown["org_unit"] == "qiaoyi" and shown["business_key"] == "ISSUE-7"
    assert [t["element_id"] for t in shown["tasks"]] == ["register_issue"]
    assert shown["variables"]["issue"] == {"title": "加装电梯"}
    assert engine.waiting_jobs(shown["id"], by=who(engine, "wang")) == []
    clock.advance(timedelta(days=400))
    run_worker(engine)  # the process's own yearly start starts new cases, but never inside this one
    assert open_tasks(engine, shown["id"]) == ["register_issue"]


@pytest.mark.parametrize(
    ("timer", "says"),
    [
        ("<bpmn:timeDate>working_days(15)</bpmn:timeDate>", "use it in a timeDuration, not a date timer"),
        ("<bpmn:timeDuration>working_days(-2)</bpmn:timeDuration>", "calls working_days(-2)"),
        ("<bpmn:timeDuration>working_days(15, 2)</bpmn:timeDuration>", "one whole number of working days"),
        ("<bpmn:timeDuration>P15X</bpmn:timeDuration>", "cannot be read"),
    ],
)
def test_a_designer_is_told_at_deploy_when_a_timer_cannot_work(engine: Engine, timer: str, says: str) -> None:
    from engine.errors import BundleInvalid

    xml = read_bundle("timed_decision.bpmn")["timed_decision.bpmn"].decode()
    broken = xml.replace("<bpmn:timeDuration>working_days(15)</bpmn:timeDuration>", timer)
    assert broken != xml
    with pytest.raises(BundleInvalid) as refused:
        engine.deploy({"timed_decision.bpmn": broken.encode()}, by=engine.principal("designer"))
    [problem] = refused.value.problems
    assert problem.element_id == "escalate_decision" and says in problem.message, problem.message
    assert engine.list_jobs(Principal.system()) == []
