"""The auditor workspace's commands: saved searches, signed case exports, retention and the purge.

Auditors change nothing of a case: what they write here is their own saved searches. Retention is a
city admin's setting; the purge that applies it keeps "audit rows are never updated or deleted" honest
in the one way the database allows: it first writes a tombstone per purged instance (every row hash of
its chain) and an `instances_purged` event on the system chain naming each tombstone, and only then
removes the instance's rows, in one transaction (engine/migrations/versions/0006_audit.py).

While a retention is set, one `job` row (kind `retention_purge`) makes `govflow worker` purge once a day:
workers claim it like any due job, so however many run, one of them purges and moves it a day on.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from engine import case_file, signing, waits
from engine.audit import PURGE_ACTION, AuditLog, hashes_digest
from engine.commands.base import ENDED, EngineBase
from engine.commands.calendar import _require_city_admin
from engine.commands.queries import require_reader
from engine.errors import NotFound, RuleBroken
from engine.models import (
    AuditEvent,
    AuditTombstone,
    EngineSetting,
    HumanTask,
    Job,
    MessageSubscription,
    ProcessInstance,
    SavedSearch,
    TaskComment,
    TaskCopy,
    WorkflowTask,
    utcnow,
)
from engine.principal import Principal
from engine.roles import ADMIN

RETENTION_KEY = "retention.finished_instance_days"
# What a saved search may hold: the instance search's filters (engine.Queries.list_instances).
SEARCH_FILTERS = frozenset(
    {"process_key", "status", "org_unit", "q", "started_from", "started_to", "actor", "missed_deadline"}
)
MAX_SAVED_SEARCHES = 50
PURGE_BATCH = 200  # instances per purge transaction (one system event lists them all)
PURGE_JOB_ID = "retention-purge"
PURGE_EVERY = timedelta(days=1)
PURGE_JOB_LOCK = timedelta(hours=1)  # a purge's claim: no other worker starts the same day's purge meanwhile
# Rows that belong to an instance, removed by the purge before the instance row; children first.
INSTANCE_ROWS = (TaskCopy, TaskComment, HumanTask, WorkflowTask, Job, MessageSubscription)


def _saved_view(row: SavedSearch) -> dict:
    return {"id": row.id, "name": row.name, "filters": row.filters, "created_at": row.created_at.isoformat()}


class AuditCommands(EngineBase):
    # --- saved searches ------------------------------------------------------------------------

    def saved_searches(self, by: Principal) -> list[dict]:
        """The caller's own saved searches, by name."""
        require_reader(by)
        with self.reading() as session:
            rows = session.execute(
                select(SavedSearch).where(SavedSearch.username == by.username).order_by(SavedSearch.name)
            ).scalars()
            return [_saved_view(r) for r in rows]

    def save_search(self, by: Principal, name: str, filters: dict) -> dict:
        """Save (or replace, under the same name) one of the caller's searches."""
        require_reader(by)
        if by.is_system:
            raise RuleBroken("Saved searches belong to a person, not to the system.", code="search_needs_person")
        name = (name or "").strip()
        if not name or len(name) > 100:
            raise RuleBroken("A saved search needs a name of 1 to 100 characters.", code="search_name")
        if not isinstance(filters, dict):
            raise RuleBroken("filters must be a JSON object.", code="search_filters")
        unknown = sorted(set(filters) - SEARCH_FILTERS)
        if unknown:
            raise RuleBroken(
                f"A saved search cannot hold {', '.join(unknown)}; it holds {', '.join(sorted(SEARCH_FILTERS))}.",
                code="search_filters",
            )
        kept = {k: v for k, v in filters.items() if v not in (None, "")}
        if any(not isinstance(v, str | bool) or (isinstance(v, str) and len(v) > 200) for v in kept.values()):
            raise RuleBroken(
                "Each filter of a saved search is a text of at most 200 characters or true/false.",
                code="search_filters",
            )
        with self.transaction() as session:
            row = session.execute(
                select(SavedSearch).where(SavedSearch.username == by.username, SavedSearch.name == name)
            ).scalar_one_or_none()
            if row is None:
                count = session.execute(
                    select(func.count()).select_from(SavedSearch).where(SavedSearch.username == by.username)
                ).scalar_one()
                if count >= MAX_SAVED_SEARCHES:
                    raise RuleBroken(
                        f"At most {MAX_SAVED_SEARCHES} saved searches; delete one first.",
                        code="too_many_searches",
                        limit=MAX_SAVED_SEARCHES,
                    )
                row = SavedSearch(username=by.username, name=name, created_at=utcnow())
                session.add(row)
            row.filters = kept
            session.flush()
            return _saved_view(row)

    def delete_saved_search(self, by: Principal, search_id: int) -> None:
        require_reader(by)
        if not 1 <= search_id <= 2**31 - 1:  # an INTEGER column: a larger number is simply no row of yours
            raise NotFound(f"You have no saved search {search_id}.", code="no_saved_search")
        with self.transaction() as session:
            row = session.get(SavedSearch, search_id)
            if row is None or row.username != by.username:
                raise NotFound(f"You have no saved search {search_id}.", code="no_saved_search")
            session.delete(row)

    # --- signed exports --------------------------------------------------------------------------

    def export_key(self) -> signing.ExportKey:
        return signing.signing_key(self.settings)

    def export_public_key(self) -> dict:
        key = self.export_key()
        return {"algorithm": signing.ALGORITHM, "key_id": key.key_id, "public_key": key.public_key}

    def signed_export(self, instance_id: str, by: Principal, format: str = "json") -> bytes:
        """The whole case as a signed file (JSON or CSV) that `govflow audit verify-export` checks."""
        case = self.export_case(instance_id, by, format=format)
        if format == "csv":
            return case_file.signed_csv(case, self.export_key())
        return case_file.signed_json(case, self.export_key(), by.username, utcnow().isoformat())

    def sign_case_file(self, html: str) -> bytes:
        """Sign the printable case file (rendered by the workspace around `case_file.embedded_case`)."""
        return case_file.signed_html(html, self.export_key())

    # --- retention and the purge -----------------------------------------------------------------

    def retention(self) -> dict:
        """How long finished (completed or cancelled) instances are kept: days, or None for ever."""
        with self.reading() as session:
            row = session.get(EngineSetting, RETENTION_KEY)
            if row is None:
                return {"days": None, "changed_by": None, "changed_at": None}
            return {"days": row.value, "changed_by": row.changed_by, "changed_at": row.changed_at.isoformat()}

    def set_retention(self, by: Principal, days: int | None) -> dict:
        """Set the retention (city admins); audited on the system chain."""
        if days is not None and (isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= 36500):
            raise RuleBroken(
                "Retention is a number of days from 1 to 36500, or none (keep for ever).", code="bad_retention"
            )
        with self.transaction() as session:
            _require_city_admin(session, by, "change how long finished instances are kept")
            row = session.get(EngineSetting, RETENTION_KEY)
            before = row.value if row is not None else None
            if row is None:
                row = EngineSetting(key=RETENTION_KEY, changed_by=by.username)
                session.add(row)
            row.value, row.changed_by, row.changed_at = days, by.username, utcnow()
            AuditLog(session).append_system(
                by.actor(ADMIN), "setting_changed", RETENTION_KEY, {"from": before, "to": days}
            )
            _keep_purge_job(session, days)
        return self.retention()

    def schedule_retention_purge(self) -> None:
        """The daily purge job exists exactly while a retention is set (for a retention set before the job
        did, too): `govflow worker` calls this when it starts. Several workers starting at once write it once."""
        try:
            with self.transaction() as session:
                setting = session.get(EngineSetting, RETENTION_KEY)
                _keep_purge_job(session, setting.value if setting is not None else None)
        except IntegrityError:
            pass  # another worker wrote the row meanwhile

    def _run_purge_job(self, job_id: str, worker: str | None) -> str | None:
        """The daily purge, claimed by `worker`: purge what is due, then wait a day (None if taken meanwhile)."""
        with self.transaction() as session:
            row = waits.locked_job(session, job_id, self.dialect)
            if row is None or (worker is not None and row.locked_by != worker):
                return None
            row.locked_until = utcnow() + PURGE_JOB_LOCK
        result = self.purge_finished(Principal.system(worker or "worker"))
        with self.transaction() as session:
            row = waits.locked_job(session, job_id, self.dialect)
            if row is not None:
                now, due = utcnow(), row.due_at
                while due <= now:
                    due += PURGE_EVERY
                row.due_at, row.status, row.attempts = due, waits.WAITING, 0
                row.locked_by = row.locked_until = row.last_error = None
        if result["retention_days"] is None:
            return "retention not set: nothing purged"
        return f"purged {result['purged']} instances that ended before {result['cutoff']}"

    def purge_finished(self, by: Principal, now: datetime | None = None) -> dict:
        """Remove the instances that ended longer ago than the retention, leaving tombstones (city admins)."""
        now = now or utcnow()
        days = self.retention()["days"]
        with self.reading() as session:
            _require_city_admin(session, by, "purge finished instances")
        if days is None:
            return {"retention_days": None, "cutoff": None, "purged": 0, "instances": []}
        cutoff = now - timedelta(days=days)
        purged: list[dict] = []
        while True:
            batch = self._purge_batch(by, cutoff, days)
            purged.extend(batch)
            if len(batch) < PURGE_BATCH:
                break
        return {"retention_days": days, "cutoff": cutoff.isoformat(), "purged": len(purged), "instances": purged}

    def _purge_batch(self, by: Principal, cutoff: datetime, days: int) -> list[dict]:
        with self.transaction() as session:
            query = (
                select(ProcessInstance)
                .where(ProcessInstance.status.in_(sorted(ENDED)), ProcessInstance.ended_at < cutoff)
                .order_by(ProcessInstance.ended_at, ProcessInstance.id)
                .limit(PURGE_BATCH)
            )
            if self.dialect == "postgresql":
                query = query.with_for_update(skip_locked=True)
            instances = list(session.execute(query).scalars())
            if not instances:
                return []
            ids = [i.id for i in instances]
            hashes: dict[str, list[str]] = {i: [] for i in ids}
            for stream, row_hash in session.execute(
                select(AuditEvent.stream, AuditEvent.hash)
                .where(AuditEvent.stream.in_(ids))
                .order_by(AuditEvent.stream, AuditEvent.seq)
            ):
                hashes[stream].append(row_hash)
            listed = [
                {
                    "instance_id": i.id,
                    "process_key": i.process_key,
                    "business_key": i.business_key,
                    "org_unit": i.org_code,
                    "status": i.status,
                    "ended_at": i.ended_at.isoformat() if i.ended_at else None,
                    "events": len(hashes[i.id]),
                    "head_hash": i.audit_head,
                    "hashes_sha256": hashes_digest(hashes[i.id]),
                }
                for i in instances
            ]
            # The tombstone first, on the system chain: it outlives the rows it describes.
            event = AuditLog(session).append_system(
                by.actor(ADMIN),
                PURGE_ACTION,
                None,
                {"retention_days": days, "cutoff": cutoff.isoformat(), "instances": listed},
            )
            for instance in instances:
                session.add(_tombstone(instance, hashes[instance.id], by.username, event["seq"]))
            session.flush()
            for model in INSTANCE_ROWS:
                session.execute(delete(model).where(model.instance_id.in_(ids)))
            session.execute(delete(AuditEvent).where(AuditEvent.stream.in_(ids)))
            for instance in instances:
                self.live.forget(instance.id)
                session.delete(instance)
            return listed

    def tombstones(self, by: Principal, limit: int = 100) -> list[dict]:
        """The most recent purges' tombstones (auditors and admins)."""
        require_reader(by)
        with self.reading() as session:
            rows = session.execute(
                select(AuditTombstone).order_by(AuditTombstone.purged_at.desc()).limit(limit)
            ).scalars()
            return [_tombstone_view(r) for r in rows]


def _keep_purge_job(session: Session, days: int | None) -> None:
    """The purge job while a retention is set, due now when it is new; no job once instances are kept for ever."""
    row = session.get(Job, PURGE_JOB_ID)
    if days is None:
        if row is not None:
            session.delete(row)
        return
    if row is None:
        now = utcnow()
        session.add(
            Job(
                id=PURGE_JOB_ID,
                kind=waits.RETENTION_PURGE,
                element_id="retention",
                status=waits.WAITING,
                due_at=now,
                attempts=0,
                payload={"name": "每日清理超过保存期限的已结束案件"},
                created_at=now,
            )
        )
        session.flush()


def _tombstone(instance: ProcessInstance, hashes: list[str], by: str, purge_seq: int) -> AuditTombstone:
    return AuditTombstone(
        stream=instance.id,
        process_key=instance.process_key,
        process_version=instance.process_version,
        business_key=instance.business_key,
        org_code=instance.org_code,
        status=instance.status,
        started_at=instance.started_at,
        ended_at=instance.ended_at,
        first_seq=1,
        last_seq=len(hashes),
        head_hash=instance.audit_head,
        hashes=hashes,
        purged_at=utcnow(),
        purged_by=by,
        purge_seq=purge_seq,
    )


def _tombstone_view(row: AuditTombstone) -> dict[str, Any]:
    return {
        "instance_id": row.stream,
        "process_key": row.process_key,
        "business_key": row.business_key,
        "org_unit": row.org_code,
        "status": row.status,
        "ended_at": row.ended_at.isoformat() if row.ended_at else None,
        "events": row.last_seq - row.first_seq + 1,
        "head_hash": row.head_hash,
        "purged_at": row.purged_at.isoformat(),
        "purged_by": row.purged_by,
    }
