"""Role x endpoint: who may call what. Each row names the callers allowed; every other caller is refused.

Callers: anonymous; wang, the residents' committee official of 桥一 (the instance's own unit); chen, the
official of the committee next door; zhang, an official of the subdistrict above; designer, auditor and
admin at the city. "Allowed" means a 2xx answer; refused means 401 (anonymous) or 403, or 404 where
the thing is simply not theirs to see. Each caller gets a fresh instance in the state the row needs
(`prepare`), so no caller's answer depends on what the caller before did.

Every operation of /api/v1/openapi.json has a row: a new endpoint fails
test_every_operation_of_the_api_is_in_the_matrix until it joins the matrix.
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable
from dataclasses import dataclass

import pytest

from api import auth
from engine import Engine, Principal
from tests.conftest import DATA, PASSWORD, PETITION_BUNDLE, ApiClient, read_bundle

CALLERS = ["anonymous", "wang", "chen", "zhang", "designer", "auditor", "admin"]
OFFICIALS_OF_QIAOYI = {"wang", "zhang", "admin"}
READERS_OF_QIAOYI = {"wang", "zhang", "designer", "auditor", "admin"}
SIGNED_IN = set(CALLERS) - {"anonymous"}
ISSUE = {"title": "t", "proposer_count": 30, "eligible_count": 100}


@dataclass
class Case:
    method: str
    path: str  # its {placeholders} are filled from `prepare`'s ids and FIXED; so are those in the body
    allowed: set[str]
    body: Callable[[], dict] | None = None
    multipart: bool = False
    needs: str = "instance"  # what `prepare` makes for each caller (see NEEDS)


# Things every test database has: the org fixture's units and users, the seeded rules, calendar and catalogue.
FIXED = {
    "key": "petition_review",
    "year": "2031",
    "rule": "deliberation.coordination_max_rounds",  # an [A] default: city admins may change it
    "item": "elderly_care_subsidy",
    "unit": "qiaoyi",
    "username": "liu",  # an official of 五里桥街道
    "role": "subdistrict_office",
    "org_unit": "njdl",
    "message": "assembly_result",
    "file": "petition_review.bpmn",  # a file of the designer's draft
}


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
    "saved_search": "a saved search of the caller's own (the admin's, for callers who may not save one)",
    "verification": "a verification the caller asked for (the admin's, for callers who may not ask for one)",
    "legal_person": "the committee legal-person registry filled: 桥一居委会 has its code (the uscc)",
    "second_role": "liu holds subdistrict_office at 南京东路街道 too, beside 五里桥街道",
}
STUDIO = {"designer", "admin"}


def _bundle() -> dict:
    return {"files": [(io.BytesIO((DATA / "engine" / n).read_bytes()), n) for n in PETITION_BUNDLE]}


CASES = [
    Case("GET", "/healthz", set(CALLERS)),
    Case("GET", "/metrics", set(CALLERS), needs="nothing"),
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
    Case("GET", "/process-definitions/{key}/xml", SIGNED_IN),
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
        "/process-instances/{instance}/messages/{message}",
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
    Case("GET", "/process-definitions/{key}/diff?from=1&to=1", STUDIO, needs="nothing"),
    Case("GET", "/process-definitions/{key}/files?format=bpmn", STUDIO, needs="nothing"),
    Case("POST", "/process-definitions/{key}/migrations", STUDIO, lambda: {"dry_run": True}),
    Case("GET", "/drafts", STUDIO, needs="nothing"),
    Case("POST", "/drafts", STUDIO, lambda: {"process_key": "petition_review"}, needs="nothing"),
    Case("GET", "/drafts/{draft}", STUDIO, needs="draft"),
    Case("PATCH", "/drafts/{draft}", STUDIO, lambda: {"title": "改名"}, needs="draft"),
    Case("DELETE", "/drafts/{draft}", STUDIO, needs="draft"),
    Case("GET", "/drafts/{draft}/files/{file}", STUDIO, needs="draft"),
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
    Case("POST", "/audit/verifications", {"auditor", "admin"}, lambda: {}, needs="nothing"),
    Case("GET", "/audit/verifications", {"auditor", "admin"}, needs="nothing"),
    Case("GET", "/audit/verifications/{verification}", {"auditor", "admin"}, needs="verification"),
    # Signing out: a bearer token needs one to revoke; a browser session may always be ended (without a
    # session cookie there is nothing to end, and the answer is the same 204). Signing in is for anyone.
    Case("DELETE", "/auth/token", SIGNED_IN, needs="nothing"),
    Case("POST", "/auth/session", set(CALLERS), lambda: {"username": "wang", "password": PASSWORD}, needs="nothing"),
    Case("DELETE", "/auth/session", set(CALLERS), needs="nothing"),
    Case("POST", "/auth/token", set(CALLERS), lambda: {"username": "wang", "password": PASSWORD}, needs="nothing"),
    # --- admins manage people within their reach ---
    Case("GET", "/users", {"admin"}, needs="nothing"),
    Case("GET", "/users/{username}", {"admin"}, needs="nothing"),
    Case("PATCH", "/users/{username}", {"admin"}, lambda: {"display_name": "刘"}, needs="nothing"),
    Case("POST", "/users/{username}/disable", {"admin"}, needs="nothing"),
    Case("POST", "/users/{username}/enable", {"admin"}, needs="nothing"),
    Case("POST", "/users/{username}/password", {"admin"}, lambda: {"password": "a-new-pass-2"}, needs="nothing"),
    Case(
        "POST",
        "/users/{username}/roles",
        {"admin"},
        lambda: {"role": "{role}", "org_unit": "{org_unit}"},
        needs="nothing",
    ),
    Case("DELETE", "/users/{username}/roles/{role}/{org_unit}", {"admin"}, needs="second_role"),
    Case("PATCH", "/org-units/{unit}", {"admin"}, lambda: {"name": "桥一社区居委会"}, needs="nothing"),
    # --- the working-day calendar: everyone reads it, city admins set a year ---
    Case("GET", "/calendar/{year}", SIGNED_IN, needs="nothing"),
    Case(
        "PUT",
        "/calendar/{year}",
        {"admin"},
        lambda: {"days": [{"day": "2031-01-01", "kind": "holiday", "name": "元旦"}]},
        needs="nothing",
    ),
    Case("GET", "/calendar/working-days?start=2026-03-02&days=5", SIGNED_IN, needs="nothing"),
    # --- rule tables and registries: officials read them (within reach), city admins change them ---
    Case("GET", "/rules", SIGNED_IN, needs="nothing"),
    Case("GET", "/rules/{rule}", SIGNED_IN, needs="nothing"),
    Case("PUT", "/rules/{rule}", {"admin"}, lambda: {"value": 4, "valid_from": "2031-01-01"}, needs="nothing"),
    Case("GET", "/registries/committee-legal-persons", SIGNED_IN, needs="legal_person"),
    Case("GET", "/registries/committee-legal-persons/{uscc}", READERS_OF_QIAOYI, needs="legal_person"),
    Case("GET", "/registries/service-items", SIGNED_IN, needs="nothing"),
    Case("PUT", "/registries/service-items/{item}", {"admin"}, lambda: {"catalogue_version": "2031"}, needs="nothing"),
    Case("GET", "/registries/assist-matters", SIGNED_IN, needs="nothing"),
    Case("GET", "/registries/monitoring-reports", SIGNED_IN, needs="nothing"),
    Case("GET", "/registries/convention-filings", SIGNED_IN, needs="nothing"),
    Case("GET", "/registries/benefits", SIGNED_IN, needs="nothing"),
    # --- the auditor workspace ---
    Case("GET", "/audit/saved-searches", {"auditor", "admin"}, needs="nothing"),
    Case(
        "POST",
        "/audit/saved-searches",
        {"auditor", "admin"},
        lambda: {"name": "逾期", "filters": {"missed_deadline": True}},
        needs="nothing",
    ),
    Case("DELETE", "/audit/saved-searches/{search}", {"auditor", "admin"}, needs="saved_search"),
    Case("GET", "/audit/statistics", {"auditor", "admin"}, needs="nothing"),
    Case("GET", "/audit/retention", {"auditor", "admin"}, needs="nothing"),
    Case("PUT", "/audit/retention", {"admin"}, lambda: {"days": 3650}, needs="nothing"),
    Case("POST", "/audit/purge", {"admin"}, needs="nothing"),
    Case("GET", "/audit/tombstones", {"auditor", "admin"}, needs="nothing"),
    Case("GET", "/audit/export-key", SIGNED_IN, needs="nothing"),
    # --- messages correlated to the case waiting for them, and every job ---
    Case(
        "POST",
        "/messages",
        OFFICIALS_OF_QIAOYI,
        lambda: {"name": "assembly_result", "correlation": {"instance_id": "{instance}"}, "payload": {"votes_for": 31}},
        needs="awaiting_message",
    ),
    Case("GET", "/jobs", {"admin"}, needs="nothing"),
]

STARTS = {  # needs -> (process, started by, variables)
    "instance_by_admin": ("petition_review", "admin", {}),
    "awaiting_message": ("assembly_wait", "wang", {}),
    "timer": ("publicity_wait", "wang", {}),
    "failed": ("vote_count", "wang", {"present": 0, "yes": 0}),
}


def deploy_more_processes(engine: Engine) -> None:
    """Besides the petition: a message catch, a timer and a vote count whose script can fail."""
    bundle = read_bundle("queries_message.bpmn", "timer_wait.bpmn", "scripted.bpmn")
    engine.deploy(bundle, by=engine.principal("designer"))


@pytest.fixture(autouse=True)
def more_processes(petition: Engine) -> None:
    deploy_more_processes(petition)


def prepare(api: ApiClient, needs: str, caller: str) -> dict[str, str]:
    """Make what NEEDS[needs] says; answer the ids the row's path names."""
    assert needs in NEEDS, needs
    engine: Engine = api.app.extensions["govflow"]
    if needs == "nothing":
        return {}
    if needs == "draft":
        draft = api.post("/drafts", "designer", json={"process_key": "petition_review"})
        assert draft.status_code == 201, draft.json
        return {"draft": draft.json["id"]}
    if needs == "saved_search":
        owner = caller if caller in ("auditor", "admin") else "admin"
        saved = engine.save_search(engine.principal(owner), f"{caller} 的检索", {"status": "running"})
        return {"search": str(saved["id"])}
    if needs == "verification":
        owner = caller if caller in ("auditor", "admin") else "admin"
        return {"verification": engine.request_verification(engine.principal(owner))["id"]}
    if needs == "legal_person":
        engine.register_existing_committees()
        [entry] = engine.legal_persons(Principal.system(), "qiaoyi")
        return {"uscc": entry["uscc"]}
    if needs == "second_role":
        engine.grant_role("liu", "subdistrict_office", "njdl", Principal.system())
        return {}
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


def filled(value: object, ids: dict[str, str]) -> object:
    """The row's body with its {placeholders} filled in."""
    if isinstance(value, str):
        return value.format(**ids)
    if isinstance(value, dict):
        return {key: filled(item, ids) for key, item in value.items()}
    return value


def check(api: ApiClient, case: Case) -> None:
    """Every caller calls the row's endpoint; the allowed get a 2xx, the others 401 or 403/404."""
    for caller in CALLERS:
        ids = FIXED | prepare(api, case.needs, caller)
        path = case.path.format(**ids)
        kwargs: dict = {}
        if case.body is not None:
            if case.multipart:
                kwargs = {"data": case.body(), "content_type": "multipart/form-data"}
            else:
                kwargs = {"json": filled(case.body(), ids)}
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
        if case.method == "DELETE" and case.path == "/auth/token":
            api.tokens.pop(caller, None)  # signed out: the next request as this caller signs in again
        api.http.delete_cookie(auth.SESSION_COOKIE)  # a session signed in above is no later caller's


ON_A_CASE = [c for c in CASES if c.needs != "nothing"]
ON_NO_CASE = [c for c in CASES if c.needs == "nothing"]


@pytest.mark.parametrize("case", ON_A_CASE, ids=[f"{c.method} {c.path}" for c in ON_A_CASE])
def test_only_the_right_roles_may_call_each_endpoint(api: ApiClient, case: Case) -> None:
    check(api, case)


def test_only_the_right_roles_may_call_each_endpoint_that_works_on_no_case(
    api: ApiClient, subtests: pytest.Subtests
) -> None:
    """The rows that need no instance share one database: none of them changes what another row needs."""
    for case in ON_NO_CASE:
        with subtests.test(f"{case.method} {case.path}"):
            check(api, case)


def template(path: str) -> str:
    """A path with every {placeholder} blank and no query string: the row's and the document's compare."""
    return re.sub(r"\{[^}]*\}", "{}", path.split("?", 1)[0])


def test_every_operation_of_the_api_is_in_the_matrix(api: ApiClient) -> None:
    document = api.http.get("/api/v1/openapi.json").json
    operations = {
        (method.upper(), template(path.removeprefix("/api/v1")))
        for path, item in document["paths"].items()
        for method in item
        if method in {"get", "put", "post", "patch", "delete"}
    }
    rows = {(case.method, template(case.path)) for case in CASES}
    assert sorted(operations - rows) == [], "operations without a row in CASES"
    assert sorted(rows - operations) == [], "rows for operations the API does not have"
