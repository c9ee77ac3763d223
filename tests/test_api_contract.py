"""Every endpoint of API.md through Flask's test client, with its error paths, on SQLite and PostgreSQL."""

from __future__ import annotations

import io
import json
import re

import pytest

from tests.conftest import DATA, PETITION_BUNDLE, ApiClient, problem_of

ISSUE = {"title": "加装电梯", "proposer_count": 30, "eligible_count": 100}


def start(api: ApiClient, user: str = "wang", **extra) -> dict:
    body = {"process_key": "petition_review", "org_unit": "qiaoyi", "business_key": "YT-1"} | extra
    response = api.post("/process-instances", user, json=body)
    assert response.status_code == 201, response.json
    return response.json


def to_review(api: ApiClient) -> tuple[dict, str]:
    instance = start(api)
    done = api.post(f"/tasks/{instance['tasks'][0]['id']}/complete", "wang", json={"data": ISSUE})
    assert done.status_code == 200, done.json
    return instance, done.json["next_tasks"][0]["id"]


def bundle(*names: str) -> dict:
    return {"files": [(io.BytesIO((DATA / "engine" / n).read_bytes()), n) for n in names]}


# --- deployments ---------------------------------------------------------------------------------


def test_a_designer_deploys_a_bundle_and_reads_its_definitions_and_xml(api: ApiClient) -> None:
    files = bundle(*PETITION_BUNDLE)
    response = api.post("/deployments", "designer", data=files, content_type="multipart/form-data")
    assert response.status_code == 201, response.json
    assert response.json["processes"] == [
        {"key": "petition_review", "version": 1, "name": "议题联名审查", "unchanged": True}
    ]
    listing = api.get("/process-definitions?key=petition_review&latest=true", "wang").json["items"]
    assert [(d["key"], d["version"]) for d in listing] == [("petition_review", 1)]
    xml = api.get("/process-definitions/petition_review/xml?version=1", "auditor")
    assert xml.status_code == 200 and xml.mimetype == "application/xml"
    assert "登记议题".encode() in xml.data
    assert problem_of(api.get("/process-definitions/nope/xml", "auditor"))["status"] == 404
    assert api.get("/process-definitions/petition_review/xml?version=0", "auditor").status_code == 422


def test_a_bad_bundle_is_answered_422_with_file_element_and_line(api: ApiClient) -> None:
    files = {"files": [(io.BytesIO(b"<bpmn:definitions"), "broken.bpmn")]}
    response = api.post("/deployments", "designer", data=files, content_type="multipart/form-data")
    body = problem_of(response)
    assert response.status_code == 422
    assert body["errors"][0]["file"] == "broken.bpmn" and body["errors"][0]["line"]
    files = {"files": [(io.BytesIO(b"<bpmn:definitions"), "broken.bpmn")]}
    report = api.post("/deployments/validate", "designer", data=files, content_type="multipart/form-data")
    assert report.status_code == 200 and report.json["ok"] is False and report.json["errors"]
    missing = api.post("/deployments", "designer", data={}, content_type="multipart/form-data")
    assert missing.status_code == 422


def test_officials_and_auditors_cannot_deploy(api: ApiClient) -> None:
    for user in ("wang", "auditor"):
        response = api.post("/deployments", user, data=bundle(*PETITION_BUNDLE), content_type="multipart/form-data")
        assert problem_of(response)["status"] == 403


# --- instances ------------------------------------------------------------------------------------


def test_an_official_starts_an_instance_and_reads_it_back(api: ApiClient) -> None:
    instance = start(api, variables={"note": "急"})
    assert instance["status"] == "running" and instance["version"] == 1
    assert instance["tasks"][0]["candidate"] == {"role": "residents_committee", "org_unit": "qiaoyi"}
    shown = api.get(f"/process-instances/{instance['id']}", "wang").json
    assert shown["variables"]["note"] == "急" and shown["started_by"] == "wang"
    history = api.get(f"/process-instances/{instance['id']}/history", "auditor").json["items"]
    assert [e["action"] for e in history] == ["instance_started", "task_created"]
    assert set(history[0]) >= {"instance_id", "seq", "at", "actor", "action", "element_id", "data", "hash", "prev_hash"}


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"process_key": "nope", "org_unit": "qiaoyi"}, 404),
        ({"process_key": "petition_review", "org_unit": "nowhere"}, 404),
        ({"process_key": "petition_review", "org_unit": "yunnan"}, 403),
        ({"process_key": "petition_review"}, 422),
        ({"process_key": "petition_review", "org_unit": "qiaoyi", "variables": [1, 2]}, 422),
        ({"process_key": "petition_review", "org_unit": "qiaoyi", "version": "one"}, 422),
    ],
)
def test_a_start_that_cannot_be_done_says_why(api: ApiClient, body: dict, status: int) -> None:
    assert problem_of(api.post("/process-instances", "wang", json=body))["status"] == status


def test_instances_of_other_committees_are_not_visible(api: ApiClient) -> None:
    instance = start(api)
    assert api.get(f"/process-instances/{instance['id']}", "chen").status_code == 403
    assert api.get(f"/process-instances/{instance['id']}", "zhang").status_code == 200  # the subdistrict above
    assert api.get("/process-instances/00000000-0000-0000-0000-000000000000", "wang").status_code == 404


def test_admins_suspend_resume_and_cancel_instances_and_officials_cannot(api: ApiClient) -> None:
    instance = start(api)
    path = f"/process-instances/{instance['id']}"
    assert api.post(f"{path}/suspend", "wang").status_code == 403
    assert api.post(f"{path}/suspend", "admin").json["status"] == "suspended"
    assert problem_of(api.post(f"{path}/suspend", "admin"))["status"] == 409
    assert api.post(f"{path}/resume", "admin").json["status"] == "running"
    assert api.post(f"{path}/cancel", "admin", json={}).status_code == 422  # a reason is required
    assert api.post(f"{path}/cancel", "admin", json={"reason": "重复"}).json["status"] == "cancelled"
    assert api.post(f"{path}/retry", "admin", json={}).status_code == 409


# --- tasks ----------------------------------------------------------------------------------------


def test_the_task_page_shows_the_form_and_why_it_is_mine(api: ApiClient) -> None:
    instance = start(api)
    task = api.get(f"/tasks/{instance['tasks'][0]['id']}", "wang").json
    assert task["form"]["key"] == "petition_register"
    assert task["form"]["schema"]["components"][0]["key"] == "title"
    assert task["why"].startswith("residents_committee of 桥一居委会")
    assert api.get("/tasks/no-such-task", "wang").status_code == 404


def test_a_form_with_errors_is_answered_per_field_and_nothing_changes(api: ApiClient) -> None:
    instance = start(api)
    task_id = instance["tasks"][0]["id"]
    response = api.post(f"/tasks/{task_id}/complete", "wang", json={"data": {"proposer_count": "many"}})
    body = problem_of(response)
    assert response.status_code == 422
    fields = {e["field"] for e in body["errors"]}
    assert {"title", "proposer_count", "eligible_count"} <= fields
    assert api.get(f"/tasks/{task_id}", "wang").json["status"] == "open"
    assert api.post(f"/tasks/{task_id}/complete", "wang", json={"data": "text"}).status_code == 422
    assert api.post(f"/tasks/{task_id}/complete", "wang", json={"data": {}, "x": 1}).status_code == 422


def test_claim_complete_and_conflicts_are_reported_as_sentences(api: ApiClient) -> None:
    instance, review_id = to_review(api)
    assert api.post(f"/tasks/{review_id}/claim", "liu").json["assignee"] == "liu"
    taken = api.post(f"/tasks/{review_id}/claim", "zhang")
    assert taken.status_code == 409 and "liu" in problem_of(taken)["detail"]
    released_by_other = api.post(f"/tasks/{review_id}/unclaim", "zhang")  # another candidate may not release it
    assert released_by_other.status_code == 409
    assert problem_of(released_by_other)["detail"] == "The task “街道审查” is claimed by liu, not by zhang."
    assert api.get(f"/tasks/{review_id}", "zhang").json["assignee"] == "liu"
    assert api.post(f"/tasks/{review_id}/unclaim", "liu").json["assignee"] is None
    assert api.post(f"/tasks/{review_id}/claim", "wu").status_code == 403  # another subdistrict
    done = api.post(f"/tasks/{review_id}/complete", "zhang", json={"data": {"decision": "approve"}})
    assert done.status_code == 200
    assert done.json["instance"] == {"id": instance["id"], "status": "completed", "error": None}
    again = api.post(f"/tasks/{review_id}/complete", "liu", json={"data": {"decision": "approve"}})
    assert again.status_code == 409 and "already completed by zhang" in problem_of(again)["detail"]


def test_the_inbox_lists_my_tasks_and_my_groups_tasks(api: ApiClient) -> None:
    _instance, review_id = to_review(api)
    candidate = api.get("/tasks?scope=candidate", "zhang").json
    assert [t["id"] for t in candidate["items"]] == [review_id] and candidate["next_cursor"] is None
    assert api.get("/tasks?scope=mine", "zhang").json["items"] == []
    api.post(f"/tasks/{review_id}/claim", "zhang")
    assert [t["id"] for t in api.get("/tasks?scope=mine", "zhang").json["items"]] == [review_id]
    assert api.get("/tasks?scope=everything", "zhang").status_code == 422
    assert api.get("/tasks?limit=501", "zhang").status_code == 422
    assert api.get("/tasks/counts", "zhang").json["mine"] == 1


def test_comments_are_kept_with_the_task_and_shown_in_history(api: ApiClient) -> None:
    instance, review_id = to_review(api)
    added = api.post(f"/tasks/{review_id}/comments", "zhang", json={"text": "材料齐全，同意"})
    assert added.status_code == 201 and added.json["author"]["username"] == "zhang"
    assert [c["text"] for c in api.get(f"/tasks/{review_id}/comments", "zhang").json["items"]] == ["材料齐全，同意"]
    assert api.post(f"/tasks/{review_id}/comments", "zhang", json={"text": ""}).status_code == 422
    assert api.post(f"/tasks/{review_id}/comments", "auditor", json={"text": "x"}).status_code == 403
    actions = [e["action"] for e in api.get(f"/process-instances/{instance['id']}/history", "wang").json["items"]]
    assert "task_commented" in actions


def test_transfer_delegate_return_and_urge_over_the_api(api: ApiClient) -> None:
    instance, review_id = to_review(api)
    api.post(f"/tasks/{review_id}/claim", "zhang")
    moved = api.post(f"/tasks/{review_id}/transfer", "zhang", json={"to": "liu", "comment": "请刘洋办理"})
    assert moved.status_code == 200 and moved.json["assignee"] == "liu"
    assert api.post(f"/tasks/{review_id}/transfer", "liu", json={"to": "wu"}).status_code in (403, 422)
    urged = api.post(f"/tasks/{review_id}/urge", "wang", json={"comment": "请尽快"})
    assert urged.status_code == 200 and urged.json["urged_count"] == 1
    returned = api.post(f"/tasks/{review_id}/return", "liu", json={"reason": "联名材料不全"})
    assert returned.status_code == 200, returned.json
    [again] = returned.json["next_tasks"]
    assert again["element_id"] == "register_issue" and again["assignee"] == "wang"
    assert api.post(f"/tasks/{again['id']}/return", "wang", json={"reason": "x"}).status_code == 422


# --- audit, org, health ------------------------------------------------------------------------


def test_auditors_verify_the_chain_and_officials_cannot(api: ApiClient) -> None:
    instance = start(api)
    verified = api.get(f"/audit/verify?instance_id={instance['id']}", "auditor").json
    assert verified["ok"] is True and verified["broken"] == []
    assert api.get("/audit/verify", "auditor").json["ok"] is True
    assert api.get("/audit/verify", "wang").status_code == 403
    events = api.get(f"/audit/events?instance_id={instance['id']}", "auditor").json
    assert [e["action"] for e in events["items"]] == ["instance_started", "task_created"]
    assert api.get("/audit/events?from=yesterday", "auditor").status_code == 422


def test_everyone_reads_the_org_tree_and_only_admins_add_to_it(api: ApiClient) -> None:
    units = api.get("/org-units", "wang").json["items"]
    qiaoyi = {"code": "qiaoyi", "name": "桥一居委会", "level": "committee", "parent": "wlq", "kind": "residents"}
    assert qiaoyi | {"status": "active", "successor": None} in units
    new_unit = {"code": "xinqiao", "name": "新桥居委会", "level": "committee", "parent": "wlq", "kind": "residents"}
    assert api.post("/org-units", "wang", json=new_unit).status_code == 403
    assert api.post("/org-units", "admin", json=new_unit).status_code == 201
    assert api.post("/org-units", "admin", json=new_unit).status_code == 422  # exists
    user = {
        "username": "xu",
        "password": "long-enough-1",
        "roles": [{"role": "residents_committee", "org_unit": "xinqiao"}],
    }
    assert api.post("/users", "wang", json=user).status_code == 403
    assert api.post("/users", "admin", json=user).status_code == 201
    assert (
        api.post(
            "/users", "admin", json=user | {"username": "xu2", "roles": [{"role": "king", "org_unit": "sh"}]}
        ).status_code
        == 422
    )


def test_health_and_metrics_answer_without_signing_in(api: ApiClient) -> None:
    assert api.get("/healthz").json["status"] == "ok"
    start(api)
    metrics = api.get("/metrics")
    assert metrics.status_code == 200
    text = metrics.data.decode()
    assert "govflow_http_requests_total" in text
    assert 'govflow_instances{status="running"} 1.0' in text


def test_load_balancers_find_the_health_check_and_metrics_at_the_root_too(api: ApiClient, db_url: str) -> None:
    root = api.http.get("/healthz")
    assert root.status_code == 200 and root.mimetype == "application/json"
    database = "postgresql" if db_url.startswith("postgresql") else "sqlite"
    assert root.json == api.get("/healthz").json == {"status": "ok", "database": database}
    start(api)
    metrics = api.http.get("/metrics")
    assert metrics.status_code == 200 and metrics.mimetype == "text/plain"
    assert 'govflow_instances{status="running"} 1.0' in metrics.get_data(as_text=True)
    assert 'endpoint="/healthz"' in api.http.get("/api/v1/metrics").get_data(as_text=True)


def metric(api: ApiClient, name: str, labels: str = "", path: str = "/metrics") -> float:
    """One sample of the Prometheus text, e.g. metric(api, "govflow_instances", 'status="running"'); a labelled
    series not exported yet counts 0."""
    sample = re.escape(name + (f"{{{labels}}}" if labels else ""))
    values = re.findall(rf"^{sample} (\S+)$", api.http.get(path).get_data(as_text=True), re.M)
    assert len(values) <= 1 and (values or labels), (name, labels)
    return float(values[0]) if values else 0.0


def completed_so_far(api: ApiClient, path: str = "/metrics") -> float:
    return metric(api, "govflow_tasks_completed_total", path=path)


def test_the_metrics_time_every_request_and_count_instances_by_status(api: ApiClient) -> None:
    latency = "govflow_http_request_duration_seconds"
    inbox = 'endpoint="/api/v1/tasks"'
    seen_before = metric(api, f"{latency}_count", inbox)
    for _ in range(3):
        assert api.get("/tasks", "wang").status_code == 200
    assert metric(api, f"{latency}_count", inbox) == seen_before + 3
    assert metric(api, f"{latency}_bucket", inbox + ',le="+Inf"') == seen_before + 3
    assert metric(api, f"{latency}_sum", inbox) > 0
    assert metric(api, "govflow_http_requests_total", 'endpoint="/api/v1/tasks",method="GET",status="200"') >= 3

    instance, review_id = to_review(api)
    cancelled = start(api, business_key="YT-2")
    assert api.post(f"/process-instances/{cancelled['id']}/cancel", "admin", json={"reason": "重复"}).status_code == 200
    start(api, business_key="YT-3")
    counts = {s: metric(api, "govflow_instances", f'status="{s}"') for s in ("running", "completed", "cancelled")}
    assert counts == {"running": 2, "completed": 0, "cancelled": 1}
    assert api.post(f"/tasks/{review_id}/complete", "zhang", json={"data": {"decision": "approve"}}).status_code == 200
    assert metric(api, "govflow_instances", 'status="completed"') == 1
    assert metric(api, "govflow_instances", 'status="failed"') == 0
    assert api.get(f"/process-instances/{instance['id']}", "wang").json["status"] == "completed"


def test_each_task_completed_over_the_api_counts_once_in_the_metrics(api: ApiClient) -> None:
    before = completed_so_far(api)
    _instance, review_id = to_review(api)  # wang completes the registration
    assert completed_so_far(api) == before + 1
    assert api.post(f"/tasks/{review_id}/complete", "zhang", json={"data": {}}).status_code == 422
    assert api.post(f"/tasks/{review_id}/delegate", "zhang", json={"to": "liu"}).status_code == 200
    draft = api.post(f"/tasks/{review_id}/complete", "liu", json={"data": {"decision": "approve"}})
    assert draft.status_code == 200 and draft.json["next_tasks"][0]["id"] == review_id  # back with zhang, still open
    assert completed_so_far(api) == before + 1
    assert api.post(f"/tasks/{review_id}/complete", "zhang", json={"data": {}}).status_code == 200
    assert completed_so_far(api, "/api/v1/metrics") == before + 2


def test_bad_requests_get_4xx_sentences_never_500(api: ApiClient) -> None:
    token = {"Authorization": f"Bearer {api.token('wang')}"}
    malformed = api.http.post(
        "/api/v1/process-instances", data="{not json", content_type="application/json", headers=token
    )
    assert problem_of(malformed)["status"] == 400
    huge = api.http.post(
        "/api/v1/process-instances", data="x" * (2 * 1024 * 1024), content_type="application/json", headers=token
    )
    assert problem_of(huge)["status"] == 413
    assert problem_of(api.call("DELETE", "/tasks", "wang"))["status"] == 405
    assert problem_of(api.get("/no/such/thing", "wang"))["status"] == 404


def test_a_json_body_sent_in_chunks_is_held_to_the_same_limit_on_the_bytes_read(api: ApiClient) -> None:
    def post_chunked(body: dict):  # noqa: ANN202
        # A server that reads chunked bodies (gunicorn) says so with wsgi.input_terminated; no Content-Length.
        return api.http.post(
            "/api/v1/process-instances",
            input_stream=io.BytesIO(json.dumps(body).encode()),
            content_type="application/json",
            headers={"Authorization": f"Bearer {api.token('wang')}", "Transfer-Encoding": "chunked"},
            environ_overrides={"wsgi.input_terminated": True},
        )

    body = {"process_key": "petition_review", "org_unit": "qiaoyi", "variables": {"note": "长" * (2 * 1024 * 1024)}}
    assert problem_of(post_chunked(body))["status"] == 413
    assert api.get("/process-instances", "wang").json["items"] == []
    body["variables"]["note"] = "长" * 1000
    fits = post_chunked(body)
    assert fits.status_code == 201, fits.json


def test_a_body_sent_as_a_form_instead_of_json_is_refused_and_changes_nothing(api: ApiClient) -> None:
    instance, review_id = to_review(api)
    withdraw = f"/tasks/{instance['tasks'][0]['id']}/withdraw"
    as_form = api.post(withdraw, "wang", data={"reason": "登记有误"})
    assert problem_of(as_form)["status"] == 415 and "must be JSON" in problem_of(as_form)["detail"]
    as_text = api.post(withdraw, "wang", data='{"reason": "登记有误"}', content_type="text/plain")
    assert problem_of(as_text)["status"] == 415
    start_as_form = api.post(
        "/process-instances", "wang", data={"process_key": "petition_review", "org_unit": "qiaoyi"}
    )
    assert problem_of(start_as_form)["status"] == 415
    assert api.get(f"/tasks/{review_id}", "zhang").json["status"] == "open"
    assert api.post(withdraw, "wang").status_code == 200  # no body at all: nothing to misread


@pytest.mark.parametrize(
    ("path", "misspelt"),
    [
        ("/process-instances?stauts=failed", "stauts"),
        ("/tasks?scope=all&proces_key=petition_review", "proces_key"),
        ("/audit/events?user=wang", "user"),
        ("/process-definitions?lastest=true", "lastest"),
        ("/audit/verify?instance=x", "instance"),
    ],
)
def test_a_misspelt_query_argument_is_refused_rather_than_ignored(api: ApiClient, path: str, misspelt: str) -> None:
    start(api)
    response = api.get(path, "admin")
    assert response.status_code == 422
    assert problem_of(response)["errors"] == [{"field": misspelt, "message": "Unknown field."}]
