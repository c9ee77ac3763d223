"""Verifying the audit trail: at once for one case, in the background for everything in reach.

A city's 2.5 million audit events take a minute or more to replay (43-55 s on the bench machines, longer
on slower ones): longer than a page or a proxy waits for a request. So an auditor may ask for a
verification and come back for it. The request records the scope (one case, or the org paths the
requester reaches at that moment) and returns at once; `govflow worker` claims the oldest one asked for,
replays the chains in one snapshot, writes its progress every PROGRESS_ROWS events (which renews its
claim) and then the result. A worker killed mid-run leaves a claim that runs out after LEASE: the next
worker starts that verification again.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import or_, select, text, update
from sqlalchemy.orm import Session

from engine import reach
from engine.audit import Verification
from engine.audit import verify as verify_chains
from engine.commands.base import EngineBase
from engine.commands.queries import require_reader
from engine.errors import NotFound, unexpected
from engine.models import AuditVerification, ProcessInstance, utcnow
from engine.principal import Principal
from engine.views import iso

QUEUED, RUNNING, DONE, FAILED = "queued", "running", "done", "failed"
BATCH = 5000  # rows read at a time; after each batch the worker may stop and give the verification back
PROGRESS_ROWS = 50_000  # rows between two writes of the progress (each renews the claim)
LEASE = timedelta(minutes=5)  # a claim outlives PROGRESS_ROWS events many times over
BROKEN_KEPT = 1000  # a trail rewritten wholesale breaks at every row: the first thousand say enough
SHOWN_VERIFICATIONS = 10
VERIFIERS_ONLY = "Only auditors and admins may verify the audit trail."


class LostClaim(Exception):
    """Stop, write nothing more: another worker took the verification over (this one's claim ran out), or
    this worker gave it back."""


@dataclass(frozen=True)
class Scope:
    """What a verification replays: one case, the chains of the cases under `paths`, or (neither) all."""

    instance_id: str | None = None
    paths: list[str] | None = None

    def replay(self, session: Session, progress: Callable[[int], None] | None = None) -> Verification:
        """The chains' verification; `progress` hears the rows checked after every BATCH of them."""
        if self.instance_id is not None:
            return verify_chains(session, self.instance_id, batch=BATCH, progress=progress)
        within = None
        if self.paths is not None:
            within = select(ProcessInstance.id).where(reach.within(ProcessInstance.org_path, self.paths))
        return verify_chains(session, batch=BATCH, within=within, progress=progress)


class VerificationCommands(EngineBase):
    def verify(self, by: Principal, instance_id: str | None = None) -> dict:
        """Replay the hash chains (one instance, or all within reach) now: {ok, checked, broken}."""
        with self.reading() as session:
            return self._verification_scope(session, by, instance_id).replay(session).as_dict()

    def request_verification(self, by: Principal, instance_id: str | None = None) -> dict:
        """Ask `govflow worker` to replay the chains (one instance, or all within the caller's reach now)."""
        with self.transaction() as session:
            scope = self._verification_scope(session, by, instance_id)
            row = AuditVerification(
                id=str(uuid.uuid4()),
                requested_by=by.username,
                instance_id=scope.instance_id,
                paths=scope.paths,
                status=QUEUED,
                checked=0,
                broken=[],
                broken_total=0,
            )
            session.add(row)
            session.flush()
            return _view(row)

    def verification(self, by: Principal, verification_id: str) -> dict:
        """A verification the caller asked for, as far as it has gone."""
        require_reader(by, VERIFIERS_ONLY)
        with self.reading() as session:
            row = session.get(AuditVerification, verification_id)
            if row is None or not (by.is_system or row.requested_by == by.username):
                raise NotFound(
                    f"There is no verification {verification_id} of yours.", code="no_verification", id=verification_id
                )
            return _view(row)

    def verifications(self, by: Principal, limit: int = SHOWN_VERIFICATIONS) -> list[dict]:
        """The caller's latest verifications, newest first."""
        require_reader(by, VERIFIERS_ONLY)
        with self.reading() as session:
            rows = session.execute(
                select(AuditVerification)
                .where(AuditVerification.requested_by == by.username)
                .order_by(AuditVerification.requested_at.desc(), AuditVerification.id)
                .limit(max(1, min(limit, 100)))
            ).scalars()
            return [_view(row) for row in rows]

    # --- the worker's side --------------------------------------------------------------------------

    def run_next_verification(self, worker: str, stopping: Callable[[], bool] = lambda: False) -> dict | None:
        """Claim the oldest verification waiting (or one whose worker's claim ran out) and run it to its
        end; None when there is none, another worker took this one over meanwhile, or the worker is
        `stopping` (checked at each progress report: the verification is given back to be run anew)."""
        claimed = self._claim_verification(worker)
        if claimed is None:
            return None
        verification_id, scope = claimed

        written = 0

        def progress(checked: int) -> None:
            nonlocal written
            if stopping():
                self._renew_claim(verification_id, worker, {"status": QUEUED, "locked_by": None, "locked_until": None})
                raise LostClaim(verification_id)
            if checked - written >= PROGRESS_ROWS:
                self._renew_claim(verification_id, worker, {"checked": checked})
                written = checked

        try:
            with self.reading() as session:
                if self.dialect == "postgresql":
                    # One snapshot for the rows and the heads read after them: a case that moves on meanwhile
                    # must not look cut off. (SQLite's read transaction is one snapshot already.)
                    session.execute(text("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ"))
                result = scope.replay(session, progress)
        except LostClaim:
            return None
        except Exception as exc:  # noqa: BLE001 - the requester reads why, the worker goes on
            self._finish(verification_id, worker, {"status": FAILED, "error": unexpected(exc)})
        else:
            broken = [link.as_dict() for link in result.broken]
            self._finish(
                verification_id,
                worker,
                {
                    "status": DONE,
                    "ok": result.ok,
                    "checked": result.checked,
                    "broken": broken[:BROKEN_KEPT],
                    "broken_total": len(broken),
                },
            )
        with self.reading() as session:
            return _view(session.get(AuditVerification, verification_id))

    def _verification_scope(self, session: Session, by: Principal, instance_id: str | None) -> Scope:
        require_reader(by, VERIFIERS_ONLY)
        if instance_id is not None:
            self._readable_instance(session, instance_id, by)
            return Scope(instance_id=instance_id)
        if self._at_city(session, by):
            return Scope()
        return Scope(paths=reach.reach_paths(session, by))

    def _claim_verification(self, worker: str) -> tuple[str, Scope] | None:
        now = utcnow()
        with self.transaction() as session:
            query = (
                select(AuditVerification)
                .where(
                    or_(
                        AuditVerification.status == QUEUED,
                        (AuditVerification.status == RUNNING) & (AuditVerification.locked_until < now),
                    )
                )
                .order_by(AuditVerification.requested_at, AuditVerification.id)
                .limit(1)
            )
            if self.dialect == "postgresql":
                query = query.with_for_update(skip_locked=True)
            row = session.execute(query).scalars().first()
            if row is None:
                return None
            row.status, row.locked_by, row.locked_until = RUNNING, worker, now + LEASE
            row.started_at, row.checked = now, 0
            return row.id, Scope(row.instance_id, row.paths)

    def _renew_claim(self, verification_id: str, worker: str, values: dict) -> None:
        with self.transaction() as session:
            changed = session.execute(
                update(AuditVerification)
                .where(AuditVerification.id == verification_id, AuditVerification.locked_by == worker)
                .values({"locked_until": utcnow() + LEASE} | values)
            ).rowcount
        if changed != 1:
            raise LostClaim(verification_id)

    def _finish(self, verification_id: str, worker: str, values: dict) -> None:
        # Taken over meanwhile: the other worker runs it again and writes its own result.
        with suppress(LostClaim):
            self._renew_claim(
                verification_id, worker, values | {"finished_at": utcnow(), "locked_by": None, "locked_until": None}
            )


def _view(row: AuditVerification) -> dict:
    scope = "instance" if row.instance_id else ("everything" if row.paths is None else "reach")
    return {
        "id": row.id,
        "status": row.status,
        "scope": scope,
        "instance_id": row.instance_id,
        "requested_by": row.requested_by,
        "requested_at": iso(row.requested_at),
        "started_at": iso(row.started_at),
        "finished_at": iso(row.finished_at),
        "checked": row.checked,
        "ok": row.ok,
        "broken": row.broken or [],
        "broken_total": row.broken_total,
        "error": row.error,
    }
