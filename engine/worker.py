"""`govflow worker`: claims due jobs and runs each as a command, beside any number of API processes.

Several workers on one PostgreSQL share the work (claims use FOR UPDATE SKIP LOCKED; a job runs under its
instance's row lock and checks that the claim is still its own). Besides timers and messages, a worker runs
the daily purge of finished instances past the retention (one job row while a retention is set, see
engine/commands/auditing.py), so however many workers run, one of them purges each day. SIGTERM and
SIGINT let the job in hand finish, give the rest of the batch back and exit 0; a worker killed outright
leaves claims that run out after GOVFLOW_JOB_LOCK_SECONDS, and another worker takes those jobs then.

Verifications of the audit trail that auditors asked for (engine/commands/verifications.py) run on a thread
of their own, which also refreshes the statistics snapshots auditors read (engine/commands/statistics.py):
a city's verification takes a minute or more and its statistics tens of seconds; timers must not wait. A stopping worker
gives the verification in hand back at its next progress report, to be run anew by the next worker, and
cancels the statistics it is computing (engine/cancel.py), whose claim it gives back too.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import threading
import time
from collections.abc import Callable

from engine.commands.jobs import JobOutcome
from engine.core import Engine
from engine.errors import DatabaseUnavailable

log = logging.getLogger("govflow.worker")
STATISTICS_POLL = 30.0  # seconds between two looks for statistics snapshots to refresh


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def describe(outcome: JobOutcome, worker: str) -> str:
    """The worker's one log line for a job."""
    job = outcome.job
    where = f"instance {job.instance_id}" if job.instance_id else "its process"
    late = f"{outcome.late:.1f} s after due"
    return f"{worker} {job.kind} {job.id} ({job.element_id}, {where}) {outcome.result}, {late}: {outcome.detail}"


def run_due(engine: Engine, worker: str, batch: int = 20, stopping: Callable[[], bool] = lambda: False) -> list:
    """Claim one batch of due jobs and run them; the outcomes (empty when nothing was due)."""
    claimed = engine.claim_jobs(worker, batch)
    outcomes = []
    for index, job in enumerate(claimed):
        if stopping():
            engine.release_jobs(claimed[index:], worker)
            break
        outcome = engine.run_job(job, worker)
        log.info(describe(outcome, worker))
        outcomes.append(outcome)
    return outcomes


class Worker:
    """The loop: claim a batch, run it, sleep `poll` seconds when nothing is due; stop on a signal."""

    def __init__(self, engine: Engine, batch: int = 20, poll: float = 1.0, name: str | None = None) -> None:
        self.engine = engine
        self.batch = batch
        self.poll = poll
        self.name = name or worker_name()
        self._stop = threading.Event()

    def stop(self, *_: object) -> None:
        self._stop.set()

    def install_signal_handlers(self) -> None:
        signal.signal(signal.SIGTERM, self.stop)
        signal.signal(signal.SIGINT, self.stop)

    def run(self, once: bool = False) -> int:
        """Run until stopped (or, with `once`, until nothing is due); the number of jobs run."""
        log.info(
            "%s started (batch %d, poll %.1f s, database %s)", self.name, self.batch, self.poll, self.engine.dialect
        )
        done = 0
        reader = None
        if not once:
            reader = threading.Thread(target=self._background_reads, name=f"{self.name} reads", daemon=True)
            reader.start()
        try:
            self.engine.schedule_retention_purge()  # the daily purge, for a retention set before it existed
        except DatabaseUnavailable as exc:
            log.warning("%s: %s; the daily purge is scheduled when a retention is next set", self.name, exc)
        while not self._stop.is_set():
            try:
                outcomes = run_due(self.engine, self.name, self.batch, self._stop.is_set)
            except DatabaseUnavailable as exc:
                log.warning("%s: %s; trying again in %.1f s", self.name, exc, max(self.poll, 1.0))
                self._stop.wait(max(self.poll, 1.0))
                continue
            done += len(outcomes)
            if not outcomes:
                if once:
                    break
                self._stop.wait(self.poll)
        if reader is None:
            self._background_reads(until_none=True)
        else:
            reader.join()
        log.info("%s stopped after %d jobs", self.name, done)
        return done

    def _background_reads(self, until_none: bool = False) -> None:
        """Run the verifications asked for, one at a time, and keep read statistics fresh, until stopped
        (or, `until_none`, until neither has anything left)."""
        refreshed_at = 0.0
        while not self._stop.is_set():
            try:
                result = self.engine.run_next_verification(self.name, self._stop.is_set)
                refreshed = 0
                if result is None and time.monotonic() - refreshed_at >= STATISTICS_POLL:
                    refreshed = self.engine.refresh_statistics(self.name, self._stop.is_set)
                    refreshed_at = time.monotonic()
            except DatabaseUnavailable as exc:
                log.warning("%s background reads: %s; trying again in %.1f s", self.name, exc, max(self.poll, 1.0))
                self._stop.wait(max(self.poll, 1.0))
                continue
            except Exception:  # noqa: BLE001 - the thread must outlive one bad read: log it and go on
                log.exception("%s background reads failed; trying again in %.1f s", self.name, max(self.poll, 1.0))
                self._stop.wait(max(self.poll, 1.0))
                continue
            if refreshed:
                log.info("%s refreshed %d statistics snapshot(s)", self.name, refreshed)
            if result is None:
                if until_none:
                    return
                self._stop.wait(self.poll)
                continue
            log.info(
                "%s verification %s %s: %d rows checked, %d broken",
                self.name,
                result["id"],
                result["status"],
                result["checked"],
                result["broken_total"],
            )
