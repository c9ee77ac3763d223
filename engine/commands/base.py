"""The engine's plumbing: settings, database pools, caches, and one transaction per command."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from engine import people
from engine.config import Settings
from engine.db import dialect_name, make_session_factory, make_sql_engine, unavailable
from engine.errors import (
    NotFound,
    StaleInstance,
)
from engine.forms_registry import FormRegistry
from engine.models import (
    ProcessInstance,
)
from engine.principal import Principal
from engine.procedure_scope import script_writes
from engine.spiff.sandbox import SandboxedScriptEngine
from engine.store import InstanceStore, LiveCache, SpecCache

OPEN, COMPLETED, CANCELLED = "open", "completed", "cancelled"
RUNNING, FAILED, SUSPENDED = "running", "failed", "suspended"
ENDED = {"completed", "cancelled"}


class EngineBase:
    """Connections, caches and the transaction every command runs in."""

    def __init__(self, settings: Settings | None = None) -> None:
        self.settings = settings or Settings.from_env()
        self.dialect = dialect_name(self.settings.database_url)
        self.sql = make_sql_engine(self.settings.database_url, self.settings.sqlite_synchronous)
        self.sql_read = (
            make_sql_engine(self.settings.database_url, self.settings.sqlite_synchronous, readonly=True)
            if self.dialect == "sqlite"
            else self.sql
        )
        self._sessions = make_session_factory(self.sql)
        self._read_sessions = make_session_factory(self.sql_read)
        self.specs = SpecCache()
        self.live = LiveCache(self.settings.live_cache_size)
        self.script_engine = SandboxedScriptEngine(
            helpers=self.expression_helpers(),
            time_limit=self.settings.script_time_limit,
            around_script=script_writes,
            memory_limit_mb=self.settings.script_memory_limit,
        )
        self.store = InstanceStore(self.specs, self.live, self.script_engine)
        self.forms = FormRegistry()
        # Called once for every human task this engine completes, after its commit, whoever called:
        # the REST API, the workspace's pages (one by one or in bulk), the CLI. The API counts them here.
        self.task_completed_listeners: set[Callable[[], object]] = set()

    def expression_helpers(self) -> dict[str, Callable[..., Any]]:
        """Functions BPMN scripts, conditions and timer expressions may call by name (trusted code).

        Each command group adds its own: `return super().expression_helpers() | {...}`.
        """
        return {}

    def _deployed(self, session: Session, deployment_id: str) -> None:
        """Called in the deploy transaction: command groups that keep something per process version (the
        jobs of timer start events) add it here, calling super() first."""

    def close(self) -> None:
        self.sql.dispose()
        if self.sql_read is not self.sql:
            self.sql_read.dispose()

    # --- transactions --------------------------------------------------------------------------

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """One command: everything it writes commits together or not at all."""
        with _session_scope(self._sessions) as session:
            yield session

    @contextmanager
    def reading(self) -> Iterator[Session]:
        """A read-only look: on SQLite it does not take the write lock."""
        with _session_scope(self._read_sessions) as session:
            yield session

    def _lock_instance(self, session: Session, instance_id: str) -> ProcessInstance:
        query = select(ProcessInstance).where(ProcessInstance.id == instance_id)
        if self.dialect == "postgresql":
            query = query.with_for_update()
        instance = session.execute(query).scalar_one_or_none()
        if instance is None:
            raise NotFound(f"There is no process instance {instance_id}.", code="no_instance", id=instance_id)
        return instance

    def principal(self, username: str) -> Principal:
        with self.reading() as session:
            return Principal(people.load_person(session, username))


@contextmanager
def _session_scope(factory: Any) -> Iterator[Session]:
    """A transaction whose database failures come out as the engine's own errors."""
    session = factory()
    try:
        with session.begin():
            yield session
    except StaleDataError as exc:
        raise StaleInstance(
            "The instance was changed by someone else meanwhile; reload and retry.", code="stale_instance"
        ) from exc
    except DBAPIError as exc:
        if exc.connection_invalidated or isinstance(exc, OperationalError):
            raise unavailable(exc) from exc
        raise
    finally:
        session.close()
