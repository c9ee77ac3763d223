"""Nobody in where they do not belong: role x org unit x endpoint, on SQLite and PostgreSQL.

- officials of another committee, another subdistrict, a village and a township of another district try
  every operation and read of a committee's task and of a subdistrict's task (REST and the workspace);
- an auditor tries every write endpoint of the API (each row of the role x endpoint matrix an auditor
  may not call);
- a disabled user's old token and sessions, and expired tokens and sessions (the engine's clock moved);
- form posts and JSON writes from a signed-in browser without the CSRF token, or with a forged one;
- password guessing through the sign-in page: locked out after 5 failures, the lockout audited.

Every refusal is checked to change nothing: the row counts of every table, the tasks' assignees,
owners and priorities, the instances' versions and the audit chains' heads are the same before and
after. The counts tried go to tests/artifacts/authorization.json (and the test output, with -s) for
docs/reliability.md.
"""

from __future__ import annotations

import json
import re
from datetime import timedelta

import pytest
from flask import Flask
from sqlalchemy import func, select

from api import auth
from engine import Engine
from engine.models import AuditStream, Base, HumanTask, ProcessInstance
from tests.conftest import PASSWORD, ROOT, ApiClient
from tests.test_api_authorization import (
    CALLERS,
    CASES,
    FIXED,
    Case,
    deploy_more_processes,
    filled,
    prepare,
    template,
)

ARTIFACT = ROOT / "tests" / "artifacts" / "authorization.json"
ISSUE = {"title": "加装电梯", "proposer_count": 30, "eligible_count": 100}
# Outsiders of 桥一居委会's case: the committee next door, a subdistrict, a village and a township elsewhere.
OUTSIDERS_OF_THE_COMMITTEE = ("chen", "wu", "shen", "qian")
# Outsiders of 五里桥街道's review: the other subdistrict, a committee below it, a village, a township.
OUTSIDERS_OF_THE_SUBDISTRICT = ("wu", "chen", "shen", "qian")
EVERYONE = ("wang", "chen", "zhang", "liu", "wu", "shen", "qian", "designer", "auditor", "admin")


def record(suite: str, engine: Engine, **counts: int) -> None:
    """Keep what a suite tried, per database, in tests/artifacts/authorization.json (and say it)."""
    ARTIFACT.parent.mkdir(parents=True, exist_ok=True)
    data = json.loads(ARTIFACT.read_text()) if ARTIFACT.exists() else {}
    data.setdefault(suite, {})[engine.dialect] = counts
    ARTIFACT.write_text(json.dumps(data, ensure_ascii=False, indent=2, sort_keys=True) + "\n")
    print(f"authorization suite {suite} on {engine.dialect}: {counts}")


# Signing a browser in for a test writes these; no request tried here may change anything else.
SIGN_IN_TABLES = {"api_token", "login_attempt"}


def snapshot(engine: Engine) -> dict:
    """What a refused request must not change."""
    with engine.reading() as session:
        return {
            "rows": {
                table.name: session.execute(select(func.count()).select_from(table)).scalar_one()
                for table in Base.metadata.sorted_tables
                if table.name not in SIGN_IN_TABLES
            },
            "tasks": sorted(
                session.execute(
                    select(
                        HumanTask.id,
                        HumanTask.status,
                        HumanTask.assignee,
                        HumanTask.owner,
                        HumanTask.priority,
                        HumanTask.urged_count,
                    )
                ).all()
            ),
            "instances": sorted(
                session.execute(select(ProcessInstance.id, ProcessInstance.status, ProcessInstance.lock_version)).all()
            ),
            "chains": sorted(session.execute(select(AuditStream.stream, AuditStream.head)).all())
            + sorted(session.execute(select(ProcessInstance.id, ProcessInstance.audit_head)).all()),
        }


@pytest.fixture
def world(api: ApiClient, petition: Engine) -> dict[str, str]:
    """Everyone signed in; a petition waiting at 登记议题 in 桥一 (`register`), and another one wang registered
    (`registered`), now at 街道审查 in 五里桥 (`review`)."""
    deploy_more_processes(petition)
    for username in EVERYONE:
        api.token(username)
    first = api.post("/process-instances", "wang", json={"process_key": "petition_review", "org_unit": "qiaoyi"})
    second = api.post("/process-instances", "wang", json={"process_key": "petition_review", "org_unit": "qiaoyi"})
    registered = second.json["tasks"][0]["id"]
    done = api.post(f"/tasks/{registered}/complete", "wang", json={"data": ISSUE})
    return {
        "register": first.json["tasks"][0]["id"],
        "register_instance": first.json["id"],
        "registered": registered,
        "review": done.json["next_tasks"][0]["id"],
        "review_instance": second.json["id"],
    }


def task_requests(task: str, instance: str, data: dict, to: str) -> list[tuple[str, str, dict | None]]:
    """Every operation and read of one task and its case."""
    return [
        ("POST", f"/tasks/{task}/claim", None),
        ("POST", f"/tasks/{task}/unclaim", None),
        ("POST", f"/tasks/{task}/complete", {"data": data}),
        ("POST", f"/tasks/{task}/transfer", {"to": to, "comment": "越权转办"}),
        ("POST", f"/tasks/{task}/delegate", {"to": to, "comment": "越权委派"}),
        ("POST", f"/tasks/{task}/return", {"reason": "越权退回"}),
        ("POST", f"/tasks/{task}/comments", {"text": "越权意见"}),
        ("POST", f"/tasks/{task}/urge", {"comment": "越权催办"}),
        ("GET", f"/tasks/{task}", None),
        ("GET", f"/tasks/{task}/comments", None),
        ("GET", f"/process-instances/{instance}", None),
        ("GET", f"/process-instances/{instance}/history", None),
        ("GET", f"/process-instances/{instance}/path", None),
        ("GET", f"/process-instances/{instance}/export", None),
        ("GET", f"/process-instances/{instance}/jobs", None),
        ("GET", f"/audit/events?instance_id={instance}", None),
    ]


def signed_in_browser(app: Flask, username: str):  # noqa: ANN201
    """A test client signed in through the workspace's sign-in page (session cookie and CSRF cookie)."""
    browser = app.test_client()
    answer = browser.post("/login", data={"username": username, "password": PASSWORD, "next": "/inbox"})
    assert answer.status_code == 303, answer.get_data(as_text=True)[:300]
    return browser


def test_officials_outside_a_units_reach_can_neither_work_nor_read_its_tasks(
    api: ApiClient, petition: Engine, world: dict[str, str]
) -> None:
    targets = [
        (OUTSIDERS_OF_THE_COMMITTEE, world["register"], world["register_instance"], ISSUE, "wang"),
        (OUTSIDERS_OF_THE_SUBDISTRICT, world["review"], world["review_instance"], {"decision": "approve"}, "liu"),
    ]
    before = snapshot(petition)
    attempts = 0
    for outsiders, task, instance, data, to in targets:
        requests = task_requests(task, instance, data, to)
        for outsider in outsiders:
            for method, path, body in requests:
                answer = api.call(method, path, outsider, json=body)
                assert answer.status_code == 403, (outsider, method, path, answer.status_code, answer.json)
                assert snapshot(petition) == before, (outsider, method, path)
                attempts += 1
            # nor do the task and its case show in their lists
            inbox = api.get("/tasks", outsider, query_string={"scope": "all", "limit": 500}).json["items"]
            cases = api.get("/process-instances", outsider, query_string={"limit": 500}).json["items"]
            assert task not in {t["id"] for t in inbox} and instance not in {c["id"] for c in cases}
    # 撤回 of the step wang completed: only wang
    for outsider in set(OUTSIDERS_OF_THE_COMMITTEE) | {"zhang", "liu"}:
        answer = api.post(f"/tasks/{world['registered']}/withdraw", outsider, json={"reason": "越权撤回"})
        assert answer.status_code == 403, (outsider, answer.json)
        assert snapshot(petition) == before
        attempts += 1
    # the same through the workspace's pages, with a valid CSRF token: the page answers 403
    web_attempts = 0
    for outsider in OUTSIDERS_OF_THE_COMMITTEE:
        browser = signed_in_browser(api.app, outsider)
        csrf = browser.get_cookie(auth.CSRF_COOKIE).value
        assert browser.get(f"/tasks/{world['register']}").status_code == 403
        for action in ("claim", "unclaim", "transfer", "delegate", "return", "comment", "urge", "copy"):
            form = {auth.CSRF_FIELD: csrf, "to": "wang", "text": "x", "reason": "x", "comment": "x"}
            answer = browser.post(f"/tasks/{world['register']}/{action}", data=form)
            assert answer.status_code == 403, (outsider, action, answer.status_code)
            web_attempts += 1
        completed = browser.post(
            f"/tasks/{world['register']}/complete", json={"data": ISSUE}, headers={"X-CSRF-Token": csrf}
        )
        assert completed.status_code == 403
        web_attempts += 1
    assert snapshot(petition) == before
    # the task's own officials can do what the outsiders could not: the requests above were sound
    assert api.post(f"/tasks/{world['register']}/claim", "wang").status_code == 200
    assert api.post(f"/tasks/{world['review']}/comments", "zhang", json={"text": "同意"}).status_code == 201
    record(
        "officials_outside_reach",
        petition,
        outsiders=len(set(OUTSIDERS_OF_THE_COMMITTEE) | set(OUTSIDERS_OF_THE_SUBDISTRICT)),
        api_requests_per_task=len(task_requests("t", "i", {}, "x")),
        api_attempts=attempts,
        workspace_attempts=web_attempts,
        refused=attempts + web_attempts,
    )


def test_an_auditor_is_refused_every_write_and_nothing_changes(api: ApiClient, petition: Engine) -> None:
    deploy_more_processes(petition)
    writes = [c for c in CASES if c.method != "GET" and "auditor" not in c.allowed]
    document = api.http.get("/api/v1/openapi.json").json
    every_write = {
        (method.upper(), template(path.removeprefix("/api/v1")))
        for path, item in document["paths"].items()
        for method in item
        if method in {"put", "post", "patch", "delete"}
    }
    own_writes = [c for c in CASES if c.method != "GET" and "auditor" in c.allowed]
    assert {(c.method, template(c.path)) for c in writes + own_writes} == every_write
    for case in writes:
        ids = FIXED | prepare(api, case.needs, "auditor")
        before = snapshot(petition)
        answer = call(api, case, ids, "auditor")
        assert answer.status_code == 403, (case.method, case.path, answer.status_code, answer.json)
        assert snapshot(petition) == before, (case.method, case.path)
    own = sorted(f"{c.method} {c.path}" for c in CASES if c.method != "GET" and "auditor" in c.allowed)
    assert own == [  # sign-in and sign-out, the auditor's own saved searches and verifications asked for
        "DELETE /audit/saved-searches/{search}",
        "DELETE /auth/session",
        "DELETE /auth/token",
        "POST /audit/saved-searches",
        "POST /audit/verifications",
        "POST /auth/session",
        "POST /auth/token",
    ]
    record("auditor_writes", petition, write_operations=len(writes), refused=len(writes))
    record(
        "role_endpoint_matrix",
        petition,
        operations=len(CASES),
        callers=len(CALLERS),
        calls=len(CASES) * len(CALLERS),
    )


def call(api: ApiClient, case: Case, ids: dict[str, str], caller: str):  # noqa: ANN201
    path = case.path.format(**ids)
    if case.body is None:
        return api.call(case.method, path, caller)
    if case.multipart:
        return api.call(case.method, path, caller, data=case.body(), content_type="multipart/form-data")
    return api.call(case.method, path, caller, json=filled(case.body(), ids))


def test_a_disabled_users_old_token_and_sessions_are_refused_at_once(api: ApiClient, petition: Engine) -> None:
    token = {"Authorization": f"Bearer {api.token('wang')}"}
    api_session = api.app.test_client()
    assert api_session.post("/api/v1/auth/session", json={"username": "wang", "password": PASSWORD}).status_code == 200
    browser = signed_in_browser(api.app, "wang")
    assert browser.get("/inbox").status_code == 200

    assert api.post("/users/wang/disable", "admin").status_code == 200
    refusals = [
        api.get("/me", headers=dict(token)).status_code,
        api.get("/tasks", headers=dict(token)).status_code,
        api_session.get("/api/v1/me").status_code,
        api.post("/auth/token", json={"username": "wang", "password": PASSWORD}).status_code,
    ]
    assert refusals == [401, 401, 401, 401]
    page = browser.get("/inbox")
    assert page.status_code == 302 and page.location.startswith("/login")

    assert api.post("/users/wang/enable", "admin").status_code == 200
    assert api.get("/me", headers=dict(token)).status_code == 401  # revoked when disabled, for good
    assert browser.get("/inbox").status_code == 302
    assert api.post("/auth/token", json={"username": "wang", "password": PASSWORD}).status_code == 200
    record("disabled_user", petition, credentials=3, refused=len(refusals) + 3)


def test_an_expired_token_or_session_is_refused(clock, api: ApiClient, petition: Engine) -> None:  # noqa: ANN001
    token = {"Authorization": f"Bearer {api.token('wang')}"}
    browser = signed_in_browser(api.app, "wang")
    clock.advance(timedelta(seconds=petition.settings.token_ttl - 60))
    assert api.get("/me", headers=dict(token)).status_code == 200
    clock.advance(timedelta(seconds=61))
    expired = api.get("/me", headers=dict(token))
    assert expired.status_code == 401 and "expired" in expired.json["detail"]
    assert browser.get("/inbox").status_code == 200  # a session lasts longer than a token
    clock.advance(timedelta(seconds=petition.settings.session_ttl - petition.settings.token_ttl))
    page = browser.get("/inbox")
    assert page.status_code == 302 and page.location.startswith("/login")
    assert browser.get("/api/v1/me").status_code == 401
    record("expired_credentials", petition, credentials=2, refused=3)


def web_posts(app: Flask, ids: dict[str, str]) -> list[str]:
    """Every form post of the workspace (its URL rules with POST), with real ids filled in."""
    actions = ("claim", "unclaim", "transfer", "delegate", "return", "comment", "urge", "copy")
    paths: list[str] = []
    for rule in app.url_map.iter_rules():
        if "POST" not in (rule.methods or ()) or rule.rule.startswith("/api/") or rule.rule == "/login":
            continue
        template = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule)
        if "{action}" in template:
            paths += [template.format(task_id=ids["register"], action=a) for a in actions]
        else:
            paths.append(
                template.format(
                    task_id=ids["register"], search_id=ids["search"], draft_id=ids["draft"], key="petition_review"
                )
            )
    return paths


def test_writes_from_a_browser_session_without_the_csrf_token_are_refused_and_change_nothing(
    api: ApiClient, petition: Engine, world: dict[str, str]
) -> None:
    ids = world | {
        "search": str(petition.save_search(petition.principal("admin"), "在办", {})["id"]),
        "draft": petition.create_draft(petition.principal("designer"), process_key="petition_review")["id"],
    }
    posts = web_posts(api.app, ids)
    assert len(posts) >= 15 and "/start" in posts and "/logout" in posts and "/audit/purge" in posts
    before = snapshot(petition)
    attempts = 0
    for username in ("wang", "admin", "designer"):
        browser = signed_in_browser(api.app, username)
        for path in posts:
            for form in ({}, {auth.CSRF_FIELD: "forged"}):
                answer = browser.post(
                    path, data=form | {"to": "zhang", "text": "x", "reason": "x", "ids": ids["register"]}
                )
                assert answer.status_code == 403, (username, path, form, answer.status_code)
                assert "页面已过期" in answer.get_data(as_text=True), (username, path)
                attempts += 1
        for path in ("/inbox/complete", f"/tasks/{ids['register']}/complete"):
            answer = browser.post(path, json={"ids": [ids["register"]], "data": ISSUE})
            assert answer.status_code == 403, (username, path)
            attempts += 1
        for path, body in [
            (f"/api/v1/tasks/{ids['register']}/claim", None),
            ("/api/v1/process-instances", {"process_key": "petition_review", "org_unit": "qiaoyi"}),
            ("/api/v1/users/liu/disable", None),
        ]:
            answer = browser.post(path, json=body, headers={"X-CSRF-Token": "forged"})
            assert answer.status_code == 403 and "CSRF" in answer.json["detail"], (username, path)
            attempts += 1
    assert snapshot(petition) == before
    # with the page's token the same session works
    browser = signed_in_browser(api.app, "wang")
    csrf = browser.get_cookie(auth.CSRF_COOKIE).value
    assert browser.post(f"/tasks/{ids['register']}/claim", data={auth.CSRF_FIELD: csrf}).status_code == 303
    assert petition.get_task(ids["register"])["assignee"] == "wang"
    record("csrf", petition, form_posts=len(posts), api_writes=3, attempts=attempts, refused=attempts)


def test_guessing_a_password_locks_the_user_out_and_the_lockout_is_audited(api: ApiClient, petition: Engine) -> None:
    browser = api.app.test_client()
    guesses = 0
    for n in range(5):
        page = browser.post("/login", data={"username": "wang", "password": f"guess-{n}-guess", "next": "/inbox"})
        assert page.status_code == 401 and "用户名或密码错误" in page.get_data(as_text=True)
        guesses += 1
    locked = browser.post("/login", data={"username": "wang", "password": PASSWORD, "next": "/inbox"})
    assert locked.status_code == 429 and "登录失败次数过多" in locked.get_data(as_text=True)
    assert browser.get_cookie(auth.SESSION_COOKIE) is None
    assert api.post("/auth/token", json={"username": "wang", "password": PASSWORD}).status_code == 429
    assert api.post("/auth/token", json={"username": "zhang", "password": PASSWORD}).status_code == 200
    events = api.get("/audit/events", "auditor", query_string={"action": "sign_in_locked"}).json["items"]
    assert [(e["element_id"], e["data"]["locked"], e["data"]["failures"]) for e in events] == [("wang", "user", 5)]
    assert api.get("/audit/verify", "auditor").json["ok"] is True
    record("password_guessing", petition, guesses=guesses, locked_after=5, refused_after_lockout=2, audited=1)
