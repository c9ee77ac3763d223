"""`govflow worker` as a process: runs due jobs, logs a line per job, stops cleanly on SIGTERM; a stopping
worker finishes the job in hand and gives the rest of its batch back."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from contextlib import suppress
from datetime import timedelta
from pathlib import Path
from select import select as wait_for_input

import pytest
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.engine import make_url

from engine import Engine
from engine.config import Settings
from engine.db import normalize_url
from engine.errors import DatabaseUnavailable
from engine.models import AuditEvent, Job
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


class HeldLog:
    """A worker's log as a pipe the test can fill: while it is full the worker cannot write its next line,
    so it stops right after the job that line is about (a job commits before it is logged)."""

    def __init__(self) -> None:
        self.read_end, self.write_end = os.pipe()
        # A second way in of the test's own, non-blocking, to fill the pipe (the worker's stays blocking).
        self.filler = os.open(f"/proc/self/fd/{self.write_end}", os.O_WRONLY | os.O_NONBLOCK)
        self.text = b""

    def read_line(self, timeout: float = 60) -> str:
        deadline = time.monotonic() + timeout
        while b"\n" not in self.text:
            assert time.monotonic() < deadline, self.text.decode(errors="replace")
            if wait_for_input([self.read_end], [], [], 1)[0]:
                chunk = os.read(self.read_end, 65536)
                assert chunk, f"the worker closed its log: {self.text.decode(errors='replace')}"
                self.text += chunk
        line, self.text = self.text.split(b"\n", 1)
        return line.decode()

    def fill(self) -> None:
        with suppress(BlockingIOError):
            while True:
                os.write(self.filler, b"\0" * 4096)

    def drain(self) -> str:
        """Everything written until the worker exits, without the filling."""
        os.close(self.filler)
        while chunk := os.read(self.read_end, 65536):
            self.text += chunk
        os.close(self.read_end)
        return self.text.replace(b"\0", b"").decode()


def timer_fired_count(engine: Engine) -> int:
    with engine.reading() as session:
        query = select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "timer_fired")
        return session.execute(query).scalar_one()


@pytest.mark.slow
def test_sigterm_lets_the_worker_finish_its_job_and_give_back_the_rest_of_its_batch_at_once(
    engine: Engine, db_url: str
) -> None:
    ids = start_publications(engine, 30)
    log = HeldLog()
    env = os.environ | {"GOVFLOW_DATABASE_URL": db_url, "GOVFLOW_CLOCK_OFFSET": "P8D", "PYTHONPATH": str(ROOT)}
    worker = subprocess.Popen(
        [sys.executable, "-m", "engine.cli", "worker", "--batch", "30", "--name", "worker-t"],
        cwd=ROOT,
        env=env,
        stdout=log.write_end,
        stderr=log.write_end,
    )
    os.close(log.write_end)
    try:
        assert "worker-t started (batch 30" in log.read_line()
        log.fill()  # the worker claims the 30 due jobs, runs the first and then waits to log it
        deadline = time.monotonic() + 60
        while timer_fired_count(engine) == 0:
            assert worker.poll() is None and time.monotonic() < deadline
            time.sleep(0.05)
        worker.send_signal(signal.SIGTERM)
        text = log.drain()
        assert worker.wait(30) == 0, text
    finally:
        if worker.poll() is None:
            worker.kill()
    stopped = re.search(r"worker-t stopped after (\d+) jobs", text)
    assert stopped, text
    done = int(stopped[1])
    assert 1 <= done < 30 and text.count(" done, ") == done and "Traceback" not in text
    assert timer_fired_count(engine) == done
    with engine.reading() as session:
        left = session.execute(select(Job).where(Job.instance_id.in_(ids))).scalars().all()
    # given back, not left to run out after GOVFLOW_JOB_LOCK_SECONDS
    assert len(left) == 30 - done and all(j.locked_by is None and j.locked_until is None for j in left)

    rest = subprocess.run(
        [sys.executable, "-m", "engine.cli", "worker", "--once", "--batch", "30"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert rest.returncode == 0 and rest.stderr.count(" done, ") == 30 - done, rest.stderr
    with engine.reading() as session:
        fired_per_case = Counter(
            session.execute(select(AuditEvent.instance_id).where(AuditEvent.action == "timer_fired")).scalars()
        )
    assert sorted(fired_per_case) == sorted(ids) and set(fired_per_case.values()) == {1}


@pytest.mark.postgres
@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_a_worker_skips_a_job_row_another_transaction_holds_and_claims_the_other_due_jobs_at_once(
    engine: Engine, db_url: str, clock, tmp_path: Path
) -> None:
    ids = start_publications(engine, 3)
    clock.advance(timedelta(days=8))
    with engine.reading() as session:
        held = session.execute(select(Job.id).where(Job.instance_id == ids[0])).scalar_one()
    # A worker whose statements give up after half a second of waiting for a lock, instead of hanging.
    impatient_url = make_url(db_url).update_query_dict({"options": "-c lock_timeout=500"})
    impatient = Engine(
        Settings(database_url=impatient_url.render_as_string(hide_password=False), data_dir=str(tmp_path))
    )
    holder = create_engine(normalize_url(db_url))
    try:
        with holder.connect() as other, other.begin():
            other.execute(text("SELECT id FROM job WHERE id = :id FOR UPDATE"), {"id": held})
            claimed = impatient.claim_jobs("worker-b", 10)
            assert sorted(j.instance_id for j in claimed) == sorted(ids[1:])  # all but the held one, no wait
            # Without SKIP LOCKED the same rows would have made it wait, and fail, on the held one.
            with pytest.raises(DatabaseUnavailable, match="lock timeout"), impatient.reading() as session:
                session.execute(text("SELECT id FROM job FOR UPDATE")).all()
        [taken] = impatient.claim_jobs("worker-b", 10)  # released: it is claimed now, and only it
        assert taken.id == held
    finally:
        impatient.close()
        holder.dispose()


@pytest.mark.slow
def test_jobs_run_now_from_the_shell_is_the_operators_and_refused_to_an_official_who_is_not_an_admin(
    engine: Engine, db_url: str
) -> None:
    [case] = start_publications(engine, 1)
    [job] = engine.waiting_jobs(case, by=who(engine, "wang"))
    refused = govflow(db_url, "jobs", "run-now", job["id"], "--user", "wang")
    assert refused.returncode == 1 and refused.stderr == "govflow: Only an admin may run a job by hand.\n"
    unknown = govflow(db_url, "jobs", "run-now", job["id"], "--user", "nobody")
    assert unknown.returncode == 1 and "nobody" in unknown.stderr and "Traceback" not in unknown.stderr
    [still] = engine.waiting_jobs(case, by=who(engine, "wang"))
    assert still["attempts"] == 0 and engine.get_instance(case)["tasks"] == []

    ran = govflow(db_url, "--json", "jobs", "run-now", job["id"])  # the operator at the server's shell
    assert ran.returncode == 0, ran.stderr
    assert json.loads(ran.stdout)["status"] == "done"
    [executed] = [e for e in engine.history(case) if e["action"] == "job_executed"]
    assert (executed["actor"]["username"], executed["actor"]["role"]) == ("cli", "system")
    assert [t["element_id"] for t in engine.get_instance(case)["tasks"]] == ["close_publicity"]
