"""The four procedures' timers run by the worker with the engine's clock moved, not fired by hand.

The clock starts on Wednesday 30 September 2026 in Beijing, the day before the National Day holiday
(1-7 October; Saturday 10 October is worked instead), and the demo library is deployed then. Each due
time is worked out by hand here; the clock then stops a minute short of it (nothing fires) and a minute
past it (the timer fires exactly once, counted in the audit trail's `timer_fired` events).
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from engine import Engine, Principal
from engine.demo import DEMO_PASSWORD
from tests.procedure_desk import Desk
from tests.test_access_review import REQUEST, review
from tests.test_committee_change import ANNOUNCED, APPROVED, CONSULTED, HANDOVER, MERGE, REVIEWED, SUBMITTED
from tests.test_timers import fired, run_worker

BEIJING = timezone(timedelta(hours=8))
SEPT_30 = datetime(2026, 9, 30, 10, 0, tzinfo=BEIJING)
MINUTE = timedelta(minutes=1)


@pytest.fixture
def clock(clock):  # noqa: ANN001, ANN201 - the conftest fixture, frozen on a chosen day
    clock.freeze(SEPT_30)
    return clock


@pytest.fixture
def desk(clock, desk: Desk) -> Desk:  # noqa: ANN001 - the demo deployed with the clock already on 30 September
    return desk


def at(*parts: int) -> datetime:
    """A moment in Beijing: at(2026, 10, 27, 10) is 27 October 2026, 10:00."""
    return datetime(*parts, tzinfo=BEIJING)


class Timeline:
    """The demo desk, the worker and the clock together: officials work, the clock moves, the worker runs."""

    def __init__(self, desk: Desk, engine: Engine, clock) -> None:  # noqa: ANN001
        self.desk, self.engine, self.clock = desk, engine, clock

    def move_to(self, moment: datetime) -> None:
        self.clock.freeze(moment)
        self.desk.tokens.clear()  # a sign-in lasts hours, not the days the clock jumps

    def job_due(self, case: str, element_id: str) -> datetime:
        jobs = self.engine.waiting_jobs(case, Principal.system())
        [job] = [j for j in jobs if j["element_id"] == element_id]
        return datetime.fromisoformat(job["due_at"])

    def task_due(self, case: str, element_id: str) -> datetime:
        return datetime.fromisoformat(self.desk.task(case, element_id)["due_at"])

    def fires_at(self, case: str, element_id: str, due: datetime) -> None:
        """The case's timer `element_id` falls due at `due`: the worker leaves it alone a minute before
        and fires it exactly once a minute after."""
        assert self.job_due(case, element_id) == due
        before = fired(self.engine, case).count(element_id)
        self.move_to(due - MINUTE)
        assert [o for o in run_worker(self.engine) if o.job.instance_id == case] == []
        self.move_to(due + MINUTE)
        outcomes = [o for o in run_worker(self.engine) if o.job.instance_id == case]  # not a yearly start
        assert [(o.job.element_id, o.result) for o in outcomes] == [(element_id, "done")]
        assert fired(self.engine, case).count(element_id) == before + 1
        assert [o for o in run_worker(self.engine) if o.job.instance_id == case] == []

    def inbox_page(self, username: str, path: str) -> str:
        """A workspace page as the official sees it, signed in through the sign-in page."""
        browser = self.desk.http.application.test_client()
        signed_in = browser.post("/login", data={"username": username, "password": DEMO_PASSWORD, "next": "/inbox"})
        assert signed_in.status_code == 303, signed_in.text
        page = browser.get(path)
        assert page.status_code == 200
        return page.text

    def open_steps(self, case: str) -> list[str]:
        return sorted(t["element_id"] for t in self.desk.open_tasks(case))


@pytest.fixture
def timeline(clock, desk: Desk, engine: Engine) -> Timeline:  # noqa: ANN001
    return Timeline(desk, engine, clock)


# --- deliberation ------------------------------------------------------------------------------------

ISSUE = {"title": "楼道堆物整治", "source": "resident"}
PRIOR = {"solicitation_summary": "征询 2 次", "category": "self_governance", "entrusted_by_government": True}
HEARING_NOTICE = {"hearing_date": "2026-10-06", "notice_published_on": "2026-09-30", "agenda": "堆物整治方案"}
HEARING = {"participants": 20, "opinions_summary": "同意", "minutes": "纪要", "consensus_reached": True}
REPORT = {"reported_on": "2026-10-05", "result_summary": "建议街道统一清运"}
DRAFT = {"plan_summary": "清运方案", "published_on": "2026-10-21", "channel": "board"}
DECISION = {"meeting_date": "2026-10-29", "members": 7, "present": 6, "yes": 5, "decision_summary": "通过"}
PUBLISHED = {"channel": "board", "published_on": "2026-11-02", "notice_text": "决定公告"}


def test_the_deliberation_waits_out_its_notice_periods_and_the_governments_silence_by_the_clock(
    timeline: Timeline,
) -> None:
    t, desk = timeline, timeline.desk
    case = desk.start("rc_qiaoyi", "deliberation", "qiaoyi")["id"]
    desk.work("rc_qiaoyi", case, "register_issue", ISSUE)
    desk.work("party_qiaoyi", case, "prior_deliberation", PRIOR)
    desk.work("rc_qiaoyi", case, "publish_hearing_notice", HEARING_NOTICE)
    # The hearing comes five calendar days after the notice (the holiday counts: residents are at home).
    t.fires_at(case, "hearing_notice_period", at(2026, 10, 5, 10))
    assert t.open_steps(case) == ["hold_hearing"]

    desk.work("rc_qiaoyi", case, "hold_hearing", HEARING)
    desk.work("rc_qiaoyi", case, "report_result_to_government", REPORT)
    # An entrusted matter: the subdistrict adopts it or gives reasons within 15 days, else the case goes on.
    feedback = desk.task(case, "government_feedback")
    assert feedback["candidate"] == {"role": "subdistrict_office", "org_unit": "wuliqiao"}
    assert t.task_due(case, "government_feedback") == at(2026, 10, 20, 10, 1)
    t.fires_at(case, "government_feedback_due", at(2026, 10, 20, 10, 1))
    assert t.open_steps(case) == ["publish_draft_plan"]  # the silent government's task is withdrawn
    assert desk.instance(case)["variables"]["government_feedback"] == "overdue"
    assert desk.get("/tasks?scope=candidate", "street_wuliqiao").json["items"] == []

    desk.work("rc_qiaoyi", case, "publish_draft_plan", DRAFT)
    t.fires_at(case, "public_notice_period", at(2026, 10, 27, 10, 2))
    desk.work("rc_qiaoyi", case, "collect_objections", {"objections_received": 0, "substantial_objection": False})
    desk.work("rc_qiaoyi", case, "committee_decision", DECISION)

    # The resolution is due on the board within three days; late, it is urged (催办), not taken away.
    assert t.task_due(case, "publish_resolution") == at(2026, 10, 30, 10, 3)
    t.fires_at(case, "publish_resolution_due", at(2026, 10, 30, 10, 3))
    [task] = desk.get("/tasks?scope=candidate", "rc_qiaoyi").json["items"]
    assert task["element_id"] == "publish_resolution" and task["overdue"] is True and task["urged_count"] == 1
    urged = [e for e in t.engine.history(case) if e["action"] == "task_urged"]
    assert [(e["element_id"], e["actor"]["username"]) for e in urged] == [("publish_resolution", "engine")]
    desk.work("rc_qiaoyi", case, "publish_resolution", PUBLISHED)
    assert "publish_resolution" not in t.open_steps(case)
    assert fired(t.engine, case) == [
        "hearing_notice_period",
        "government_feedback_due",
        "public_notice_period",
        "publish_resolution_due",
    ]


# --- service_item_delegation --------------------------------------------------------------------------

APPLICANT = {"channel": "online", "applicant_name": "李阿姨", "applicant_id_no": "310101196501011234"}
DISABILITY = {"item_code": "severe_disability_unemployed_subsidy", "applicant_committee": "qiaoyi"}
ACCEPTED = {"receipt_no": "WLQ-930", "age": 45, "economic_status": "none", "disability_grade": 1}
VERIFIED = {"employed": False, "verification_note": "无业", "verified_on": "2026-09-30"}


def test_a_subsidy_decision_due_in_15_working_days_is_escalated_to_the_district_after_national_day(
    timeline: Timeline,
) -> None:
    t, desk = timeline, timeline.desk
    case = desk.start("center_wuliqiao", "service_item_delegation", "wuliqiao")["id"]
    documents = {"submitted_documents": ["application_form", "employment_statement"]}
    desk.work("center_wuliqiao", case, "receive_application", APPLICANT | DISABILITY | documents)
    desk.work("center_wuliqiao", case, "accept_application", ACCEPTED)
    desk.work("rc_qiaoyi", case, "verify_at_home", VERIFIED)
    # 15 working days from complete materials on 30 September: 8, 9, 10 (the make-up Saturday), 12-16,
    # 19-23, 26 and 27 October. The limit runs out at the end of Tuesday 27 October.
    end_of_27_october = at(2026, 10, 27, 23, 59, 59)
    assert t.task_due(case, "decide") == end_of_27_october
    t.fires_at(case, "decision_due", end_of_27_october)

    [supervise] = desk.get("/tasks?scope=candidate", "civil_huangpu").json["items"]
    assert supervise["element_id"] == "supervise_overdue_decision" and supervise["instance_id"] == case
    assert supervise["candidate"] == {"role": "district_civil_affairs", "org_unit": "huangpu"}
    [late] = desk.get("/tasks?scope=candidate", "street_wuliqiao").json["items"]
    assert late["element_id"] == "decide" and late["overdue"] is True and late["urged_count"] == 1
    assert datetime.fromisoformat(late["due_at"]) == end_of_27_october
    # The subdistrict official's inbox lists it among the overdue ones, in red and marked 已逾期.
    page = t.inbox_page("street_wuliqiao", "/inbox?tab=candidate&overdue=1")
    assert page.count("<tr data-task=") == 1 and "10-27 23:59 <strong>已逾期</strong>" in page


def test_documents_not_supplied_within_10_working_days_close_the_application_to_the_minute(
    timeline: Timeline,
) -> None:
    t, desk = timeline, timeline.desk
    # An online application read at 07:45 on Monday 12 October, still Sunday in UTC: working days are
    # counted on Beijing's calendar.
    t.move_to(at(2026, 10, 12, 7, 45))
    case = desk.start("center_wuliqiao", "service_item_delegation", "wuliqiao")["id"]
    desk.work("center_wuliqiao", case, "receive_application", APPLICANT | DISABILITY | {"submitted_documents": []})
    desk.work("center_wuliqiao", case, "one_time_notice", {"notice_text": "请补交申请表", "notified_on": "2026-10-12"})
    # 13-16, 19-23 and 26 October: ten working days, to the same minute (not Saturday the 24th).
    assert t.task_due(case, "supply_documents") == at(2026, 10, 26, 7, 45)
    t.fires_at(case, "supply_deadline", at(2026, 10, 26, 7, 45))
    assert desk.ended_at(case) == ["end_closed_incomplete"]
    assert desk.instance(case)["status"] == "completed" and desk.open_tasks(case) == []


# --- access_review --------------------------------------------------------------------------------------


def test_the_district_is_urged_after_15_working_days_and_a_matter_is_monitored_each_quarter_then_re_reviewed(
    timeline: Timeline,
) -> None:
    t, desk = timeline, timeline.desk
    case = desk.start("dept_huangpu", "access_review", "huangpu")["id"]
    desk.work("dept_huangpu", case, "submit_request", REQUEST)
    desk.work("civil_huangpu", case, "check_request_completeness", {"request_complete": True})
    review(desk, case)
    # Complete on 30 September: the district government decides by the end of the 15th working day.
    assert t.task_due(case, "approve_list_change") == at(2026, 10, 27, 23, 59, 59)
    t.fires_at(case, "approval_due", at(2026, 10, 27, 23, 59, 59))
    [approval] = desk.get("/tasks?scope=candidate", "gov_huangpu").json["items"]
    assert approval["element_id"] == "approve_list_change" and approval["overdue"] and approval["urged_count"] == 1

    t.move_to(at(2026, 10, 28, 9))
    desk.work("gov_huangpu", case, "approve_list_change", {"final_outcome": "admit", "approval_note": "同意准入"})
    notice = {"funds_transferred": True, "notice_to_committees": "通知"}
    desk.work("dept_huangpu", case, "notify_rcs_and_fund_transfer", notice)
    # The monitoring point reports every three calendar months, counted from its last report (each one
    # made a minute after its round fell due).
    rounds = [at(2027, 1, 28, 9), at(2027, 4, 28, 9, 1), at(2027, 7, 28, 9, 2), at(2027, 10, 28, 9, 3)]
    for quarter, due in enumerate(rounds):
        assert t.open_steps(case) == []
        t.fires_at(case, "monitoring_period", due)
        assert t.open_steps(case) == ["monitoring_point_report"]
        report = {"unlisted_found": False, "unlisted_tasks": "", "hours": 6 + quarter}
        desk.work("rc_qiaoyi", case, "monitoring_point_report", report)
    # A year of reports: the yearly re-review, no further round until it is decided.
    assert t.open_steps(case) == ["periodic_re_review"]
    assert [j["element_id"] for j in t.engine.waiting_jobs(case, Principal.system())] == []
    desk.work("civil_huangpu", case, "periodic_re_review", {"re_review_result": "keep", "re_review_reason": "继续"})
    assert t.job_due(case, "monitoring_period") == at(2028, 1, 28, 9, 4)
    assert fired(t.engine, case) == ["approval_due"] + ["monitoring_period"] * 4


# --- committee_change -----------------------------------------------------------------------------------


def test_a_merger_is_urged_and_escalated_at_each_of_its_time_limits(timeline: Timeline) -> None:
    t, desk = timeline, timeline.desk
    case = desk.start("street_wuliqiao", "committee_change", "wuliqiao")["id"]
    desk.work("street_wuliqiao", case, "draft_change_plan", MERGE)
    # Both committees publish the plan for seven days (calendar days: the holiday counts).
    for task in desk.open_tasks(case):
        assert datetime.fromisoformat(task["due_at"]) == at(2026, 10, 7, 10)
    t.fires_at(case, "consultation_due", at(2026, 10, 7, 10))
    for rc in ("rc_qiaoyi", "rc_ruinan"):
        [consult] = desk.get("/tasks?scope=candidate", rc).json["items"]
        assert consult["element_id"] == "consult_affected_residents" and consult["urged_count"] == 1
        desk.work(rc, case, "consult_affected_residents", CONSULTED, org_unit=consult["candidate"]["org_unit"])
    desk.work("street_wuliqiao", case, "submit_to_district", SUBMITTED)

    # Submitted on 7 October (a holiday): 20 working days are 8-10, 12-16, 19-23, 26-30 October, 2 and
    # 3 November. Past them the district government supervises the review.
    assert t.task_due(case, "review_proposal") == at(2026, 11, 3, 10, 1)
    t.fires_at(case, "district_review_due", at(2026, 11, 3, 10, 1))
    [supervise] = desk.get("/tasks?scope=candidate", "gov_huangpu").json["items"]
    assert supervise["element_id"] == "supervise_overdue_review"
    assert supervise["candidate"] == {"role": "district_government", "org_unit": "huangpu"}
    [late] = desk.get("/tasks?scope=candidate", "civil_huangpu").json["items"]
    assert late["element_id"] == "review_proposal" and late["overdue"] and late["urged_count"] == 1
    desk.work(
        "gov_huangpu", case, "supervise_overdue_review", {"supervision_note": "限期", "supervised_on": "2026-11-03"}
    )
    desk.work("civil_huangpu", case, "review_proposal", REVIEWED)
    desk.work("gov_huangpu", case, "decide_at_executive_meeting", APPROVED)

    # Announced within five working days of the decision (4-6, 9 and 10 November).
    assert t.task_due(case, "publish_decision") == at(2026, 11, 10, 10, 2)
    t.fires_at(case, "announcement_due", at(2026, 11, 10, 10, 2))
    assert desk.task(case, "publish_decision")["urged_count"] == 1
    desk.work("street_wuliqiao", case, "publish_decision", ANNOUNCED)

    # The first election within 90 days of the announcement.
    assert t.task_due(case, "first_election_or_transition") == at(2027, 2, 8, 10, 3)
    t.fires_at(case, "first_election_due", at(2027, 2, 8, 10, 3))
    assert desk.task(case, "first_election_or_transition")["urged_count"] == 1
    for rc in ("rc_qiaoyi", "rc_ruinan"):
        desk.work(rc, case, "transfer_archives_assets_seals", HANDOVER, org_unit=rc.removeprefix("rc_"))
    elections = {"elections": [{"org_code": "qiaoyi", "director": "王桂芳"}], "transition_note": "换届选举"}
    desk.work("street_wuliqiao", case, "first_election_or_transition", elections)
    done = desk.work("civil_huangpu", case, "uscc_certificate_action", {"certificate_note": "换发证书"})
    assert done["instance"]["status"] == "completed"
    assert sorted(desk.ended_at(case)) == [
        "end_announcement_urged",
        "end_change_effective",
        "end_consultation_urged",
        "end_election_urged",
        "end_review_supervised",
    ]
    assert fired(t.engine, case) == [
        "consultation_due",
        "district_review_due",
        "announcement_due",
        "first_election_due",
    ]


# --- yearly rounds: the deliberation's agenda and the committees' size review -------------------------


def test_each_year_every_committee_opens_its_agenda_and_every_street_and_town_reviews_its_committees_sizes(
    timeline: Timeline,
) -> None:
    t, desk, engine = timeline, timeline.desk, timeline.engine
    system = Principal.system()
    starts = {j["element_id"]: j for j in engine.list_jobs(system) if j["kind"] == "start_timer"}
    assert set(starts) == {"annual_agenda", "size_review"}  # scheduled when the library was deployed
    assert {datetime.fromisoformat(j["due_at"]) for j in starts.values()} == {at(2027, 9, 30, 10)}

    t.move_to(at(2027, 9, 30, 9, 59))
    assert run_worker(engine) == []
    t.move_to(at(2027, 9, 30, 10, 1))
    assert sorted((o.job.element_id, o.result) for o in run_worker(engine)) == [
        ("annual_agenda", "done"),
        ("size_review", "done"),
    ]
    agendas = engine.list_instances(system, process_key="deliberation")["items"]
    assert sorted(c["org_unit"] for c in agendas) == ["qiaoyi", "ruinan", "xinye", "yunnan"]
    assert {tuple(t.open_steps(c["id"])) for c in agendas} == {("register_issue",)}
    reviews = {c["org_unit"]: c["id"] for c in engine.list_instances(system, process_key="committee_change")["items"]}
    assert sorted(reviews) == ["nanjingdonglu", "wuliqiao", "zhuanghang"]
    town = desk.task(reviews["zhuanghang"], "review_committee_sizes")
    assert town["candidate"] == {"role": "township_government", "org_unit": "zhuanghang"}
    rounds = desk.get("/audit/events?action=start_timer_fired", "auditor").json["items"]
    assert sorted(e["element_id"] for e in rounds) == ["annual_agenda", "size_review"]
    assert all(e["actor"]["username"] == "engine" for e in rounds)
    # Next year's round is waiting; nothing more happens this year.
    assert {datetime.fromisoformat(j["due_at"]) for j in engine.list_jobs(system) if j["kind"] == "start_timer"} == {
        at(2028, 9, 30, 10)
    }
    t.move_to(at(2028, 9, 30, 9, 59))
    assert [o.job.element_id for o in run_worker(engine)] == []

    # Wuliqiao finds a committee too small and goes on to a change plan; Nanjing Donglu needs none.
    review = {"households_summary": "桥一 600 户，瑞南 700 户", "change_needed": True}
    desk.work("street_wuliqiao", reviews["wuliqiao"], "review_committee_sizes", review)
    assert t.open_steps(reviews["wuliqiao"]) == ["draft_change_plan"]
    desk.work(
        "street_nanjing", reviews["nanjingdonglu"], "review_committee_sizes", {"households_summary": "云南 1800 户"}
    )
    assert desk.ended_at(reviews["nanjingdonglu"]) == ["end_no_change"]
