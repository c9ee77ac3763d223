"""Signing in over the API: tokens expire and can be revoked; sessions need CSRF; guessing is slowed down."""

from __future__ import annotations

import re
import threading
from collections import Counter
from datetime import timedelta

import pytest
from sqlalchemy import update

from engine import Engine
from engine.commands.access import CHECK_TIMEOUT, CHECKS_RETRY_SECONDS
from engine.errors import GovflowError
from engine.models import ApiToken, LoginAttempt, utcnow
from tests.conftest import PASSWORD, ApiClient, problem_of


def test_an_official_signs_in_and_sees_who_they_are(api: ApiClient) -> None:
    response = api.post("/auth/token", json={"username": "wang", "password": PASSWORD})
    assert response.status_code == 200
    body = response.json
    assert body["token_type"] == "Bearer"
    assert 0 < body["expires_in"] <= 8 * 3600
    assert body["user"]["username"] == "wang"
    assert body["user"]["roles"] == ["residents_committee"]
    assert body["user"]["org_unit"] == "qiaoyi"
    me = api.get("/me", headers={"Authorization": f"Bearer {body['access_token']}"})
    assert me.status_code == 200 and me.json["username"] == "wang"


def test_a_wrong_password_and_an_unknown_user_get_the_same_answer(api: ApiClient) -> None:
    wrong = api.post("/auth/token", json={"username": "wang", "password": "not-the-password"})
    unknown = api.post("/auth/token", json={"username": "nobody", "password": "not-the-password"})
    assert wrong.status_code == unknown.status_code == 401
    assert problem_of(wrong)["detail"] == problem_of(unknown)["detail"]


def test_repeated_failures_lock_the_user_out_for_a_while(api: ApiClient) -> None:
    for _ in range(5):
        assert api.post("/auth/token", json={"username": "wang", "password": "guess-guess"}).status_code == 401
    locked = api.post("/auth/token", json={"username": "wang", "password": PASSWORD})
    assert locked.status_code == 429
    assert int(locked.headers["Retry-After"]) > 0
    assert "try again" in problem_of(locked)["detail"]
    # another official from the same address is not locked out by wang's failures alone
    assert api.post("/auth/token", json={"username": "zhang", "password": PASSWORD}).status_code == 200
    # the lockout is on the audit trail, once, however many times wang is refused meanwhile
    assert api.post("/auth/token", json={"username": "wang", "password": PASSWORD}).status_code == 429
    locked = api.get("/audit/events", "auditor", query_string={"action": "sign_in_locked"}).json["items"]
    assert [(e["element_id"], e["data"]["locked"], e["actor"]["username"]) for e in locked] == [
        ("wang", "user", "engine")
    ]


def sign_in_from(api: ApiClient, address: str, username: str, password: str):  # noqa: ANN201
    body = {"username": username, "password": password}
    return api.post("/auth/token", json=body, environ_base={"REMOTE_ADDR": address})


def test_the_21st_failure_from_one_address_is_refused_while_another_address_still_signs_in(api: ApiClient) -> None:
    for n in range(20):  # a different username each time: the per-user limit (5) never applies
        assert sign_in_from(api, "10.0.0.1", f"guess{n}", "guess-guess").status_code == 401
    refused = sign_in_from(api, "10.0.0.1", "wang", PASSWORD)  # even the right password, from there
    assert refused.status_code == 429 and "try again" in problem_of(refused)["detail"]
    assert int(refused.headers["Retry-After"]) > 0
    assert sign_in_from(api, "10.0.0.2", "wang", PASSWORD).status_code == 200
    locked = api.get("/audit/events", "auditor", query_string={"action": "sign_in_locked"}).json["items"]
    assert [(e["element_id"], e["data"]["locked"], e["data"]["failures"]) for e in locked] == [
        ("10.0.0.1", "address", 20)
    ]


def test_simultaneous_guesses_cannot_get_past_the_limits(petition: Engine) -> None:
    """30 guesses from one address at the same moment (20 allowed), and 8 at one user's password (5 allowed)."""

    def guess_all(guesses: list[tuple[str, str]]) -> Counter:
        barrier = threading.Barrier(len(guesses))
        outcomes: Counter = Counter()

        def guess(username: str, address: str) -> None:
            barrier.wait(timeout=30)
            try:
                petition.sign_in(username, "guess-guess", address)
                outcomes["signed in"] += 1
            except GovflowError as exc:
                outcomes[exc.status] += 1

        threads = [threading.Thread(target=guess, args=g) for g in guesses]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        return outcomes

    assert guess_all([(f"guess{n}", "10.0.0.7") for n in range(30)]) == Counter({401: 20, 429: 10})
    assert guess_all([("wang", f"10.0.1.{n}") for n in range(8)]) == Counter({401: 5, 429: 3})


def test_simultaneous_right_sign_ins_of_one_user_are_asked_to_wait_seconds_not_locked_out(petition: Engine) -> None:
    """Eight at once: five may be checked at a time, the others are told to retry in seconds, none locked out."""
    barrier = threading.Barrier(8)
    outcomes: Counter = Counter()

    def sign_in(n: int) -> None:
        barrier.wait(timeout=30)
        try:
            petition.sign_in("wang", PASSWORD, f"10.0.2.{n}")
            outcomes["signed in"] += 1
        except GovflowError as exc:
            outcomes[(exc.status, exc.code, getattr(exc, "retry_after", None))] += 1

    threads = [threading.Thread(target=sign_in, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert outcomes["signed in"] >= 5
    assert set(outcomes) <= {"signed in", (429, "sign_ins_in_flight", CHECKS_RETRY_SECONDS)}
    assert sum(outcomes.values()) == 8
    assert petition.sign_in("wang", PASSWORD, "10.0.2.1").person.username == "wang"  # nothing was left counted


def test_a_sign_in_whose_check_never_ended_counts_as_a_failure_after_a_minute(api: ApiClient, petition: Engine) -> None:
    now = utcnow()
    with petition.transaction() as session:  # five checks in flight, as if five processes were checking now
        session.add_all(LoginAttempt(username="wang", address=f"10.0.3.{n}", at=now) for n in range(5))
    busy = api.post("/auth/token", json={"username": "wang", "password": PASSWORD})
    assert busy.status_code == 429 and busy.headers["Retry-After"] == str(CHECKS_RETRY_SECONDS)
    assert problem_of(busy)["detail"].endswith("being checked; try again in a few seconds.")
    page = api.app.test_client().post("/login", data={"username": "wang", "password": PASSWORD, "next": "/inbox"})
    assert page.status_code == 429 and "其他登录正在核验中，请几秒后再试" in page.get_data(as_text=True)
    with petition.transaction() as session:  # their processes died: a minute later they are failures
        session.execute(update(LoginAttempt).values(at=now - CHECK_TIMEOUT - timedelta(seconds=1)))
    locked = api.post("/auth/token", json={"username": "wang", "password": PASSWORD})
    assert locked.status_code == 429 and int(locked.headers["Retry-After"]) > 13 * 60
    assert re.fullmatch(r"Too many failed sign-ins; try again in 1[45] minutes\.", problem_of(locked)["detail"])


def test_requests_without_a_valid_token_are_refused(api: ApiClient, petition: Engine) -> None:
    assert problem_of(api.get("/me"))["status"] == 401
    assert api.get("/me", headers={"Authorization": "Bearer not-a-token"}).status_code == 401
    assert api.get("/me", headers={"Authorization": "Basic d2FuZzp4"}).status_code == 401
    token = api.token("wang")
    with petition.transaction() as session:
        session.execute(update(ApiToken).values(expires_at=utcnow() - timedelta(seconds=1)))
    expired = api.get("/me", headers={"Authorization": f"Bearer {token}"})
    assert expired.status_code == 401
    assert "expired" in problem_of(expired)["detail"]


def test_a_revoked_token_stops_working(api: ApiClient) -> None:
    token = api.token("wang")
    headers = {"Authorization": f"Bearer {token}"}
    assert api.call("DELETE", "/auth/token", headers=dict(headers)).status_code == 204
    assert api.get("/me", headers=headers).status_code == 401


def test_tokens_are_stored_only_as_hashes(api: ApiClient, petition: Engine) -> None:
    token = api.token("wang")
    with petition.reading() as session:
        stored = [t.token_hash for t in session.query(ApiToken).all()]
    assert token not in stored and all(len(h) == 64 for h in stored)


def test_a_browser_session_needs_its_csrf_token_to_write(api: ApiClient) -> None:
    response = api.post("/auth/session", json={"username": "wang", "password": PASSWORD})
    assert response.status_code == 200
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    csrf = response.json["csrf_token"]
    assert api.get("/me").status_code == 200  # reads need only the cookie
    start = {"process_key": "petition_review", "org_unit": "qiaoyi"}
    refused = api.post("/process-instances", json=start)
    assert refused.status_code == 403 and "CSRF" in problem_of(refused)["detail"]
    assert api.post("/process-instances", json=start, headers={"X-CSRF-Token": "forged"}).status_code == 403
    assert api.post("/process-instances", json=start, headers={"X-CSRF-Token": csrf}).status_code == 201
    assert api.call("DELETE", "/auth/session").status_code == 204
    assert api.get("/me").status_code == 401


def test_a_browser_signs_out_with_its_session_not_with_the_token_endpoint(api: ApiClient) -> None:
    csrf = api.post("/auth/session", json={"username": "wang", "password": PASSWORD}).json["csrf_token"]
    wrong_door = api.call("DELETE", "/auth/token", headers={"X-CSRF-Token": csrf})
    assert wrong_door.status_code == 422 and "DELETE /api/v1/auth/session" in problem_of(wrong_door)["detail"]
    assert api.get("/me").status_code == 200  # nothing was revoked, and no 204 said otherwise
    assert api.call("DELETE", "/auth/session").status_code == 204
    assert api.get("/me").status_code == 401


@pytest.mark.parametrize(
    "body",
    [{"username": "wang"}, {"username": "wang", "password": PASSWORD, "extra": 1}, {"username": 5, "password": "x"}],
)
def test_a_malformed_sign_in_is_answered_field_by_field(api: ApiClient, body: dict) -> None:
    response = api.post("/auth/token", json=body)
    assert response.status_code == 422
    assert problem_of(response)["errors"]
