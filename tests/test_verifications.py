"""Verifications of the audit trail run in the background: an auditor asks (API or workspace), a worker
replays the chains in reach, reports progress and the result; a claim that runs out is taken over, and a
stopping worker gives its verification back. On SQLite and PostgreSQL."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import pytest
from sqlalchemy import update

from api import create_app
from engine import Engine
from engine.commands import verifications
from engine.errors import NotAllowed, NotFound
from engine.models import AuditVerification, utcnow
from engine.worker import Worker
from tests.conftest import ApiClient, who
from tests.test_audit_workspace import reviewed_petition, start_petition, tamper
from tests.test_web import Browser


def changed_row(engine: Engine, instance_id: str, seq: int = 2) -> None:
    tamper(
        engine,
        "UPDATE audit_event SET element_id = 'forged' WHERE stream = :stream AND seq = :seq",
        stream=instance_id,
        seq=seq,
    )


def run_worker_until_done(engine: Engine, verification_id: str, name: str) -> dict:
    """Run a looping `govflow worker` on a thread until the auditor's verification is done (20 s at most),
    stop it (the thread must end), and return the verification as it then stands."""
    auditor = who(engine, "auditor")
    worker = Worker(engine, poll=0.05, name=name)
    thread = threading.Thread(target=worker.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 20
        while engine.verification(auditor, verification_id)["status"] != "done" and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        worker.stop()
        thread.join(timeout=20)
    assert not thread.is_alive()
    return engine.verification(auditor, verification_id)


def test_a_verification_asked_for_waits_for_a_worker_and_then_names_the_changed_row(petition: Engine) -> None:
    auditor = who(petition, "auditor")
    done = reviewed_petition(petition)
    asked = petition.request_verification(auditor)
    assert (asked["status"], asked["scope"], asked["ok"], asked["checked"]) == ("queued", "everything", None, 0)
    assert petition.verifications(auditor) == [asked]

    first = petition.run_next_verification("worker-1")
    assert first["id"] == asked["id"] and first["status"] == "done" and first["ok"] is True
    assert first["checked"] == petition.verify(auditor)["checked"] > 0
    assert first["started_at"] and first["finished_at"]
    assert petition.run_next_verification("worker-1") is None  # nothing else was asked for

    changed_row(petition, done["id"])
    again = petition.request_verification(auditor)
    result = petition.run_next_verification("worker-1")
    assert result["id"] == again["id"] and result["ok"] is False and result["broken_total"] == 1
    [link] = result["broken"]
    assert (link["instance_id"], link["seq"], link["code"]) == (done["id"], 2, "changed")
    assert [v["id"] for v in petition.verifications(auditor)] == [again["id"], asked["id"]]  # newest first


def test_a_verification_is_its_requesters_and_only_auditors_and_admins_ask(petition: Engine) -> None:
    asked = petition.request_verification(who(petition, "auditor"))
    with pytest.raises(NotFound):
        petition.verification(who(petition, "admin"), asked["id"])
    assert petition.verifications(who(petition, "admin")) == []
    for official in ("wang", "zhang"):
        with pytest.raises(NotAllowed):
            petition.request_verification(who(petition, official))
        with pytest.raises(NotAllowed):
            petition.verifications(who(petition, official))
    with pytest.raises(NotFound):
        petition.verification(who(petition, "auditor"), "no-such-verification")


def test_a_street_auditor_verifies_the_chains_in_reach_as_it_was_when_asked(petition: Engine) -> None:
    petition.add_user("sun", "auditor-pass-1", [("auditor", "wlq")])
    street = who(petition, "sun")
    inside = reviewed_petition(petition, "YT-IN")
    outside = start_petition(petition, unit="xinye", business_key="XY-OUT")
    changed_row(petition, outside["id"], seq=1)
    asked = petition.request_verification(street)
    assert asked["scope"] == "reach"
    result = petition.run_next_verification("worker-1")
    assert result["ok"] is True  # the broken case lies outside 五里桥街道
    assert result["checked"] == petition.verify(street)["checked"] == petition.verify(street, inside["id"])["checked"]

    case = petition.request_verification(street, inside["id"])
    assert case["scope"] == "instance" and case["instance_id"] == inside["id"]
    with pytest.raises(NotAllowed):
        petition.request_verification(street, outside["id"])


def test_a_claim_that_ran_out_is_taken_over_and_the_first_workers_late_result_is_dropped(
    petition: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    auditor = who(petition, "auditor")
    reviewed_petition(petition)
    asked = petition.request_verification(auditor)
    monkeypatch.setattr(verifications, "BATCH", 2)
    monkeypatch.setattr(verifications, "PROGRESS_ROWS", 2)
    seen: list[int] = []

    def killed_meanwhile() -> bool:
        """worker-1 is killed after its first progress report: its claim runs out."""
        row = petition.verification(auditor, asked["id"])
        seen.append(row["checked"])
        if row["checked"] > 0:
            with petition.transaction() as session:
                session.execute(
                    update(AuditVerification)
                    .where(AuditVerification.id == asked["id"])
                    .values(locked_until=utcnow() - timedelta(seconds=1))
                )
            # worker-2 takes the verification over and runs it to its end
            assert petition.run_next_verification("worker-2")["status"] == "done"
        return False

    assert petition.run_next_verification("worker-1", stopping=killed_meanwhile) is None
    assert seen[:2] == [0, 2]  # worker-1 wrote its progress before it lost the claim
    result = petition.verification(auditor, asked["id"])
    assert result["status"] == "done" and result["ok"] is True and result["checked"] > 2


def test_a_stopping_worker_gives_its_verification_back_for_the_next_one(
    petition: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    auditor = who(petition, "auditor")
    reviewed_petition(petition)
    asked = petition.request_verification(auditor)
    monkeypatch.setattr(verifications, "BATCH", 2)
    assert petition.run_next_verification("worker-1", stopping=lambda: True) is None
    given_back = petition.verification(auditor, asked["id"])
    assert given_back["status"] == "queued" and given_back["ok"] is None
    assert petition.run_next_verification("worker-2")["ok"] is True


def test_a_verification_that_cannot_finish_says_why(petition: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    auditor = who(petition, "auditor")
    asked = petition.request_verification(auditor)

    def broken_replay(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError("the disk went away\nTraceback (most recent call last): ...")

    monkeypatch.setattr(verifications.Scope, "replay", broken_replay)
    result = petition.run_next_verification("worker-1")
    assert result["id"] == asked["id"] and result["status"] == "failed" and result["ok"] is None
    assert result["error"] == "RuntimeError: the disk went away"


def test_govflow_worker_runs_the_verifications_asked_for_beside_its_jobs(petition: Engine) -> None:
    auditor = who(petition, "auditor")
    reviewed_petition(petition)
    once = petition.request_verification(auditor)
    Worker(petition, poll=0.05, name="cron").run(once=True)  # `govflow worker --once`: nothing is left waiting
    assert petition.verification(auditor, once["id"])["status"] == "done"

    asked = petition.request_verification(auditor)
    assert run_worker_until_done(petition, asked["id"], "looping")["ok"] is True


def test_the_api_takes_a_request_at_once_and_answers_with_its_progress(api: ApiClient, petition: Engine) -> None:
    reviewed_petition(petition)
    asked = api.post("/audit/verifications", "auditor", json={})
    assert asked.status_code == 202 and asked.json["status"] == "queued"
    assert api.get(f"/audit/verifications/{asked.json['id']}", "auditor").json["status"] == "queued"
    petition.run_next_verification("worker-1")
    done = api.get(f"/audit/verifications/{asked.json['id']}", "auditor").json
    assert done["status"] == "done" and done["ok"] is True and done["checked"] > 0
    assert [v["id"] for v in api.get("/audit/verifications", "auditor").json["items"]] == [asked.json["id"]]
    missing = api.get(f"/audit/verifications/{asked.json['id']}", "admin")
    assert missing.status_code == 404 and "no_verification" in missing.get_data(as_text=True)
    assert api.post("/audit/verifications", "wang", json={}).status_code == 403
    assert api.post("/audit/verifications", "auditor", json={"instance": "x"}).status_code == 422
    unknown = api.post("/audit/verifications", "auditor", json={"instance_id": "no-such-case"})
    assert unknown.status_code == 404


def test_the_search_page_asks_for_a_verification_and_follows_it_to_its_result(petition: Engine) -> None:
    app = create_app({"GOVFLOW_ENGINE": petition, "TESTING": True})
    done = reviewed_petition(petition)
    auditor = Browser(app, "auditor")
    asked = auditor.post("/audit/verifications", headers={"HX-Request": "true"})
    fragment = asked.get_data(as_text=True)
    assert asked.status_code == 202 and "正在等待后台任务处理" in fragment
    [run_id] = [v["id"] for v in petition.verifications(who(petition, "auditor"))]
    assert f'hx-get="/audit/verifications/{run_id}" hx-trigger="every 2s"' in fragment

    changed_row(petition, done["id"])
    petition.run_next_verification("worker-1")
    result = auditor.get(f"/audit/verifications/{run_id}", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert "核验未通过" in result and f'href="/audit/instances/{done["id"]}"' in result and "hx-trigger" not in result
    # coming back later, the search page shows the last verification asked for
    assert "核验未通过" in auditor.get("/audit").get_data(as_text=True)
    assert Browser(app, "admin").get(f"/audit/verifications/{run_id}").status_code == 404


def test_the_workers_background_thread_outlives_a_failed_read(
    petition: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    auditor = who(petition, "auditor")
    asked = petition.request_verification(auditor)
    real, failures = petition.run_next_verification, []

    def failing_once(*args: object, **kwargs: object) -> dict | None:
        if not failures:
            failures.append(1)
            raise RuntimeError("a bug in one read")
        return real(*args, **kwargs)

    monkeypatch.setattr(petition, "run_next_verification", failing_once)
    assert run_worker_until_done(petition, asked["id"], "survivor")["ok"] is True
    assert failures == [1]
