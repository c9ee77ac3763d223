"""Role x endpoint: who may call what. Each row names the callers allowed; every other caller is refused.

Callers: anonymous; wang, the residents' committee official of 桥一 (the instance's own unit); chen, the
official of the committee next door; zhang, an official of the subdistrict above; designer, auditor and
admin at the city. "Allowed" means a 2xx answer; refused means 401 (anonymous) or 403, or 404 where
the thing is simply not theirs to see. Each caller gets a fresh instance in the state the row needs
(`prepare`), so no caller's answer depends on what the caller before did.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass

import pytest

from api import auth
from engine import Engine
from tests.conftest import DATA, PASSWORD, PETITION_BUNDLE, ApiClient, read_bundle

CALLERS = ["anonymous", "wang", "chen", "zhang", "designer", "auditor", "admin"]
OFFICIALS_OF_QIAOYI = {"wang", "zhang", "admin"}
READERS_OF_QIAOYI = {"wang", "zhang", "designer", "auditor", "admin"}
SIGNED_IN = set(CALLERS) - {"anonymous"}
ISSUE = {"title": "t", "proposer_count": 30, "eligible_count": 100}


@dataclass
class Case:
    method: str
    path: str  # may hold {instance}, {task} and {job}
    allowed: set[str]
    body: Callable[[], dict] | None = None
    multipart: bool = False
    needs: str = "instance"  # what `prepare` makes for each caller (see NEEDS)


# What `prepare` makes for a row, afresh for every caller. All instances belong to 桥一居委会.
NEEDS = {
    "nothing": "no instance at all",
    "instance": "a petition wang started, waiting at 登记议题 (the task)",
    "instance_by_admin": "the same, started by the admin",
    "claimed": "a petition whose 登记议题 wang has claimed",
    "registered": "a petition wang registered: the task is his completed 登记议题, 街道审查 untouched",
    "review": "a petition at 街道审查 (the task), unclaimed",
    "suspended": "a petition the admin suspended",
    "awaiting_message": "an assembly_wait instance waiting for message assembly_result",
    "timer": "a publicity_wait instance waiting on its 7-day timer (the job)",
    "failed": "a vote_count instance failed on a division by zero in its script",
    "draft": "the designer's draft of petition_review (opened from version 1)",
}
STUDIO = {"designer", "admin"}


def _bundle() -> dict:
    return {"files": [(io.BytesIO((DATA / "engine" / n).read_bytes()), n) for n in PETITION_BUNDLE]}


CASES = [
    Case("GET", "/healthz", set(CALLERS)),
    Case("GET", "/me", SIGNED_IN),
    Case("GET", "/org-units", SIGNED_IN),
    Case(
        "POST",
        "/org-units",
        {"admin"},
        lambda: {"code": "newunit", "name": "新单位", "level": "committee", "parent": "wlq"},
    ),
    Case(
        "POST",
        "/users",
        {"admin"},
        lambda: {"username": "newbie", "password": "long-enough-1", "roles": [{"role": "auditor", "org_unit": "sh"}]},
    ),
    Case("POST", "/deployments", {"designer", "admin"}, _bundle, multipart=True),
    Case("POST", "/deployments/validate", {"designer", "admin"}, _bundle, multipart=True),
    Case("GET", "/process-definitions", SIGNED_IN),
    Case("GET", "/process-definitions/petition_review/xml", SIGNED_IN),
    Case(
        "POST",
        "/process-instances",
        OFFICIALS_OF_QIAOYI,
        lambda: {"process_key": "petition_review", "org_unit": "qiaoyi"},
    ),
    Case("GET", "/process-instances", SIGNED_IN),
    Case("GET", "/process-instances/{instance}", READERS_OF_QIAOYI),
    Case("POST", "/process-instances/{instance}/cancel", {"admin"}, lambda: {"reason": "测试"}),
    Case("POST", "/process-instances/{instance}/suspend", {"admin"}),
    Case("POST", "/process-instances/{instance}/resume", {"admin"}, needs="suspended"),
    # A failed instance, so the admin's retry is a real 200 (a running one would answer the admin 409).
    Case(
        "POST",
        "/process-instances/{instance}/retry",
        {"admin"},
        lambda: {"variables": {"present": 10, "yes": 7}},
        needs="failed",
    ),
    # The instance's own officials, officials above it and admins may send; designers and auditors may not.
    Case(
        "POST",
        "/process-instances/{instance}/messages/assembly_result",
        OFFICIALS_OF_QIAOYI,
        lambda: {"payload": {"votes_for": 31}},
        needs="awaiting_message",
    ),
    Case("GET", "/process-instances/{instance}/history", READERS_OF_QIAOYI),
    Case("GET", "/process-instances/{instance}/jobs", READERS_OF_QIAOYI, needs="timer"),
    Case("POST", "/process-instances/{instance}/jobs/{job}/execute", {"admin"}, needs="timer"),
    Case("GET", "/process-instances/{instance}/path", READERS_OF_QIAOYI),
    Case("GET", "/process-instances/{instance}/export", READERS_OF_QIAOYI),
    Case("GET", "/tasks", SIGNED_IN),
    Case("GET", "/tasks/counts", SIGNED_IN, needs="nothing"),
    Case("GET", "/tasks/{task}", READERS_OF_QIAOYI),
    Case("POST", "/tasks/{task}/claim", {"wang"}),
    Case("POST", "/tasks/{task}/unclaim", {"wang"}, needs="claimed"),
    Case("POST", "/tasks/{task}/complete", {"wang"}, lambda: {"data": ISSUE}),
    Case("GET", "/tasks/{task}/comments", READERS_OF_QIAOYI),
    Case("POST", "/tasks/{task}/comments", {"wang", "zhang", "admin"}, lambda: {"text": "意见"}),
    Case("POST", "/tasks/{task}/urge", {"zhang", "admin"}, lambda: {"comment": "请尽快"}, needs="instance_by_admin"),
    Case("POST", "/tasks/{task}/transfer", {"zhang", "admin"}, lambda: {"to": "liu"}, needs="review"),
    Case("POST", "/tasks/{task}/return", {"zhang"}, lambda: {"reason": "材料不全"}, needs="review"),
    # 委派 to liu, zhang's colleague at the subdistrict; admins overrule claims but do not delegate.
    Case("POST", "/tasks/{task}/delegate", {"zhang"}, lambda: {"to": "liu"}, needs="review"),
    # 撤回: only the official who completed the step.
    Case("POST", "/tasks/{task}/withdraw", {"wang"}, lambda: {"reason": "登记有误"}, needs="registered"),
    # The designer studio: designers and admins only; a draft is its designer's (and the admins').
    Case("GET", "/process-library", STUDIO, needs="nothing"),
    Case("GET", "/process-definitions/petition_review/diff?from=1&to=1", STUDIO, needs="nothing"),
    Case("GET", "/process-definitions/petition_review/files?format=bpmn", STUDIO, needs="nothing"),
    Case("POST", "/process-definitions/petition_review/migrations", STUDIO, lambda: {"dry_run": True}),
    Case("GET", "/drafts", STUDIO, needs="nothing"),
    Case("POST", "/drafts", STUDIO, lambda: {"process_key": "petition_review"}, needs="nothing"),
    Case("GET", "/drafts/{draft}", STUDIO, needs="draft"),
    Case("PATCH", "/drafts/{draft}", STUDIO, lambda: {"title": "改名"}, needs="draft"),
    Case("DELETE", "/drafts/{draft}", STUDIO, needs="draft"),
    Case("GET", "/drafts/{draft}/files/petition_review.bpmn", STUDIO, needs="draft"),
    Case("POST", "/drafts/{draft}/validate", STUDIO, needs="draft"),
    Case("POST", "/drafts/{draft}/deploy", STUDIO, needs="draft"),
    Case(
        "POST",
        "/drafts/import",
        STUDIO,
        lambda: {"file": (io.BytesIO(read_bundle("petition_review.bpmn")["petition_review.bpmn"]), "p.bpmn")},
        multipart=True,
        needs="nothing",
    ),
    Case("POST", "/studio/timer-check", STUDIO, lambda: {"kind": "timeDuration", "text": "P7D"}, needs="nothing"),
    Case("GET", "/studio/choices", STUDIO, needs="nothing"),
    Case("GET", "/audit/events", SIGNED_IN),
    Case("GET", "/audit/verify", {"auditor", "admin"}),
    # Signing out: a bearer token needs one to revoke; a browser session may always be ended (without a
    # session cookie there is nothing to end, and the answer is the same 204). Signing in is for anyone.
    Case("DELETE", "/auth/token", SIGNED_IN, needs="nothing"),
    Case("POST", "/auth/session", set(CALLERS), lambda: {"username": "wang", "password": PASSWORD}, needs="nothing"),
    Case("DELETE", "/auth/session", set(CALLERS), needs="nothing"),
]

STARTS = {  # needs -> (process, started by, variables)
    "instance_by_admin": ("petition_review", "admin", {}),
    "awaiting_message": ("assembly_wait", "wang", {}),
    "timer": ("publicity_wait", "wang", {}),
    "failed": ("vote_count", "wang", {"present": 0, "yes": 0}),
}


@pytest.fixture(autouse=True)
def more_processes(petition: Engine) -> None:
    """Besides the petition: a message catch, a timer and a vote count whose script can fail."""
    bundle = read_bundle("queries_message.bpmn", "timer_wait.bpmn", "scripted.bpmn")
    petition.deploy(bundle, by=petition.principal("designer"))


def prepare(api: ApiClient, needs: str) -> dict[str, str]:
    """Make what NEEDS[needs] says; answer the ids the row's path names."""
    assert needs in NEEDS, needs
    if needs == "nothing":
        return {}
    if needs == "draft":
        draft = api.post("/drafts", "designer", json={"process_key": "petition_review"})
        assert draft.status_code == 201, draft.json
        return {"draft": draft.json["id"]}
    process, starter, variables = STARTS.get(needs, ("petition_review", "wang", {}))
    body = {"process_key": process, "org_unit": "qiaoyi", "variables": variables}
    instance = api.post("/process-instances", starter, json=body)
    assert instance.status_code == 201, instance.json
    ids = {"instance": instance.json["id"]}
    if instance.json["tasks"]:
        ids["task"] = instance.json["tasks"][0]["id"]
    if needs == "claimed":
        assert api.post(f"/tasks/{ids['task']}/claim", "wang").status_code == 200
    elif needs in ("registered", "review"):
        done = api.post(f"/tasks/{ids['task']}/complete", "wang", json={"data": ISSUE})
        assert done.status_code == 200, done.json
        if needs == "review":
            ids["task"] = done.json["next_tasks"][0]["id"]
    elif needs == "suspended":
        assert api.post(f"/process-instances/{ids['instance']}/suspend", "admin").status_code == 200
    elif needs == "timer":
        [job] = api.get(f"/process-instances/{ids['instance']}/jobs", "wang").json["items"]
        ids["job"] = job["id"]
    elif needs == "failed":
        assert instance.json["status"] == "failed", instance.json
    return ids


@pytest.mark.parametrize("case", CASES, ids=[f"{c.method} {c.path}" for c in CASES])
def test_only_the_right_roles_may_call_each_endpoint(api: ApiClient, case: Case) -> None:
    for caller in CALLERS:
        ids = prepare(api, case.needs)
        path = case.path.format(**ids)
        kwargs: dict = {}
        if case.body is not None:
            if case.multipart:
                kwargs = {"data": case.body(), "content_type": "multipart/form-data"}
            else:
                kwargs = {"json": case.body()}
        response = api.call(case.method, path, None if caller == "anonymous" else caller, **kwargs)
        if caller in case.allowed:
            assert 200 <= response.status_code < 300, (caller, response.status_code, response.json)
        elif caller == "anonymous":
            assert response.status_code == 401, (caller, response.status_code)
        else:
            assert response.status_code in (403, 404), (caller, response.status_code, response.json)
            assert "Traceback" not in response.get_data(as_text=True)
        if case.path in ("/org-units", "/users") and response.status_code == 201:
            break  # the second creation of the same unit or user would be a conflict, not a refusal
        if case.path == "/auth/token":
            api.tokens.pop(caller, None)  # signed out: the next request as this caller signs in again
        api.http.delete_cookie(auth.SESSION_COOKIE)  # a session signed in above is no later caller's
