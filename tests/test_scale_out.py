"""Several API processes and several workers on one PostgreSQL behave as one engine.

Two `govflow serve` processes start 200 cases, each waiting seven days for its publication period; two
`govflow worker` processes run eight days ahead (GOVFLOW_CLOCK_OFFSET) and share the due timers. One
worker is killed (SIGKILL) in the middle of its batch: its claims run out after GOVFLOW_JOB_LOCK_SECONDS
and the other worker takes them. Every timer fires exactly once: one `timer_fired` audit event per case.
"""

from __future__ import annotations

import signal
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from sqlalchemy import func, select

from engine import Engine
from engine.models import AuditEvent, HumanTask, Job
from tests.conftest import DATA
from tests.serving import serving
from tests.test_worker import worker_process

CASES = 200


@pytest.mark.postgres
@pytest.mark.slow
@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_two_workers_and_two_servers_fire_200_timers_exactly_once_though_one_worker_is_killed(
    org: Engine, db_url: str, tmp_path: Path
) -> None:
    engine = org
    engine.deploy({"timer_wait.bpmn": (DATA / "engine" / "timer_wait.bpmn").read_bytes()})
    with (
        serving(db_url, tmp_path / "api-1.log", workers=1) as first,
        serving(db_url, tmp_path / "api-2.log", workers=1) as second,
    ):
        servers = [first, second]
        tokens = [s.token("wang") for s in servers]

        def start(number: int) -> str:
            import httpx

            server, token = servers[number % 2], tokens[number % 2]
            response = httpx.post(
                f"{server.url}/api/v1/process-instances",
                json={"process_key": "publicity_wait", "org_unit": "qiaoyi", "business_key": f"PUB-{number}"},
                headers={"Authorization": f"Bearer {token}"},
                timeout=30,
            )
            assert response.status_code == 201, response.text
            return response.json()["id"]

        with ThreadPoolExecutor(4) as pool:
            ids = list(pool.map(start, range(CASES)))
    assert len(set(ids)) == CASES
    with engine.reading() as session:
        assert session.execute(select(func.count()).select_from(Job)).scalar_one() == CASES

    args, env = ("--batch", "25", "--poll", "0.2"), {"GOVFLOW_JOB_LOCK_SECONDS": "3"}
    doomed = worker_process(db_url, tmp_path / "worker-a.log", *args, "--name", "worker-a", env=env)
    survivor = worker_process(db_url, tmp_path / "worker-b.log", *args, "--name", "worker-b", env=env)
    try:
        deadline = time.monotonic() + 60
        while (tmp_path / "worker-a.log").read_text().count(" done, ") < 3:  # in the middle of its first batch
            assert doomed.poll() is None and time.monotonic() < deadline, (tmp_path / "worker-a.log").read_text()
            time.sleep(0.02)
        doomed.send_signal(signal.SIGKILL)
        doomed.wait(10)
        deadline = time.monotonic() + 180
        while _cases_moved_on(engine) < CASES:
            assert survivor.poll() is None, (tmp_path / "worker-b.log").read_text()[-3000:]
            assert time.monotonic() < deadline, f"{_cases_moved_on(engine)} of {CASES} cases moved on"
            time.sleep(0.5)
    finally:
        survivor.send_signal(signal.SIGTERM)
        assert survivor.wait(30) == 0
        if doomed.poll() is None:
            doomed.kill()

    with engine.reading() as session:
        fired = Counter(
            session.execute(select(AuditEvent.instance_id).where(AuditEvent.action == "timer_fired")).scalars()
        )
        assert session.execute(select(func.count()).select_from(Job)).scalar_one() == 0
    assert sorted(fired) == sorted(ids) and set(fired.values()) == {1}  # each timer fired exactly once
    log_a, log_b = (tmp_path / "worker-a.log").read_text(), (tmp_path / "worker-b.log").read_text()
    assert log_a.count(" done, ") >= 3 and log_b.count(" done, ") > 0 and "Traceback" not in log_b
    # a job worker-a committed just before it was killed may have missed its log line
    assert CASES - 1 <= log_a.count(" done, ") + log_b.count(" done, ") <= CASES
    assert engine.verify_audit().ok


def _cases_moved_on(engine: Engine) -> int:
    with engine.reading() as session:
        query = select(func.count()).select_from(HumanTask).where(HumanTask.element_id == "close_publicity")
        return session.execute(query).scalar_one()
