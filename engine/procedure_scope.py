"""The command a procedure's scripts run in: registry writes from BPMN join that command's transaction.

A script task calling `record_legal_person_change(...)` or `publish_assist_matter(...)` runs inside the
engine command that moved the instance (start, complete, fire a timer, deliver a message); the scope
hands the helper that command's session, instance and audit log, so the registry row, the instance
state and the audit events commit together or not at all.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

from sqlalchemy.orm import Session, SessionTransaction

from engine.audit import AuditLog
from engine.errors import RuleBroken
from engine.models import ProcessInstance


@dataclass(frozen=True)
class ProcedureScope:
    session: Session
    instance: ProcessInstance
    audit: AuditLog


_current: ContextVar[ProcedureScope | None] = ContextVar("govflow_procedure_scope", default=None)


@contextmanager
def procedure_scope(session: Session, instance: ProcessInstance, audit: AuditLog) -> Iterator[ProcedureScope]:
    scope = ProcedureScope(session, instance, audit)
    token = _current.set(scope)
    try:
        yield scope
    finally:
        _current.reset(token)


def current_scope(what: str) -> ProcedureScope:
    scope = _current.get()
    if scope is None:
        raise RuleBroken(f"{what} writes a registry and can only run inside a procedure's step.")
    return scope


def active_session() -> Session | None:
    """The running command's session, when a procedure step is being run (reads see its own writes)."""
    scope = _current.get()
    return scope.session if scope else None


# --- a script's registry writes stand or fall with the script ---------------------------------------


@dataclass
class _ScriptFrame:
    savepoint: SessionTransaction | None = None


_script: ContextVar[_ScriptFrame | None] = ContextVar("govflow_script_frame", default=None)


@contextmanager
def script_writes() -> Iterator[None]:
    """Around one script task: if it fails after a registry write, the write is undone with it.

    The instance records the failed step and an admin retries it; without this, the retried script
    would write the registry entry a second time. The savepoint is opened only by the first write.
    """
    frame = _ScriptFrame()
    token = _script.set(frame)
    try:
        yield
    except BaseException:
        if frame.savepoint is not None and frame.savepoint.is_active:
            frame.savepoint.rollback()
        raise
    else:
        if frame.savepoint is not None and frame.savepoint.is_active:
            frame.savepoint.commit()
    finally:
        _script.reset(token)


def before_registry_write(session: Session) -> None:
    """Called by every registry write: the first one in a script opens the script's savepoint."""
    frame = _script.get()
    if frame is not None and frame.savepoint is None:
        frame.savepoint = session.begin_nested()
