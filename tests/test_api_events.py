"""The REST side of time and events: jobs of an instance, run now, every job, POST /messages, due dates."""

from __future__ import annotations

from datetime import timedelta

import pytest

from engine import Engine
from tests.conftest import ApiClient, problem_of, read_bundle
from tests.test_timers import run_worker


@pytest.fixture
def timed(api: ApiClient) -> ApiClient:
    engine: Engine = api.app.extensions["govflow"]
    engine.deploy(
        read_bundle("timed_decision.bpmn", "message_exchange.bpmn", "timed_agenda.bpmn"),
        by=engine.principal("designer"),
    )
    return api


def start(api: ApiClient, key: str, user: str = "wang", **extra: object) -> dict:
    response = api.post("/process-instances", user, json={"process_key": key, "org_unit": "qiaoyi", **extra})
    assert response.status_code == 201, response.json
    return response.json


def test_an_official_reads_the_jobs_and_an_admin_runs_one_now(timed: ApiClient) -> None:
    instance = start(timed, "timed_decision")
    assert instance["incidents"] == [] and instance["tasks"][0]["due_at"] and instance["tasks"][0]["overdue"] is False
    jobs = timed.get(f"/process-instances/{instance['id']}/jobs", "zhang").json["items"]
    assert sorted(j["element_id"] for j in jobs) == ["escalate_decision", "remind_decision"]
    assert all(j["kind"] == "timer" and j["status"] == "waiting" and j["attempts"] == 0 for j in jobs)
    problem_of(timed.get(f"/process-instances/{instance['id']}/jobs", "wu"))  # another subdistrict: 403
    [remind] = [j for j in jobs if j["element_id"] == "remind_decision"]

    refused = timed.post(f"/process-instances/{instance['id']}/jobs/{remind['id']}/execute", "zhang")
    assert refused.status_code == 403 and problem_of(refused)
    assert timed.post(f"/process-instances/{instance['id']}/jobs/nope/execute", "admin").status_code == 404
    done = timed.post(f"/process-instances/{instance['id']}/jobs/{remind['id']}/execute", "admin")
    assert done.status_code == 200 and done.json["status"] == "done" and done.json["element_id"] == "remind_decision"
    [task] = timed.get("/tasks?scope=candidate", "zhang").json["items"]
    assert task["urged_count"] == 1
    history = timed.get(f"/process-instances/{instance['id']}/history", "auditor").json["items"]
    executed = [e for e in history if e["action"] == "job_executed"]
    assert executed[0]["actor"]["username"] == "admin" and executed[0]["element_id"] == "remind_decision"
    again = timed.post(f"/process-instances/{instance['id']}/jobs/{remind['id']}/execute", "admin")
    assert again.status_code == 404 and problem_of(again)


def test_an_admin_lists_every_job_and_officials_may_not(timed: ApiClient) -> None:
    start(timed, "timed_decision")
    response = timed.get("/jobs", "admin")
    assert response.status_code == 200
    kinds = sorted(j["kind"] for j in response.json["items"])
    assert kinds == ["start_timer", "timer", "timer"]
    assert timed.get("/jobs?status=incident", "admin").json["items"] == []
    assert timed.get("/jobs?status=lost", "admin").status_code == 422
    assert problem_of(timed.get("/jobs", "zhang"))["status"] == 403


def test_post_messages_correlates_by_business_key_and_answers_409_when_nothing_waits(timed: ApiClient) -> None:
    waiting = start(timed, "care_subsidy", business_key="E-1")
    body = {"name": "assessment_result", "correlation": {"business_key": "E-1"}, "payload": {"grade": 2}}
    response = timed.post("/messages", "wang", json=body)
    assert response.status_code == 200, response.json
    assert response.json["started"] is False and response.json["instance"]["id"] == waiting["id"]
    assert response.json["instance"]["variables"]["assessment"] == {"grade": 2}
    again = timed.post("/messages", "wang", json=body)
    assert again.status_code == 409 and "Nothing waits for message assessment_result" in problem_of(again)["detail"]
    assert timed.post("/messages", "wang", json={"name": ""}).status_code == 422
    assert timed.post("/messages", "wang", json={"name": "x", "correlation": "E-1"}).status_code == 422


def test_a_message_start_event_creates_a_case_answered_201(timed: ApiClient) -> None:
    body = {"name": "issue_submitted", "payload": {"title": "楼道堆物"}, "business_key": "ISSUE-1"}
    response = timed.post("/messages", "wang", json=body)
    assert response.status_code == 201, response.json
    case = response.json["instance"]
    assert response.json["started"] is True and case["process_key"] == "timed_agenda" and case["org_unit"] == "qiaoyi"
    assert case["business_key"] == "ISSUE-1" and case["tasks"][0]["element_id"] == "register_issue"
    # an official of several units must say which one the new case is for
    refused = timed.post("/messages", "admin", json={"name": "issue_submitted"})
    assert refused.status_code == 422 and "org_unit" in problem_of(refused)["detail"]


def test_incidents_show_on_the_instance_and_a_retry_over_http_clears_them(timed: ApiClient, clock) -> None:
    engine: Engine = timed.app.extensions["govflow"]
    engine.deploy(read_bundle("timed_failure.bpmn"), by=engine.principal("designer"))
    response = timed.post(
        "/process-instances",
        "zhang",
        json={"process_key": "timed_failure", "org_unit": "qiaoyi", "variables": {"households": 0}},
    )
    instance = response.json
    clock.advance(timedelta(days=1, seconds=1))
    for _ in range(3):
        run_worker(engine)
        clock.advance(timedelta(hours=1))
    assert timed.get("/me", "zhang").status_code == 401  # one clock: a day later the token has expired too
    timed.tokens.clear()
    shown = timed.get(f"/process-instances/{instance['id']}", "zhang").json
    assert shown["incidents"][0]["attempts"] == 3 and "division by zero" in shown["incidents"][0]["error"]
    [job] = timed.get(f"/process-instances/{instance['id']}/jobs", "zhang").json["items"]
    assert job["status"] == "incident" and job["attempts"] == 3
    retried = timed.post(f"/process-instances/{instance['id']}/retry", "admin", json={"variables": {"households": 5}})
    assert retried.status_code == 200, retried.json
    assert retried.json["incidents"] == [] and retried.json["tasks"][0]["element_id"] == "confirm_share"
