"""Whole cases over the REST API: delegation, withdrawal, messages, timers, the diagram path, exports, a
failed script and instance search, each with the status codes and problem+json bodies API.md fixes.

Flask's test client against a real database: every test runs on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime, timedelta

from engine.case_file import csv_sections
from tests.conftest import DATA, PASSWORD, ApiClient, problem_of

ISSUE = {"title": "加装电梯", "proposer_count": 30, "eligible_count": 100}
NO_SUCH_ID = "00000000-0000-0000-0000-000000000000"


def deploy(api: ApiClient, *names: str) -> None:
    files = {"files": [(io.BytesIO((DATA / "engine" / n).read_bytes()), n) for n in names]}
    response = api.post("/deployments", "designer", data=files, content_type="multipart/form-data")
    assert response.status_code == 201, response.json


def start(api: ApiClient, process_key: str = "petition_review", user: str = "wang", **extra) -> dict:
    body = {"process_key": process_key, "org_unit": "qiaoyi"} | extra
    response = api.post("/process-instances", user, json=body)
    assert response.status_code == 201, response.json
    return response.json


def to_review(api: ApiClient, **extra) -> tuple[dict, str, str]:
    """A petition wang registered, waiting for the subdistrict's review: (instance, register, review)."""
    instance = start(api, **extra)
    register_id = instance["tasks"][0]["id"]
    done = api.post(f"/tasks/{register_id}/complete", "wang", json={"data": ISSUE})
    assert done.status_code == 200, done.json
    return instance, register_id, done.json["next_tasks"][0]["id"]


def history(api: ApiClient, instance_id: str) -> list[dict]:
    response = api.get(f"/process-instances/{instance_id}/history", "auditor")
    assert response.status_code == 200, response.json
    return response.json["items"]


def complete(api: ApiClient, task_id: str, user: str, data: dict):  # noqa: ANN201
    return api.post(f"/tasks/{task_id}/complete", user, json={"data": data})


# --- 委派 --------------------------------------------------------------------------------------------


def test_a_subdistrict_official_delegates_the_review_and_confirms_the_colleagues_draft(api: ApiClient) -> None:
    zhou = {"username": "zhou", "password": PASSWORD, "roles": [{"role": "acceptance_center", "org_unit": "wlq"}]}
    assert api.post("/users", "admin", json=zhou).status_code == 201  # a colleague at the acceptance centre
    instance, _, review_id = to_review(api)
    assert api.post(f"/tasks/{review_id}/claim", "zhang").status_code == 200

    delegated = api.post(f"/tasks/{review_id}/delegate", "zhang", json={"to": "zhou", "comment": "请先核对联名材料"})
    assert delegated.status_code == 200, delegated.json
    assert (delegated.json["owner"], delegated.json["assignee"], delegated.json["delegation"]) == (
        "zhang",
        "zhou",
        "pending",
    )
    assert [t["id"] for t in api.get("/tasks?scope=mine", "zhou").json["items"]] == [review_id]
    refused = complete(api, review_id, "zhang", {"decision": "approve"})
    assert refused.status_code == 409
    assert "delegated to zhou; it comes back to zhang" in problem_of(refused)["detail"]

    back = complete(api, review_id, "zhou", {"decision": "approve", "opinion": "材料齐全"})
    assert back.status_code == 200, back.json
    assert back.json["instance"] == {"id": instance["id"], "status": "running", "error": None}
    [same] = back.json["next_tasks"]
    assert (same["id"], same["status"], same["assignee"], same["delegation"]) == (
        review_id,
        "open",
        "zhang",
        "resolved",
    )
    shown = api.get(f"/tasks/{review_id}", "zhang").json
    assert (shown["data"]["decision"], shown["data"]["opinion"]) == ("approve", "材料齐全")
    twice = complete(api, review_id, "zhou", {"decision": "reject"})  # the delegate clicks again
    assert twice.status_code == 409 and "already handed “街道审查” back to zhang" in problem_of(twice)["detail"]

    done = complete(api, review_id, "zhang", {"opinion": "材料齐全，同意召开"})  # the owner confirms, amending
    assert done.status_code == 200, done.json
    assert done.json == {"instance": {"id": instance["id"], "status": "completed", "error": None}, "next_tasks": []}
    variables = api.get(f"/process-instances/{instance['id']}", "zhang").json["variables"]
    assert (variables["decision"], variables["opinion"]) == ("approve", "材料齐全，同意召开")
    events = [e for e in history(api, instance["id"]) if e["element_id"] == "review_petition"]
    assert [(e["action"], e["actor"]["username"]) for e in events] == [
        ("task_created", "engine"),
        ("task_claimed", "zhang"),
        ("task_delegated", "zhang"),
        ("task_resolved", "zhou"),
        ("task_completed", "zhang"),
    ]
    [note] = api.get(f"/tasks/{review_id}/comments", "zhang").json["items"]
    assert (note["kind"], note["text"]) == ("delegate", "请先核对联名材料")


def test_a_review_is_delegated_only_to_a_colleague_at_its_unit(api: ApiClient) -> None:
    _, _, review_id = to_review(api)
    path = f"/tasks/{review_id}/delegate"
    for to, words in [
        ("wang", "wang holds no official role at 五里桥街道"),
        ("zhang", "cannot be delegated to yourself"),
        ("ghost", "no active user 'ghost'"),
    ]:
        response = api.post(path, "zhang", json={"to": to})
        assert response.status_code == 422 and words in problem_of(response)["detail"], response.json
    assert problem_of(api.post(path, "wu", json={"to": "liu"}))["status"] == 403  # another subdistrict
    missing = api.post(path, "zhang", json={"comment": "x"})
    assert missing.status_code == 422 and [e["field"] for e in problem_of(missing)["errors"]] == ["to"]
    assert problem_of(api.post("/tasks/no-such-task/delegate", "zhang", json={"to": "liu"}))["status"] == 404
    assert api.get(f"/tasks/{review_id}", "zhang").json["delegation"] is None


# --- 撤回 --------------------------------------------------------------------------------------------


def test_the_official_who_registered_a_petition_withdraws_it_while_the_review_is_untouched(api: ApiClient) -> None:
    instance, register_id, review_id = to_review(api)
    other = api.post(f"/tasks/{register_id}/withdraw", "zhang", json={})
    assert other.status_code == 403
    assert "Only wang, who completed “登记议题”, may withdraw it" in problem_of(other)["detail"]
    still_open = api.post(f"/tasks/{review_id}/withdraw", "zhang", json={})
    assert still_open.status_code == 409 and "has not been completed" in problem_of(still_open)["detail"]

    withdrawn = api.post(f"/tasks/{register_id}/withdraw", "wang", json={"reason": "联名人数登记错了"})
    assert withdrawn.status_code == 200, withdrawn.json
    assert withdrawn.json["instance"] == {"id": instance["id"], "status": "running", "error": None}
    [again] = withdrawn.json["next_tasks"]
    assert (again["id"], again["status"], again["assignee"]) == (register_id, "open", "wang")
    assert api.get(f"/tasks/{review_id}", "zhang").json["status"] == "cancelled"
    assert api.get("/tasks?scope=candidate", "zhang").json["items"] == []
    twice = api.post(f"/tasks/{register_id}/withdraw", "wang", json={})
    assert twice.status_code == 409 and "already back with you" in problem_of(twice)["detail"]

    [review] = complete(api, register_id, "wang", ISSUE | {"proposer_count": 35}).json["next_tasks"]
    assert complete(api, review["id"], "zhang", {"decision": "approve"}).json["instance"]["status"] == "completed"
    assert api.get(f"/process-instances/{instance['id']}", "wang").json["variables"]["summary"] == "35/100"
    withdrawal = [e for e in history(api, instance["id"]) if e["action"] == "task_withdrawn"]
    assert withdrawal[0]["data"] == {"task_id": register_id, "reason": "联名人数登记错了", "followers": [review_id]}


def test_a_registration_cannot_be_withdrawn_once_the_review_has_been_claimed(api: ApiClient) -> None:
    instance, register_id, review_id = to_review(api)
    assert api.post(f"/tasks/{review_id}/claim", "zhang").status_code == 200
    refused = api.post(f"/tasks/{register_id}/withdraw", "wang", json={"reason": "登记有误"})
    assert refused.status_code == 409
    assert problem_of(refused)["detail"] == (
        "The next step “街道审查” has already been claimed by zhang, so “登记议题” can no longer be withdrawn."
    )
    for bad in ({"reason": 5}, {"reason": "误" * 2001}, {"reason": "x", "why": "y"}):
        response = api.post(f"/tasks/{register_id}/withdraw", "wang", json=bad)
        assert response.status_code == 422 and problem_of(response)["errors"], bad
    assert api.get(f"/tasks/{review_id}", "zhang").json["status"] == "open"
    assert "task_withdrawn" not in [e["action"] for e in history(api, instance["id"])]


# --- messages --------------------------------------------------------------------------------------


def test_a_meeting_result_sent_as_a_message_moves_the_instance_on_once(api: ApiClient) -> None:
    deploy(api, "queries_message.bpmn")
    instance = start(api, "assembly_wait")
    assert instance["tasks"] == []
    path = f"/process-instances/{instance['id']}/messages/assembly_result"
    result = {"votes_for": 31, "votes_against": 4}

    delivered = api.post(path, "wang", json={"payload": result})
    assert delivered.status_code == 200, delivered.json
    assert delivered.json["status"] == "running"
    assert [t["element_id"] for t in delivered.json["tasks"]] == ["announce_result"]
    assert delivered.json["variables"]["assembly_result"] == result
    received = [e for e in history(api, instance["id"]) if e["action"] == "message_received"]
    assert received[0]["data"] == {"name": "assembly_result", "payload": result}
    assert received[0]["actor"]["username"] == "wang"

    again = api.post(path, "wang", json={"payload": result})
    assert again.status_code == 409
    assert problem_of(again)["detail"] == "Nothing in this instance waits for message assembly_result."
    assert [e["action"] for e in history(api, instance["id"])].count("message_received") == 1


def test_a_message_payload_must_be_a_json_object_and_the_instance_keeps_waiting(api: ApiClient) -> None:
    deploy(api, "queries_message.bpmn")
    instance = start(api, "assembly_wait")
    path = f"/process-instances/{instance['id']}/messages/assembly_result"
    for payload in ([31, 4], "31:4", 31, None):
        response = api.post(path, "wang", json={"payload": payload})
        assert response.status_code == 422, (payload, response.json)
        assert [e["field"] for e in problem_of(response)["errors"]] == ["payload"]
    assert problem_of(api.post(path, "wang", json=[{"votes_for": 31}]))["status"] == 422
    other = api.post(f"/process-instances/{instance['id']}/messages/vote_postponed", "wang", json={})
    assert other.status_code == 409 and "vote_postponed" in problem_of(other)["detail"]
    assert problem_of(api.post(path, "chen", json={}))["status"] == 403  # the committee next door
    assert (
        problem_of(api.post(f"/process-instances/{NO_SUCH_ID}/messages/assembly_result", "wang", json={}))["status"]
        == 404
    )
    assert [e["action"] for e in history(api, instance["id"])] == ["instance_started"]
    delivered = api.post(path, "zhang", json={})  # the subdistrict above may send; no payload is an empty one
    assert delivered.status_code == 200 and delivered.json["tasks"][0]["element_id"] == "announce_result"


# --- timers ----------------------------------------------------------------------------------------


def test_an_admin_fires_the_publicity_timer_now_and_the_closing_step_appears(api: ApiClient) -> None:
    deploy(api, "timer_wait.bpmn")
    before = datetime.now(UTC)
    instance = start(api, "publicity_wait")
    jobs = f"/process-instances/{instance['id']}/jobs"
    listed = api.get(jobs, "wang")
    assert listed.status_code == 200
    [job] = listed.json["items"]
    assert (job["element_id"], job["kind"], job["attempts"], job["last_error"]) == (
        "publicity_period",
        "timer",
        0,
        None,
    )
    due = datetime.fromisoformat(job["due_at"])
    assert due.utcoffset() is not None  # ISO 8601 with its offset
    assert before + timedelta(days=7) <= due <= datetime.now(UTC) + timedelta(days=7)

    for official in ("wang", "zhang"):
        refused = api.post(f"{jobs}/{job['id']}/execute", official)
        assert refused.status_code == 403 and "Only an admin" in problem_of(refused)["detail"]
    unknown = api.post(f"{jobs}/{NO_SUCH_ID}/execute", "admin")
    assert unknown.status_code == 404 and "no waiting job" in problem_of(unknown)["detail"]
    assert problem_of(api.post(f"{jobs}/not-a-uuid/execute", "admin"))["status"] == 404

    fired = api.post(f"{jobs}/{job['id']}/execute", "admin")
    assert fired.status_code == 200, fired.json
    assert (fired.json["id"], fired.json["element_id"], fired.json["due_at"]) == (
        job["id"],
        "publicity_period",
        job["due_at"],
    )
    shown = api.get(f"/process-instances/{instance['id']}", "wang").json
    assert [t["element_id"] for t in shown["tasks"]] == ["close_publicity"]
    assert api.get(jobs, "wang").json["items"] == []
    [executed] = [e for e in history(api, instance["id"]) if e["action"] == "job_executed"]
    assert executed["actor"] == {"username": "admin", "role": "admin", "org_unit": "qiaoyi"}
    assert executed["element_id"] == "publicity_period" and executed["data"]["job_id"] == job["id"]
    assert problem_of(api.post(f"{jobs}/{job['id']}/execute", "admin"))["status"] == 404  # it has fired


# --- the path on the diagram -------------------------------------------------------------------------


def test_the_diagram_path_of_a_running_and_then_completed_petition(api: ApiClient) -> None:
    instance, _, review_id = to_review(api)
    path = f"/process-instances/{instance['id']}/path"
    running = api.get(path, "wang")
    assert running.status_code == 200
    assert running.json == {
        "completed": ["start", "register_issue", "compute_share", "classify_petition", "route_by_share"],
        "active": ["review_petition"],
        "flows": ["f1", "f2", "f3", "f4", "f_review"],
        "counts": {},
    }
    assert complete(api, review_id, "zhang", {"decision": "approve"}).status_code == 200
    assert api.get(path, "auditor").json == {
        "completed": [
            "start",
            "register_issue",
            "compute_share",
            "classify_petition",
            "route_by_share",
            "review_petition",
            "end_reviewed",
        ],
        "active": [],
        "flows": ["f1", "f2", "f3", "f4", "f_review", "f5"],
        "counts": {},
    }
    assert problem_of(api.get(path, "chen"))["status"] == 403
    assert problem_of(api.get(f"/process-instances/{NO_SUCH_ID}/path", "auditor"))["status"] == 404


def test_a_step_returned_once_counts_two_visits_on_the_diagram(api: ApiClient) -> None:
    instance, register_id, review_id = to_review(api)
    back = api.post(f"/tasks/{review_id}/return", "zhang", json={"reason": "户数有误", "to_element": "register_issue"})
    assert back.status_code == 200, back.json
    path = f"/process-instances/{instance['id']}/path"
    assert api.get(path, "auditor").json["counts"] == {"register_issue": 2}  # open again: its second visit
    assert complete(api, register_id, "wang", ISSUE).status_code == 200
    again = api.get(path, "auditor").json
    assert again["counts"] == {"register_issue": 2, "route_by_share": 2, "review_petition": 2}
    assert again["active"] == ["review_petition"]


# --- case exports ----------------------------------------------------------------------------------


def test_a_case_is_exported_as_json_or_csv_with_the_head_of_its_audit_chain(api: ApiClient) -> None:
    instance, _, review_id = to_review(api)
    complete(api, review_id, "zhang", {"decision": "approve", "opinion": "同意"})
    events = history(api, instance["id"])
    export = f"/process-instances/{instance['id']}/export"

    as_json = api.get(f"{export}?format=json", "auditor")
    assert as_json.status_code == 200 and as_json.mimetype == "application/json"
    assert as_json.headers["Content-Disposition"] == f'attachment; filename="case-{instance["id"]}.json"'
    case = json.loads(as_json.data)
    assert case["chain_head"] == events[-1]["hash"]
    assert [(e["seq"], e["hash"]) for e in case["events"]] == [(e["seq"], e["hash"]) for e in events]
    assert case["instance"]["status"] == "completed" and case["instance"]["variables"]["decision"] == "approve"
    assert {t["element_id"]: t["completed_by"] for t in case["tasks"]} == {
        "register_issue": "wang",
        "review_petition": "zhang",
    }
    assert api.get(export, "wang").json["chain_head"] == case["chain_head"]  # json is the default

    as_csv = api.get(f"{export}?format=csv", "zhang")
    assert as_csv.status_code == 200 and as_csv.mimetype == "text/csv"
    assert as_csv.headers["Content-Disposition"] == f'attachment; filename="case-{instance["id"]}.csv"'
    first_line, rest = as_csv.get_data(as_text=True).split("\n", 1)
    assert first_line.startswith("# ") and first_line.endswith(f"chain head {events[-1]['hash']}")
    sections = csv_sections(rest)
    assert [(int(r["seq"]), r["action"]) for r in sections["events"]] == [(e["seq"], e["action"]) for e in events]
    assert {t["element_id"]: t["completed_by"] for t in sections["tasks"]} == {
        "register_issue": "wang",
        "review_petition": "zhang",
    }

    xlsx = api.get(f"{export}?format=xlsx", "auditor")
    assert xlsx.status_code == 422 and [e["field"] for e in problem_of(xlsx)["errors"]] == ["format"]
    assert problem_of(api.get(export, "chen"))["status"] == 403


# --- a script that fails ---------------------------------------------------------------------------


def test_a_failed_vote_count_shows_where_its_script_broke_and_an_admin_retries_it_with_fixed_figures(
    api: ApiClient,
) -> None:
    deploy(api, "scripted.bpmn")
    started = start(api, "vote_count", variables={"present": 0, "yes": 0})
    assert started["status"] == "failed" and started["tasks"] == []
    shown = api.get(f"/process-instances/{started['id']}", "wang")
    assert shown.status_code == 200 and shown.json["status"] == "failed"
    error = shown.json["error"]
    assert (error["element_id"], error["line"]) == ("count_votes", 2)
    assert "division by zero" in error["message"]
    failed = api.get("/process-instances?status=failed", "wang").json["items"]
    assert [i["id"] for i in failed] == [started["id"]]

    retry = f"/process-instances/{started['id']}/retry"
    refused = api.post(retry, "wang", json={"variables": {"present": 10}})
    assert refused.status_code == 403 and "Only an admin may retry" in problem_of(refused)["detail"]
    assert problem_of(api.post(retry, "admin", json={"variables": [10, 7]}))["status"] == 422
    retried = api.post(retry, "admin", json={"variables": {"present": 10, "yes": 7}})
    assert retried.status_code == 200, retried.json
    assert (retried.json["status"], retried.json["error"]) == ("running", None)
    [confirm] = retried.json["tasks"]
    assert confirm["element_id"] == "confirm"
    assert complete(api, confirm["id"], "wang", {}).json["instance"]["status"] == "completed"
    variables = api.get(f"/process-instances/{started['id']}", "wang").json["variables"]
    assert (variables["ratio"], variables["passed"]) == (0.7, True)
    again = api.post(retry, "admin", json={})
    assert again.status_code == 409 and problem_of(again)["detail"]
    actions = [(e["action"], e["actor"]["username"]) for e in history(api, started["id"])]
    assert actions.index(("instance_failed", "engine")) < actions.index(("instance_retried", "admin"))


# --- finding instances -------------------------------------------------------------------------------


def test_instances_are_found_by_status_process_unit_and_business_key_and_paged_by_cursor(api: ApiClient) -> None:
    deploy(api, "queries_message.bpmn")
    first = start(api, business_key="YT-2026-001")
    second = start(api, business_key="YT-2026-002")
    other = start(api, "assembly_wait", business_key="HY-1")
    village = api.post(
        "/process-instances",
        "shen",
        json={"process_key": "petition_review", "org_unit": "xinye", "business_key": "XY-1"},
    ).json
    assert api.post(f"/process-instances/{first['id']}/cancel", "admin", json={"reason": "重复登记"}).status_code == 200

    def seen(query: str, user: str = "auditor") -> list[str]:
        response = api.get(f"/process-instances?{query}", user)
        assert response.status_code == 200, response.json
        return [i["id"] for i in response.json["items"]]

    pages, cursor = [], None
    while True:
        page = api.get("/process-instances?limit=3" + (f"&cursor={cursor}" if cursor else ""), "auditor").json
        pages.append([i["id"] for i in page["items"]])
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert pages == [[village["id"], other["id"], second["id"]], [first["id"]]]  # newest first

    assert seen("status=cancelled") == [first["id"]]
    assert seen("status=running&process_key=petition_review") == [village["id"], second["id"]]
    assert seen("process_key=assembly_wait") == [other["id"]]
    assert seen("org_unit=zh") == [village["id"]]  # the township and everything below it
    assert seen("q=YT-2026") == [second["id"], first["id"]]  # a business key prefix
    assert seen(f"q={other['id']}") == [other["id"]]
    assert village["id"] not in seen("limit=500", user="wang")  # outside his reach
    assert seen("org_unit=xinye", user="wang") == []

    for query, field in [("status=sleeping", "status"), ("limit=0", "limit"), ("limit=501", "limit")]:
        response = api.get(f"/process-instances?{query}", "auditor")
        assert response.status_code == 422 and [e["field"] for e in problem_of(response)["errors"]] == [field]
    forged = api.get("/process-instances?cursor=bm90LWEtY3Vyc29y", "auditor")
    assert forged.status_code == 422 and "cursor" in problem_of(forged)["detail"]
    tasks_cursor = api.get("/tasks?scope=all&limit=1", "admin").json["next_cursor"]
    assert problem_of(api.get(f"/process-instances?cursor={tasks_cursor}", "auditor"))["status"] == 422
    assert problem_of(api.get("/process-instances?org_unit=nowhere", "auditor"))["status"] == 404
