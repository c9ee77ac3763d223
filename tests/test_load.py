"""Load: 50 officials at once against `govflow serve --workers 4` on PostgreSQL, reading inboxes and completing tasks.

Forty residents' committee officials (four per committee, ten committees) start petitions, read their group's
inbox and race their colleagues to register what is in it; ten subdistrict officials read theirs and race
each other to the reviews. Every request is timed. Afterwards: no 5xx at all, no request lost, and the
completions the clients were answered 200 are exactly the completions in the database (none lost, none
twice: a task raced by colleagues is answered 200 once and 409 otherwise). The p50/p95/p99 latencies and
the throughput are printed and written to tests/artifacts/reliability/load.json.

`make test` runs it for GOVFLOW_LOAD_SECONDS (15 by default); `make load` for 60 seconds.
"""

from __future__ import annotations

import os
import random
import threading
import time
from collections import Counter
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from engine import Engine
from engine.models import AuditEvent
from tests.conftest import PASSWORD
from tests.reliability_report import record
from tests.serving import Server, serving

pytestmark = [pytest.mark.load, pytest.mark.slow, pytest.mark.postgres]

SECONDS = float(os.environ.get("GOVFLOW_LOAD_SECONDS", "15"))
OFFICIALS = 50
COMMITTEES = 10
SEED = int(os.environ.get("GOVFLOW_LOAD_SEED", "20261206"))
ISSUE = {"title": "加装电梯", "proposer_count": 30, "eligible_count": 100}
APPROVE = {"decision": "approve"}


class Ledger:
    """Every request's kind, status and latency, and per task the statuses its completions got."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.requests: list[tuple[str, object, float]] = []
        self.completions: dict[str, list[object]] = {}

    def timed(self, client: httpx.Client, kind: str, method: str, path: str, **kwargs: object) -> httpx.Response | None:
        started = time.perf_counter()
        try:
            response = client.request(method, path, **kwargs)
            status: object = response.status_code
        except httpx.TransportError as exc:
            response, status = None, type(exc).__name__
        with self.lock:
            self.requests.append((kind, status, time.perf_counter() - started))
        return response

    def completed(self, task_id: str, response: httpx.Response | None) -> None:
        with self.lock:
            self.completions.setdefault(task_id, []).append(response.status_code if response is not None else "lost")


def official(server: Server, token: str, kind: str, unit: str, ledger: Ledger, until: float, seed: int) -> None:
    """One official's working day, compressed: mostly inbox reads, then starts (committees) and completions."""
    rng = random.Random(seed)
    element, data = ("register_issue", ISSUE) if kind == "committee" else ("review_petition", APPROVE)
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=f"{server.url}/api/v1", headers=headers, timeout=120) as client:
        while time.monotonic() < until:
            roll = rng.random()
            if kind == "committee" and roll < 0.25:
                body = {"process_key": "petition_review", "org_unit": unit}
                ledger.timed(client, "start", "POST", "/process-instances", json=body)
                continue
            inbox = ledger.timed(client, "inbox", "GET", "/tasks", params={"scope": "candidate", "limit": 20})
            if inbox is None or inbox.status_code != 200 or roll < 0.6:
                continue
            waiting = [t for t in inbox.json()["items"] if t["element_id"] == element]
            if waiting:
                task_id = rng.choice(waiting)["id"]
                done = ledger.timed(client, "complete", "POST", f"/tasks/{task_id}/complete", json={"data": data})
                ledger.completed(task_id, done)


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))] if ordered else 0.0


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_fifty_officials_at_once_get_no_5xx_and_every_answered_completion_is_in_the_database_once(
    petition: Engine, db_url: str, tmp_path: Path
) -> None:
    engine = petition
    people: list[tuple[str, str, str]] = []  # (username, kind, org unit)
    for c in range(COMMITTEES):
        unit = f"load_c{c}"
        engine.add_org_unit(unit, f"负载测试{c}号居委会", "committee", "wlq", "residents")
        for k in range(4):
            engine.add_user(f"rc_{c}_{k}", PASSWORD, [("residents_committee", unit)])
            people.append((f"rc_{c}_{k}", "committee", unit))
    for k in range(OFFICIALS - len(people)):
        engine.add_user(f"so_{k}", PASSWORD, [("subdistrict_office", "wlq")])
        people.append((f"so_{k}", "subdistrict", "wlq"))
    assert len(people) == OFFICIALS

    ledger = Ledger()
    with serving(db_url, tmp_path / "api.log", workers=4) as server:
        tokens = [server.token(username) for username, _kind, _unit in people]
        until = time.monotonic() + SECONDS
        threads = [
            threading.Thread(target=official, args=(server, token, kind, unit, ledger, until, SEED + n), daemon=True)
            for n, (token, (_username, kind, unit)) in enumerate(zip(tokens, people, strict=True))
        ]
        started = time.monotonic()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(SECONDS + 300)
        elapsed = time.monotonic() - started
        assert not any(thread.is_alive() for thread in threads), "an official's client hung"

    statuses = Counter(status for _kind, status, _seconds in ledger.requests)
    assert not [s for s in statuses if not isinstance(s, int) or s >= 500], statuses  # no 5xx, nothing lost

    # The clients' 200s are exactly the database's completions: none lost, none twice.
    answered = {task_id for task_id, seen in ledger.completions.items() if 200 in seen}
    for task_id, seen in ledger.completions.items():
        assert seen.count(200) <= 1 and set(seen) <= {200, 409}, (task_id, seen)
    with engine.reading() as session:
        in_database = Counter(
            row["task_id"]
            for row in session.execute(select(AuditEvent.data).where(AuditEvent.action == "task_completed")).scalars()
        )
    assert set(in_database) == answered
    assert set(in_database.values()) <= {1}
    assert engine.verify_audit().ok

    latencies = [seconds for _kind, _status, seconds in ledger.requests]
    figures = {
        "seconds": round(elapsed, 1),
        "officials": OFFICIALS,
        "gunicorn_workers": 4,
        "requests": len(ledger.requests),
        "requests_per_second": round(len(ledger.requests) / elapsed, 1),
        "statuses": {str(k): v for k, v in sorted(statuses.items(), key=str)},
        "completions_200": len(answered),
        "completions_409_lost_races": sum(seen.count(409) for seen in ledger.completions.values()),
        "p50_ms": round(percentile(latencies, 0.50) * 1000),
        "p95_ms": round(percentile(latencies, 0.95) * 1000),
        "p99_ms": round(percentile(latencies, 0.99) * 1000),
    }
    for kind in ("inbox", "start", "complete"):
        mine = [seconds for k, _status, seconds in ledger.requests if k == kind]
        figures[f"{kind}_p99_ms"] = round(percentile(mine, 0.99) * 1000)
    print(f"\nload: {figures}")
    record("load", f"{int(SECONDS)}s", figures)
    assert figures["completions_200"] > 0 and figures["requests"] > OFFICIALS
