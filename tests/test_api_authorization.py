"""Role x endpoint: who may call what. Each row names the callers allowed; every other caller is refused.

Callers: anonymous; wang, the residents' committee official of 桥一 (the instance's own unit); chen, the
official of the committee next door; zhang, an official of the subdistrict above; designer, auditor and
admin at the city. "Allowed" means a 2xx answer; refused means 401 (anonymous) or 403, or 404 where
the thing is simply not theirs to see.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass

import pytest

from tests.conftest import DATA, PETITION_BUNDLE, ApiClient

CALLERS = ["anonymous", "wang", "chen", "zhang", "designer", "auditor", "admin"]
OFFICIALS_OF_QIAOYI = {"wang", "zhang", "admin"}
READERS_OF_QIAOYI = {"wang", "zhang", "designer", "auditor", "admin"}
SIGNED_IN = set(CALLERS) - {"anonymous"}
ISSUE = {"title": "t", "proposer_count": 30, "eligible_count": 100}


@dataclass
class Case:
    method: str
    path: str  # may hold {instance} and {task}
    allowed: set[str]
    body: Callable[[], dict] | None = None
    multipart: bool = False
    needs: str = "instance"  # instance: a fresh running instance; review: at the subdistrict review


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
    Case("GET", "/process-instances/{instance}/history", READERS_OF_QIAOYI),
    Case("GET", "/process-instances/{instance}/jobs", READERS_OF_QIAOYI),
    Case("GET", "/process-instances/{instance}/path", READERS_OF_QIAOYI),
    Case("GET", "/process-instances/{instance}/export", READERS_OF_QIAOYI),
    Case("GET", "/tasks", SIGNED_IN),
    Case("GET", "/tasks/{task}", READERS_OF_QIAOYI),
    Case("POST", "/tasks/{task}/claim", {"wang"}),
    Case("POST", "/tasks/{task}/complete", {"wang"}, lambda: {"data": ISSUE}),
    Case("GET", "/tasks/{task}/comments", READERS_OF_QIAOYI),
    Case("POST", "/tasks/{task}/comments", {"wang", "zhang", "admin"}, lambda: {"text": "意见"}),
    Case("POST", "/tasks/{task}/urge", {"zhang", "admin"}, lambda: {"comment": "请尽快"}, needs="instance_by_admin"),
    Case("POST", "/tasks/{task}/transfer", {"zhang", "admin"}, lambda: {"to": "liu"}, needs="review"),
    Case("POST", "/tasks/{task}/return", {"zhang"}, lambda: {"reason": "材料不全"}, needs="review"),
    Case("GET", "/audit/events", SIGNED_IN),
    Case("GET", "/audit/verify", {"auditor", "admin"}),
]


def prepare(api: ApiClient, needs: str) -> dict[str, str]:
    starter = "admin" if needs == "instance_by_admin" else "wang"
    instance = api.post("/process-instances", starter, json={"process_key": "petition_review", "org_unit": "qiaoyi"})
    assert instance.status_code == 201, instance.json
    ids = {"instance": instance.json["id"], "task": instance.json["tasks"][0]["id"]}
    if needs == "review":
        done = api.post(f"/tasks/{ids['task']}/complete", "wang", json={"data": ISSUE})
        ids["task"] = done.json["next_tasks"][0]["id"]
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
