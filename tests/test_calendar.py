"""The working-day calendar: deadlines in working days across holidays and make-up days, years without data,
and city admins setting next year's schedule. On SQLite and PostgreSQL."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import select

from engine import Engine
from engine.calendar import DayKind, WorkingCalendar
from engine.config import Settings
from engine.errors import NotAllowed, RuleBroken
from engine.models import AuditEvent
from tests.conftest import ROOT, ApiClient, problem_of, read_bundle, who

BEIJING = timezone(timedelta(hours=8))
SCHEDULE_2027 = [
    {"day": "2027-10-01", "kind": "holiday", "name": "国庆节"},
    {"day": "2027-10-04", "kind": "holiday", "name": "国庆节"},
    {"day": "2027-10-05", "kind": "holiday", "name": "国庆节"},
    {"day": "2027-10-09", "kind": "workday", "name": "国庆节调休"},
]


def test_national_day_2025_and_its_make_up_days_are_counted_as_the_state_council_published_them(
    engine: Engine,
) -> None:
    working = engine.working_calendar()
    # 2025: 1-8 October off; Sunday 28 September and Saturday 11 October worked.
    assert working.is_working_day(date(2025, 9, 28)) and working.is_working_day(date(2025, 10, 11))
    assert [working.is_working_day(date(2025, 10, d)) for d in range(1, 10)] == [False] * 8 + [True]
    assert working.day_off_reason(date(2025, 10, 3)) == "National Day"
    assert working.day_off_reason(date(2025, 10, 12)) == "weekend"
    friday = date(2025, 9, 26)
    assert [working.working_days_after(friday, n) for n in range(1, 8)] == [
        date(2025, 9, 28),  # the make-up Sunday
        date(2025, 9, 29),
        date(2025, 9, 30),
        date(2025, 10, 9),  # the whole holiday skipped
        date(2025, 10, 10),
        date(2025, 10, 11),  # the make-up Saturday
        date(2025, 10, 13),
    ]
    assert working.working_days_between(friday, date(2025, 10, 13)) == 7
    assert working.assumed_years(friday, date(2025, 10, 13)) == []


def test_a_deadline_of_15_working_days_keeps_the_time_of_day_and_zone(engine: Engine) -> None:
    received = datetime(2025, 9, 30, 10, 30, tzinfo=BEIJING)  # the day before National Day
    due = engine.working_calendar().deadline(received, 15)
    # 9-10 Oct (2), 11 Oct make-up (3), 13-17 (8), 20-24 (13), 27-28 (15)
    assert due == datetime(2025, 10, 28, 10, 30, tzinfo=BEIJING)
    assert engine.working_calendar().working_days_after(received, 0) == received


def test_a_deadline_started_before_eight_in_the_morning_counts_from_the_beijing_date(
    engine: Engine, clock: object
) -> None:
    working = engine.working_calendar()
    saturday_3am = datetime(2026, 1, 9, 19, 0, tzinfo=UTC)  # 03:00 on Saturday 10 January in Beijing
    friday_3am = datetime(2026, 1, 8, 19, 0, tzinfo=UTC)  # 03:00 on Friday 9 January in Beijing
    monday_3am = datetime(2026, 1, 12, 3, 0, tzinfo=BEIJING)
    assert working.deadline(saturday_3am, 1) == monday_3am  # not Tuesday (Friday's UTC date plus one)
    assert working.deadline(friday_3am, 1) == monday_3am  # not Saturday
    assert working.deadline(friday_3am, 1).tzinfo == UTC  # answered in the zone it was asked in
    assert working.working_days_between(friday_3am, saturday_3am) == 0
    # A procedure's time limit counted from the engine's clock (UTC) lands on the right Beijing day too.
    clock.freeze(saturday_3am)
    due = datetime.fromisoformat(engine.expression_helpers()["rule_deadline"]("service.decision_working_days"))
    assert due == datetime(2026, 1, 30, 3, 0, tzinfo=BEIJING)  # 15 working days from Monday 12 January


def test_a_year_without_a_published_schedule_falls_back_to_weekends_with_a_warning(
    engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    working = engine.working_calendar()
    assert 2026 in working.known_years and 2027 not in working.known_years
    start = datetime(2027, 9, 30, 9, 0, tzinfo=UTC)  # a Thursday
    with caplog.at_level("WARNING", logger="engine.calendar"):
        due = working.deadline(start, 2)
    assert due == datetime(2027, 10, 4, 9, 0, tzinfo=UTC)  # Friday 1 October counted: nobody knows it is off yet
    assert "No holiday schedule for 2027" in caplog.text
    view = engine.calendar_year(2027)
    assert view["known"] is False and view["days"] == [] and "only weekends" in view["note"]


def test_a_city_admin_sets_next_years_schedule_and_every_engine_counts_with_it(engine: Engine, org: Engine) -> None:
    other_process = Engine(Settings(database_url=engine.settings.database_url, password_profile="fast"))
    try:
        before = other_process.working_calendar()
        assert before.working_days_after(date(2027, 9, 30), 2) == date(2027, 10, 4)
        view = engine.set_calendar_year(2027, SCHEDULE_2027, by=who(engine, "admin"))
        assert view["known"] is True and view["source"] == "admin" and view["changed_by"] == "admin"
        assert [(d["day"], d["kind"]) for d in view["days"]] == [(d["day"], d["kind"]) for d in SCHEDULE_2027]
        after = other_process.working_calendar()  # the other process sees the change without a restart
        assert 2027 in after.known_years
        # Thursday 30 September + 1: Friday 1 October off, the weekend, 4-5 October off: Wednesday the 6th
        assert after.working_days_after(date(2027, 9, 30), 1) == date(2027, 10, 6)
        assert after.is_working_day(date(2027, 10, 9))  # the make-up Saturday
        assert after.assumed_years(date(2027, 1, 1), date(2027, 12, 31)) == []
    finally:
        other_process.close()
    assert engine.verify_audit().ok


def test_only_a_city_admin_changes_the_calendar_and_a_wrong_schedule_changes_nothing(org: Engine) -> None:
    engine = org
    engine.add_user("hp_admin", "long-enough-1", [("admin", "hp")])
    for username in ("wang", "zhang", "auditor", "designer", "hp_admin"):
        with pytest.raises(NotAllowed, match="city level"):
            engine.set_calendar_year(2027, SCHEDULE_2027, by=who(engine, username))
    admin = who(engine, "admin")
    for days, message in [
        ([{"day": "2027-10-06", "kind": "workday"}], "is a weekday"),
        ([{"day": "2026-10-01", "kind": "holiday"}], "not in 2027"),
        ([{"day": "2027-10-01", "kind": "holiday"}, {"day": "2027-10-01", "kind": "holiday"}], "twice"),
        ([{"day": "1 October", "kind": "holiday"}], "YYYY-MM-DD"),
        ([{"day": "2027-10-01", "kind": "vacation"}], "holiday or workday"),
        (["2027-10-01"], "needs a date"),
    ]:
        with pytest.raises(RuleBroken, match=message):
            engine.set_calendar_year(2027, days, by=admin)
    with pytest.raises(RuleBroken, match="1990 to 2200"):
        engine.calendar_year(12027)
    assert engine.calendar_year(2027)["known"] is False


def test_setting_a_year_replaces_its_seeded_schedule_and_is_audited(org: Engine) -> None:
    engine = org
    seeded = engine.calendar_year(2026)
    assert seeded["known"] and seeded["source"] == "seed" and len(seeded["days"]) > 20
    engine.set_calendar_year(
        2026, [{"day": "2026-10-01", "kind": "holiday", "name": "国庆节"}], by=who(engine, "admin")
    )
    assert [d["day"] for d in engine.calendar_year(2026)["days"]] == ["2026-10-01"]
    assert engine.working_calendar().is_working_day(date(2026, 10, 2))
    assert engine.seed_calendar() == []  # seeding never overwrites a known year
    assert [d["day"] for d in engine.calendar_year(2026)["days"]] == ["2026-10-01"]
    with engine.reading() as session:
        [event] = session.execute(select(AuditEvent).where(AuditEvent.action == "calendar_changed")).scalars()
        assert (event.actor, event.element_id, event.data["holidays"]) == ("admin", "2026", ["2026-10-01"])
    assert engine.verify_audit().ok


def test_the_calendar_as_a_pure_value_counts_weekends_only_without_data() -> None:
    working = WorkingCalendar()
    assert working.working_days_after(date(2030, 1, 4), 1) == date(2030, 1, 7)  # Friday -> Monday
    assert working.working_days_between(date(2030, 1, 7), date(2030, 1, 14)) == 5
    with pytest.raises(ValueError, match="between 0 and"):
        working.working_days_after(date(2030, 1, 4), -1)
    assert DayKind("workday") is DayKind.WORKDAY


def test_the_cli_shows_sets_and_counts_working_days(db_url: str, tmp_path: Path) -> None:
    env = {"GOVFLOW_DATABASE_URL": db_url, "PYTHONPATH": str(ROOT)}

    def govflow(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "engine.cli", *args],
            capture_output=True,
            text=True,
            cwd=tmp_path,
            env=env | {"PATH": "/usr/bin:/bin"},
            timeout=60,
        )

    shown = govflow("--json", "calendar", "show", "2025")
    assert shown.returncode == 0, shown.stderr
    days = {d["day"]: d["kind"] for d in json.loads(shown.stdout)["days"]}
    assert days["2025-10-01"] == "holiday" and days["2025-10-11"] == "workday"
    counted = govflow("calendar", "add-days", "2025-09-30", "1", "--json")
    assert json.loads(counted.stdout) == {
        "start": "2025-09-30",
        "working_days": 1,
        "due": "2025-10-09",
        "assumed_years": [],
    }
    schedule = tmp_path / "2027.json"
    schedule.write_text(json.dumps(SCHEDULE_2027, ensure_ascii=False), encoding="utf-8")
    assert "weekends" in govflow("calendar", "add-days", "2027-09-30", "1").stdout
    set_ = govflow("calendar", "set", "2027", "--file", str(schedule))
    assert set_.returncode == 0, set_.stderr
    assert "国庆节调休" in set_.stdout
    assert govflow("calendar", "add-days", "2027-09-30", "1").stdout.strip() == "2027-10-06"
    schedule.write_text("{not json")
    broken = govflow("calendar", "set", "2027", "--file", str(schedule))
    assert broken.returncode == 1 and broken.stderr.startswith("govflow:") and "Traceback" not in broken.stderr


def test_officials_read_the_calendar_over_the_api_and_only_a_city_admin_sets_it(api: ApiClient) -> None:
    year = api.get("/calendar/2025", "wang")
    assert year.status_code == 200 and year.json["known"] is True
    assert {"day": "2025-10-11", "kind": "workday", "name": "National Day"} in year.json["days"]
    assert api.get("/calendar/2025").status_code == 401
    counted = api.get("/calendar/working-days?start=2025-09-30&days=15", "zhang")
    assert counted.json == {"start": "2025-09-30", "working_days": 15, "due": "2025-10-28", "assumed_years": []}
    assert problem_of(api.get("/calendar/working-days?start=tomorrow&days=1", "zhang"))["status"] == 422

    assert problem_of(api.call("PUT", "/calendar/2027", "wang", json={"days": SCHEDULE_2027}))["status"] == 403
    bad = api.call("PUT", "/calendar/2027", "admin", json={"days": [{"day": "2027-10-06", "kind": "workday"}]})
    assert problem_of(bad)["status"] == 422 and "weekday" in bad.json["detail"]
    assert problem_of(api.call("PUT", "/calendar/2027", "admin", json={"days": [{"day": "x"}]}))["status"] == 422
    assert api.get("/calendar/2027", "wang").json["known"] is False
    done = api.call("PUT", "/calendar/2027", "admin", json={"days": SCHEDULE_2027})
    assert done.status_code == 200 and done.json["known"] is True and done.json["changed_by"] == "admin"
    counted = api.get("/calendar/working-days?start=2027-09-30&days=1", "wang").json
    assert counted["due"] == "2027-10-06" and counted["assumed_years"] == []


def test_a_script_task_computes_a_decision_deadline_in_working_days(org: Engine) -> None:
    org.deploy(read_bundle("decision_deadline.bpmn"), by=org.principal("designer"))
    zhang = who(org, "zhang")
    instance = org.start("decision_deadline", "wlq", by=zhang, variables={"received_on": "2025-09-30"})
    assert instance["status"] == "running", instance
    assert instance["variables"]["decide_by"] == "2025-10-28"
    at_time = org.start("decision_deadline", "wlq", by=zhang, variables={"received_on": "2025-09-30T10:30:00+08:00"})
    assert at_time["variables"]["decide_by"] == "2025-10-28T10:30:00+08:00"
