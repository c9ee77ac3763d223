"""`govflow worker` as a process: runs due jobs, logs a line per job, stops cleanly on SIGTERM; a stopping
worker finishes the job in hand and gives the rest of its batch back."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import text

from engine import Engine
from engine.worker import run_due
from tests.conftest import DATA, ROOT, who
from tests.test_cli import govflow

pytestmark = pytest.mark.usefixtures("org")


def worker_process(
    db_url: str, log: Path, *args: str, offset: str = "P8D", env: dict[str, str] | None = None
) -> subprocess.Popen:
    """`govflow worker ARGS` with its clock `offset` ahead of the real time (no test waits for days)."""
    with log.open("wb") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "engine.cli", "worker", *args],
            cwd=ROOT,
            env=os.environ
            | {"GOVFLOW_DATABASE_URL": db_url, "GOVFLOW_CLOCK_OFFSET": offset, "PYTHONPATH": str(ROOT)}
            | (env or {}),
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def start_publications(engine: Engine, count: int) -> list[str]:
    engine.deploy({"timer_wait.bpmn": (DATA / "engine" / "timer_wait.bpmn").read_bytes()})
    return [engine.start("publicity_wait", "qiaoyi", by=who(engine, "wang"))["id"] for _ in range(count)]


@pytest.mark.slow
def test_govflow_worker_once_fires_the_timers_due_by_its_clock_and_logs_each(
    engine: Engine, db_url: str, tmp_path: Path
) -> None:
    ids = start_publications(engine, 3)
    log = tmp_path / "worker.log"
    early = worker_process(db_url, log, "--once", offset="P6D")  # six days on: nothing is due yet
    assert early.wait(60) == 0
    assert all(engine.get_instance(i)["tasks"] == [] for i in ids)
    listed = govflow(db_url, "--json", "jobs", "list")
    assert listed.returncode == 0, listed.stderr
    jobs = json.loads(listed.stdout)["items"]
    assert len(jobs) == 3 and {j["status"] for j in jobs} == {"waiting"}
    first = next(j for j in jobs if j["instance_id"] == ids[0])
    ran = govflow(db_url, "--json", "jobs", "run-now", first["id"], "--user", "admin")
    assert ran.returncode == 0 and json.loads(ran.stdout)["status"] == "done", ran.stderr
    executed = [e for e in engine.history(ids[0]) if e["action"] == "job_executed"]
    assert executed[0]["actor"]["username"] == "admin"
    assert govflow(db_url, "jobs", "run-now", "no-such-job").stderr.startswith("govflow: There is no job")

    late = worker_process(db_url, log, "--once", "--batch", "2")  # eight days on: the other two are due
    assert late.wait(60) == 0, log.read_text()
    text = log.read_text()
    assert text.count(" done, ") == 2 and "Traceback" not in text
    assert all([t["element_id"] for t in engine.get_instance(i)["tasks"]] == ["close_publicity"] for i in ids)


@pytest.mark.slow
def test_govflow_worker_stops_cleanly_on_sigterm(db_url: str, tmp_path: Path) -> None:
    log = tmp_path / "worker.log"
    process = worker_process(db_url, log, "--poll", "0.2")
    deadline = time.monotonic() + 30
    while "started" not in log.read_text():
        assert process.poll() is None and time.monotonic() < deadline, log.read_text()
        time.sleep(0.1)
    process.send_signal(signal.SIGTERM)
    assert process.wait(20) == 0
    assert "stopped after 0 jobs" in log.read_text()


@pytest.mark.slow
def test_govflow_worker_purges_the_cases_finished_before_the_retention(
    petition: Engine, db_url: str, tmp_path: Path
) -> None:
    from tests.test_audit_workspace import ended_long_ago, reviewed_petition

    old, recent = reviewed_petition(petition, "YT-OLD"), reviewed_petition(petition, "YT-RECENT")
    ended_long_ago(petition, old["id"])
    petition.set_retention(who(petition, "admin"), 365)
    with petition.transaction() as session:  # set before the daily purge job existed: the worker adds it
        session.execute(text("DELETE FROM job"))
    log = tmp_path / "worker.log"
    assert worker_process(db_url, log, "--once", offset="PT0S").wait(60) == 0, log.read_text()
    assert "retention_purge retention-purge" in log.read_text() and "purged 1 instances" in log.read_text()
    assert [i["id"] for i in petition.list_instances(who(petition, "auditor"))["items"]] == [recent["id"]]
    [job] = petition.list_jobs(who(petition, "admin"))
    assert job["kind"] == "retention_purge" and job["attempts"] == 0  # due again tomorrow


def test_a_stopping_worker_finishes_the_job_in_hand_and_gives_back_the_rest(engine: Engine, clock) -> None:
    ids = start_publications(engine, 3)
    clock.advance(timedelta(days=8))
    calls = iter([False, True, True])
    outcomes = run_due(engine, "stopping-worker", batch=10, stopping=lambda: next(calls))
    assert len(outcomes) == 1 and outcomes[0].result == "done"
    left = [j for i in ids for j in engine.waiting_jobs(i, by=who(engine, "wang"))]
    assert len(left) == 2 and all(j["locked_by"] is None for j in left)  # another worker may take them now
    assert len(run_due(engine, "next-worker", batch=10)) == 2


def test_the_jobs_of_a_worker_that_died_go_to_another_once_its_claim_runs_out(engine: Engine, clock) -> None:
    ids = start_publications(engine, 2)
    clock.advance(timedelta(days=8))
    claimed = engine.claim_jobs("dead-worker", 10)
    assert len(claimed) == 2
    assert engine.claim_jobs("live-worker", 10) == []  # claimed: nobody else runs them meanwhile
    clock.advance(timedelta(seconds=engine.settings.job_lock_seconds + 1))
    taken = engine.claim_jobs("live-worker", 10)
    assert sorted(j.instance_id for j in taken) == sorted(ids)
    assert [engine.run_job(j, "live-worker").result for j in taken] == ["done", "done"]
    # the dead worker, had it come back, finds its claims gone and does nothing twice
    assert [engine.run_job(j, "dead-worker").result for j in claimed] == ["skipped", "skipped"]
    assert all(len([e for e in engine.history(i) if e["action"] == "timer_fired"]) == 1 for i in ids)
