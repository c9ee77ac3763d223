"""Jobs: claiming due ones (the worker), running each as one command, retries, incidents, "run now".

A job runs in one transaction under its instance's row lock: the instance is loaded, the timer fires
(or the message is delivered, or the timer start event starts its instances), the instance runs to its
next wait state and is saved with its next jobs. A job that fails is rolled back, then tried again
after a back-off (`Settings.job_backoff` x 4^(attempt-1) seconds); after `Settings.job_max_attempts`
it is an incident on its instance until an admin retries it (POST .../retry, or "run now") or cancels
the instance.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from engine import reach, views, waits
from engine.audit import ENGINE_ACTOR, AuditLog, lock_system_stream
from engine.commands.auditing import AuditCommands
from engine.commands.base import RUNNING
from engine.commands.messages import MessageCommands
from engine.commands.start_timers import StartTimerCommands
from engine.errors import Conflict, GovflowError, NotAllowed, NotFound, unexpected
from engine.models import Job, ProcessInstance, utcnow
from engine.principal import Principal
from engine.roles import ADMIN
from engine.spiff import timer_events
from engine.waits import INCIDENT, MESSAGE, RETENTION_PURGE, RETRYING, START_TIMER, TIMER, WAITING

ERROR_LIMIT = 2000


@dataclass(frozen=True)
class ClaimedJob:
    id: str
    instance_id: str | None
    kind: str
    element_id: str
    due_at: datetime


@dataclass(frozen=True)
class JobOutcome:
    """What running one job did, for the worker's log line and the benchmark."""

    job: ClaimedJob
    result: str  # done, retrying, incident, skipped
    detail: str = ""

    @property
    def late(self) -> float:
        return (utcnow() - self.job.due_at).total_seconds()


class JobFailed(Exception):
    """The job's command failed; its transaction is rolled back and the failure is recorded instead."""

    def __init__(self, message: str, element_id: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.element_id = element_id


class JobCommands(MessageCommands, StartTimerCommands, AuditCommands):
    # --- reading ----------------------------------------------------------------------------------

    def waiting_jobs(self, instance_id: str, by: Principal) -> list[dict]:
        """The instance's jobs, soonest first: timers waiting, retries, incidents, messages on their way."""
        with self.reading() as session:
            instance = self._instance_in_reach(session, by, instance_id)
            rows = session.execute(
                select(Job).where(Job.instance_id == instance.id).order_by(Job.due_at, Job.id)
            ).scalars()
            return [views.job(r) for r in rows]

    def list_jobs(self, by: Principal, status: str | None = None, limit: int = 100) -> list[dict]:
        """Every job (admins): what the workers have ahead of them, or only the incidents."""
        if not by.is_system and not by.person.has_role(ADMIN):
            raise NotAllowed("Only admins may list every job.")
        with self.reading() as session:
            query = select(Job).order_by(Job.due_at, Job.id).limit(limit)
            if status:
                query = query.where(Job.status == status)
            rows = list(session.execute(query).scalars())
            if not by.is_system:
                paths = reach.reach_paths(session, by)
                keep = {
                    i
                    for (i,) in session.execute(
                        select(ProcessInstance.id).where(
                            ProcessInstance.id.in_([r.instance_id for r in rows if r.instance_id]),
                            reach.within(ProcessInstance.org_path, paths),
                        )
                    )
                }
                rows = [r for r in rows if r.instance_id is None or r.instance_id in keep]
            return [views.job(r) for r in rows]

    # --- the worker's side --------------------------------------------------------------------------

    def claim_jobs(self, worker: str, limit: int = 20) -> list[ClaimedJob]:
        """Lock up to `limit` due jobs for `worker` (soonest first) for `Settings.job_lock_seconds`.

        PostgreSQL: `FOR UPDATE SKIP LOCKED`, so workers never wait on each other's rows; SQLite has one
        writer at a time anyway. A claim that runs out (a killed worker) lets another worker take the job.
        """
        now = utcnow()
        with self.transaction() as session:
            query = (
                select(Job)
                .outerjoin(ProcessInstance, ProcessInstance.id == Job.instance_id)
                .where(
                    Job.status.in_([WAITING, RETRYING]),
                    Job.due_at <= now,
                    or_(Job.locked_until.is_(None), Job.locked_until < now),
                    # Timers wait while their instance is suspended or failed; messages and start timers don't.
                    or_(Job.kind != TIMER, ProcessInstance.status == RUNNING),
                )
                .order_by(Job.due_at, Job.id)
                .limit(limit)
            )
            if self.dialect == "postgresql":
                query = query.with_for_update(of=Job, skip_locked=True)
            rows = list(session.execute(query).scalars())
            until = now + timedelta(seconds=self.settings.job_lock_seconds)
            for row in rows:
                row.locked_by, row.locked_until = worker, until
            return [ClaimedJob(r.id, r.instance_id, r.kind, r.element_id, r.due_at) for r in rows]

    def release_jobs(self, jobs: list[ClaimedJob], worker: str) -> None:
        """Give back claimed jobs not run (a worker stopping): another worker may take them at once."""
        if not jobs:
            return
        with self.transaction() as session:
            session.execute(
                update(Job)
                .where(Job.id.in_([j.id for j in jobs]), Job.locked_by == worker)
                .values(locked_by=None, locked_until=None)
            )

    def run_job(self, job: ClaimedJob, worker: str) -> JobOutcome:
        """Run one claimed job as a command; a failure is recorded on the job (retry or incident)."""
        try:
            detail = self._run_once(job, worker=worker, by=None)
        except JobFailed as failed:
            return self._record_failure(job, failed)
        if detail is None:
            return JobOutcome(job, "skipped", "done or taken meanwhile")
        return JobOutcome(job, "done", detail)

    # --- admins -----------------------------------------------------------------------------------

    def execute_job(self, instance_id: str, job_id: str, by: Principal | None = None) -> dict:
        """Run a job of the instance now (admins), whatever its due time or attempts; audited as theirs."""
        return self._execute(instance_id, job_id, by or Principal.system(), None)

    def _execute(self, instance_id: str, job_id: str, by: Principal, variables: dict | None) -> dict:
        with self.reading() as session:
            instance = session.get(ProcessInstance, instance_id)
            if instance is None:
                raise NotFound(f"There is no process instance {instance_id}.")
            if not reach.reaches(session, by, instance.org_path, {ADMIN}):
                raise NotAllowed("Only an admin may run a job by hand.")
            row = session.get(Job, job_id)
            if row is None or row.instance_id != instance_id:
                raise NotFound(f"There is no waiting job {job_id} in this instance.")
            if instance.status != RUNNING and row.kind == TIMER:
                raise Conflict(f"The instance is {instance.status}; its timers do not run.")
            before = views.job(row)
            claimed = ClaimedJob(row.id, row.instance_id, row.kind, row.element_id, row.due_at)
        try:
            self._run_once(claimed, worker=None, by=by, variables=variables)
        except JobFailed as failed:
            outcome = self._record_failure(claimed, failed, by)
            with self.reading() as session:
                after = session.get(Job, job_id)
                return (views.job(after) if after else before) | {"status": outcome.result}
        return before | {"status": "done", "attempts": before["attempts"] + 1, "last_error": None}

    def run_job_now(self, job_id: str, by: Principal | None = None) -> dict:
        """`govflow jobs run-now ID`: the job's instance found from the job."""
        with self.reading() as session:
            row = session.get(Job, job_id)
            if row is None:
                raise NotFound(f"There is no job {job_id}.")
            instance_id = row.instance_id
        by = by or Principal.system()
        if instance_id is not None:
            return self.execute_job(instance_id, job_id, by)
        if not by.is_system and not by.person.has_role(ADMIN):
            raise NotAllowed("Only an admin may run a job by hand.")
        with self.reading() as session:
            row = session.get(Job, job_id)
            claimed = ClaimedJob(row.id, None, row.kind, row.element_id, row.due_at)
        try:
            detail = self._run_once(claimed, worker=None, by=by)
        except JobFailed as failed:
            return {
                "id": job_id,
                "status": self._record_failure(claimed, failed, by).result,
                "detail": failed.message,
            }
        return {"id": job_id, "status": "done", "detail": detail}

    def retry(self, instance_id: str, by: Principal | None = None, variables: dict | None = None) -> dict:
        """Retry a failed instance, or the incidents of one: each job runs again now, attempts from zero."""
        by = by or Principal.system()
        with self.reading() as session:
            stuck = list(
                session.execute(
                    select(Job.id).where(Job.instance_id == instance_id, Job.status.in_([INCIDENT, RETRYING]))
                ).scalars()
            )
            instance = session.get(ProcessInstance, instance_id)
        if not stuck or instance is None or instance.status == "failed":
            return super().retry(instance_id, by, variables)
        for job_id in stuck:
            self._rearm(instance_id, job_id, by, variables or {})
            self._execute(instance_id, job_id, by, variables)
        return self.get_instance(instance_id, by)

    def _rearm(self, instance_id: str, job_id: str, by: Principal, variables: dict) -> None:
        with self.live.instance_lock(instance_id), self.transaction() as session:
            instance = self._lock_instance(session, instance_id)
            if not reach.reaches(session, by, instance.org_path, {ADMIN}):
                raise NotAllowed("Only an admin may retry an instance.")
            row = session.get(Job, job_id)
            if row is None:
                return
            row.status, row.attempts, row.due_at, row.locked_by, row.locked_until = WAITING, 0, utcnow(), None, None
            AuditLog(session).append_instance(
                instance,
                by.actor(ADMIN, instance.org_code),
                "instance_retried",
                row.element_id,
                {"job_id": row.id, "kind": row.kind, "last_error": row.last_error, "variables": variables},
            )
            self._bump_cached_version(session, instance)

    # --- one job, one command -------------------------------------------------------------------------

    def _run_once(
        self, job: ClaimedJob, worker: str | None, by: Principal | None, variables: dict | None = None
    ) -> str | None:
        """Run the job in one transaction; None if it is gone or another worker holds it now."""
        try:
            if job.kind == TIMER:
                return self._run_timer(job, worker, by, variables)
            if job.kind == RETENTION_PURGE:
                return self._run_purge_job(job.id, worker)
            with self.transaction() as session:
                if job.kind == START_TIMER:
                    # A deploy holds the system audit chain, then moves start timers: take them in that order.
                    lock_system_stream(session, self.dialect)
                row = waits.locked_job(session, job.id, self.dialect)
                if row is None or (worker is not None and (row.locked_by != worker or row.status == INCIDENT)):
                    return None
                if by is not None:
                    self._record_by_hand(session, row, by)
                if job.kind == MESSAGE:
                    return self._deliver_thrown(session, row)
                return self._run_start_timer(session, row)
        except JobFailed:
            raise
        except GovflowError as exc:
            raise JobFailed(str(exc)) from exc
        except Exception as exc:  # noqa: BLE001 - any failure becomes a retry, then an incident
            raise JobFailed(unexpected(exc)) from exc

    def _record_by_hand(self, session: Session, row: Job, by: Principal) -> None:
        """An admin's "run now" of a thrown message (on its sender's chain) or of a timer start event (on
        the system chain), audited as theirs; a timer's is recorded on its case by `_run_timer`."""
        data = {"job_id": row.id, "kind": row.kind, "due_at": views.iso(row.due_at)}
        if row.instance_id is None:
            AuditLog(session).append_system(by.actor(ADMIN), "job_executed", row.element_id, data)
            return
        sender = self._lock_instance(session, row.instance_id)
        actor = by.actor(ADMIN, sender.org_code)
        AuditLog(session).append_instance(sender, actor, "job_executed", row.element_id, data)
        self._bump_cached_version(session, sender)

    def _run_timer(
        self, job: ClaimedJob, worker: str | None, by: Principal | None, variables: dict | None
    ) -> str | None:
        """Fire a timer: its instance locked, loaded, run to its next wait state and saved with its jobs."""
        with self.live.instance_lock(job.instance_id), self.transaction() as session:
            instance = self._lock_instance(session, job.instance_id)
            row = session.get(Job, job.id, populate_existing=True)
            if row is None or (worker is not None and row.locked_by != worker):
                return None  # fired meanwhile by a command on the instance, or taken by another worker
            if worker is not None and (row.status == INCIDENT or instance.status != RUNNING):
                row.locked_by = row.locked_until = None
                return None
            audit = AuditLog(session)
            if by is not None:
                audit.append_instance(
                    instance,
                    by.actor(ADMIN, instance.org_code),
                    "job_executed",
                    row.element_id,
                    {"job_id": row.id, "kind": row.kind, "due_at": views.iso(row.due_at)},
                )
            live = self.store.load(session, instance)
            # The worker lets SpiffWorkflow see the timer is due by the clock (a cycle keeps its rhythm);
            # an admin's "run now" makes it due.
            if by is not None and timer_events.fire_now(live.workflow, row.id) is None:
                raise NotFound(f"There is no waiting timer {row.id} in this instance.")
            if by is None:
                timer_events.due_at_last(live.workflow, row.id)
            if variables:  # an admin's fixes, for the steps after the timer
                timer_events.fire_with_data(live.workflow, row.id, variables)
            definition = self._definition(session, instance.definition_id)
            self._advance(session, instance, live, definition, audit)
            if instance.status == "failed":  # roll the whole run back; the failure is recorded instead
                error = instance.error or {}
                raise JobFailed(error.get("message") or "the instance failed", error.get("element_id"))
            session.flush()
            still = session.get(Job, job.id)
            if still is not None and still.locked_by == worker and worker is not None:
                # SpiffWorkflow fires only once the due time has passed: at the very instant, try again soon.
                still.locked_by = still.locked_until = None
                still.due_at = max(still.due_at, utcnow() + timedelta(seconds=1))
                return f"{row.element_id} not due yet"
            return f"fired {row.element_id}"

    def _record_failure(self, job: ClaimedJob, failed: JobFailed, by: Principal | None = None) -> JobOutcome:
        """Count the failed attempt; wait before the next one, or make the job an incident. An admin's
        run that failed is recorded as theirs (its own audit event was rolled back with it)."""
        message = failed.message[:ERROR_LIMIT]
        if failed.element_id and failed.element_id != job.element_id:
            message = f"{failed.element_id}: {message}"[:ERROR_LIMIT]
        if job.instance_id is None:
            return JobOutcome(job, self._record_start_timer_failure(job.id, message), message)
        with self.live.instance_lock(job.instance_id), self.transaction() as session:
            instance = self._lock_instance(session, job.instance_id)
            row = session.get(Job, job.id, populate_existing=True)
            if row is None:
                return JobOutcome(job, "skipped", "gone meanwhile")
            row.attempts += 1
            row.last_error = message
            row.locked_by = row.locked_until = None
            audit = AuditLog(session)
            actor = by.actor(ADMIN, instance.org_code) if by is not None else ENGINE_ACTOR
            data = {"job_id": row.id, "kind": row.kind, "attempt": row.attempts, "error": message}
            if row.attempts >= self.settings.job_max_attempts:
                row.status = INCIDENT
                audit.append_instance(instance, actor, "incident_raised", row.element_id, data)
            else:
                row.status = RETRYING
                row.due_at = waits.retry_at(self.settings.job_backoff, row.attempts)
                audit.append_instance(
                    instance, actor, "job_failed", row.element_id, data | {"retry_at": views.iso(row.due_at)}
                )
            instance.updated_at = utcnow()
            self._bump_cached_version(session, instance)
            return JobOutcome(job, "incident" if row.status == INCIDENT else "retrying", message)
