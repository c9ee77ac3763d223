"""Messages by correlation, thrown from one process to the one waiting for it, and message start events."""

from __future__ import annotations

import pytest

from engine import Engine, Principal
from engine.errors import Conflict, NotAllowed, RuleBroken
from tests.conftest import read_bundle, who
from tests.test_timers import run_worker

pytestmark = pytest.mark.usefixtures("org")

SYSTEM = Principal.system()


@pytest.fixture
def exchange(org: Engine) -> Engine:
    org.deploy(read_bundle("message_exchange.bpmn"), by=org.principal("designer"))
    return org


def test_the_assessment_result_thrown_by_one_case_reaches_the_subsidy_case_with_its_business_key(
    exchange: Engine,
) -> None:
    engine = exchange
    waiting = engine.start("care_subsidy", "qiaoyi", by=who(engine, "wang"), business_key="A-1")
    other = engine.start("care_subsidy", "qiaoyi", by=who(engine, "wang"), business_key="A-2")
    assessment = engine.start("care_assessment", "qiaoyi", by=who(engine, "wang"), business_key="A-1")
    engine.complete(assessment["tasks"][0]["id"], SYSTEM, {"grade": 3})
    [job] = engine.waiting_jobs(assessment["id"], by=SYSTEM)
    assert job["kind"] == "message" and job["element_id"] == "assessment_result"
    assert engine.get_instance(assessment["id"])["status"] == "completed"  # the sender is done; the message goes on

    [outcome] = run_worker(engine)
    assert outcome.result == "done" and waiting["id"] in outcome.detail
    shown = engine.get_instance(waiting["id"])
    assert shown["variables"]["assessment"] == {"grade": 3}
    assert [t["element_id"] for t in shown["tasks"]] == ["evaluate_eligibility"]
    received = [e for e in engine.history(waiting["id"]) if e["action"] == "message_received"]
    assert received[0]["actor"]["username"] == "engine" and received[0]["data"]["from_instance"] == assessment["id"]
    assert engine.get_instance(other["id"])["tasks"] == []  # A-2 still waits for its own result
    assert engine.waiting_jobs(assessment["id"], by=SYSTEM) == []


def test_a_thrown_message_nothing_waits_for_yet_is_retried_until_its_receiver_waits(exchange: Engine, clock) -> None:
    from datetime import timedelta

    engine = exchange
    assessment = engine.start("care_assessment", "qiaoyi", by=who(engine, "wang"), business_key="B-9")
    engine.complete(assessment["tasks"][0]["id"], SYSTEM, {"grade": 2})
    [outcome] = run_worker(engine)
    assert outcome.result == "retrying" and "Nothing waits for message assessment_result" in outcome.detail
    waiting = engine.start("care_subsidy", "qiaoyi", by=who(engine, "wang"), business_key="B-9")
    clock.advance(timedelta(minutes=2))
    [outcome] = run_worker(engine)
    assert outcome.result == "done"
    assert engine.get_instance(waiting["id"])["variables"]["assessment"] == {"grade": 2}


def test_post_messages_delivers_by_business_key_or_by_process_variables(exchange: Engine) -> None:
    engine = exchange
    wang = who(engine, "wang")
    first = engine.start("care_subsidy", "qiaoyi", by=wang, business_key="C-1", variables={"applicant": "张三"})
    second = engine.start(
        "care_subsidy", "qiaoyi", by=wang, business_key="C-2", variables={"applicant": "李四", "household_no": 12}
    )
    third = engine.start("care_subsidy", "qiaoyi", by=wang, variables={"household_no": 13, "urgent": True})
    with pytest.raises(Conflict, match="3 instances wait for message assessment_result"):
        engine.correlate_message("assessment_result", {}, {"grade": 1}, by=wang)
    shown, _ = engine.correlate_message("assessment_result", {"household_no": 13, "urgent": True}, {}, by=wang)
    assert shown["id"] == third["id"]
    with pytest.raises(Conflict, match="Nothing waits"):
        engine.correlate_message("assessment_result", {"household_no": 12, "urgent": True}, {}, by=wang)
    shown, started = engine.correlate_message("assessment_result", {"business_key": "C-2"}, {"grade": 4}, by=wang)
    assert not started and shown["id"] == second["id"] and shown["variables"]["assessment"] == {"grade": 4}
    shown, _ = engine.correlate_message("assessment_result", {"applicant": "张三"}, {"grade": 5}, by=wang)
    assert shown["id"] == first["id"]
    with pytest.raises(Conflict, match="Nothing waits for message assessment_result"):
        engine.correlate_message("assessment_result", {"business_key": "C-1"}, {"grade": 5}, by=wang)
    with pytest.raises(RuleBroken):
        engine.correlate_message("assessment_result", "C-1", {}, by=wang)  # type: ignore[arg-type]


def test_only_officials_at_or_above_the_case_may_correlate_a_message_to_it(exchange: Engine) -> None:
    engine = exchange
    engine.start("care_subsidy", "qiaoyi", by=who(engine, "wang"), business_key="D-1")
    with pytest.raises(NotAllowed):
        engine.correlate_message("assessment_result", {"business_key": "D-1"}, {}, by=who(engine, "chen"))
    shown, _ = engine.correlate_message("assessment_result", {"business_key": "D-1"}, {}, by=who(engine, "zhang"))
    assert shown["tasks"][0]["element_id"] == "evaluate_eligibility"


def test_an_assessment_thrown_with_a_household_correlation_property_reaches_only_that_households_case(
    org: Engine,
) -> None:
    engine = org
    engine.deploy(read_bundle("message_correlation.bpmn"), by=engine.principal("designer"))
    wang = who(engine, "wang")
    first = engine.start("household_subsidy", "qiaoyi", by=wang, variables={"household_no": "H-12"})
    second = engine.start("household_subsidy", "qiaoyi", by=wang, variables={"household_no": "H-13"})
    assessment = engine.start("household_assessment", "qiaoyi", by=wang)
    engine.complete(assessment["tasks"][0]["id"], SYSTEM, {"household_no": "H-13", "grade": 4})
    [job] = engine.waiting_jobs(assessment["id"], by=SYSTEM)
    assert job["kind"] == "message" and job["element_id"] == "household_assessed"

    [outcome] = run_worker(engine)
    assert outcome.result == "done" and second["id"] in outcome.detail
    shown = engine.get_instance(second["id"])
    assert shown["variables"]["assessment"] == {"household_no": "H-13", "grade": 4}
    assert [t["element_id"] for t in shown["tasks"]] == ["decide_subsidy"]
    assert engine.get_instance(first["id"])["tasks"] == []  # H-12 still waits for its own

    # A result for a household no case waits for is retried, not handed to whichever case waits.
    other = engine.start("household_assessment", "qiaoyi", by=wang)
    engine.complete(other["tasks"][0]["id"], SYSTEM, {"household_no": "H-99", "grade": 2})
    [outcome] = run_worker(engine)
    assert outcome.result == "retrying" and "H-99" in outcome.detail
    assert engine.get_instance(first["id"])["tasks"] == []


def test_an_admin_delivers_a_thrown_message_now_and_the_senders_history_says_so(exchange: Engine) -> None:
    engine = exchange
    waiting = engine.start("care_subsidy", "qiaoyi", by=who(engine, "wang"), business_key="E-1")
    assessment = engine.start("care_assessment", "qiaoyi", by=who(engine, "wang"), business_key="E-1")
    engine.complete(assessment["tasks"][0]["id"], SYSTEM, {"grade": 5})
    [job] = engine.waiting_jobs(assessment["id"], by=SYSTEM)
    with pytest.raises(NotAllowed):
        engine.execute_job(assessment["id"], job["id"], by=who(engine, "wang"))
    assert engine.execute_job(assessment["id"], job["id"], by=who(engine, "admin"))["status"] == "done"
    assert engine.get_instance(waiting["id"])["variables"]["assessment"] == {"grade": 5}
    [by_hand] = [e for e in engine.history(assessment["id"]) if e["action"] == "job_executed"]
    assert by_hand["actor"]["username"] == "admin" and by_hand["element_id"] == "assessment_result"
    assert engine.verify(who(engine, "auditor"), assessment["id"])["ok"]
    assert run_worker(engine) == []
