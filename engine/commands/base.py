"""The engine's plumbing: settings, database pools, caches, and one transaction per command."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection, bindparam, select, text
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from engine import people
from engine.config import Settings
from engine.db import dialect_name, hold, make_session_factory, make_sql_engine, unavailable
from engine.errors import (
    NotFound,
    StaleInstance,
)
from engine.forms_registry import FormRegistry
from engine.models import (
    HumanTask,
    ProcessDefinition,
    ProcessInstance,
)
from engine.principal import Principal
from engine.procedure_scope import script_writes
from engine.spiff.sandbox import SandboxedScriptEngine
from engine.store import BoundedMap, InstanceStore, LiveCache, SpecCache

OPEN, COMPLETED, CANCELLED = "open", "completed", "cancelled"
RUNNING, FAILED, SUSPENDED = "running", "failed", "suspended"
ENDED = {"completed", "cancelled"}
TASK_INSTANCE_CACHE = 100_000

# Built once: building a statement costs more than running it from SQLAlchemy's compiled cache.
_LOCK_INSTANCE = select(ProcessInstance).where(ProcessInstance.id == bindparam("id"))
_LOCK_INSTANCE_PG = _LOCK_INSTANCE.with_for_update()
_TASK_INSTANCE = select(HumanTask.instance_id).where(HumanTask.id == bindparam("id"))
_LOCK_WITH_TASK = (
    select(ProcessInstance, HumanTask)
    .join(HumanTask, HumanTask.instance_id == ProcessInstance.id)
    .where(ProcessInstance.id == bindparam("id"), HumanTask.id == bindparam("task_id"))
)
_PLANS_FOR_THE_VALUES = text("SET LOCAL plan_cache_mode = force_custom_plan")


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
        # A human task never moves to another instance: which instance a task id belongs to is kept here so
        # a task command need not open a read transaction before taking the instance's lock.
        self._task_instances = BoundedMap(TASK_INSTANCE_CACHE)
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
        """A read-only look: on SQLite it does not take the write lock.

        On PostgreSQL its statements are planned for their values each time. psycopg prepares a statement
        after five runs, and PostgreSQL may then keep one generic plan; for a search whose selectivity
        depends on its values (a business-key prefix, a day, a subdistrict) that plan can be far worse:
        the city bench's filtered instance search went from 13 to 116-178 ms p99. Commands keep the
        generic plans of their key lookups, which save the planning on every run.
        """
        with _session_scope(self._read_sessions) as session:
            if self.dialect == "postgresql":
                session.execute(_PLANS_FOR_THE_VALUES)
            yield session

    @contextmanager
    def reading_rows(self) -> Iterator[Connection]:
        """A read-only look without a Session, for plain-column reads every request pays for.

        On PostgreSQL each statement is its own transaction (autocommit): no BEGIN and COMMIT round trips,
        and no rollback when the connection goes back to the pool, at which psycopg would forget every
        prepared statement of the connection and the next command on it would parse and plan each again.
        """
        if self.dialect == "postgresql":
            with _database_errors(), self.sql_read.connect() as connection:
                yield connection.execution_options(isolation_level="AUTOCOMMIT")
            return
        with _database_errors(), self.sql_read.begin() as connection:
            yield connection

    def _lock_instance(self, session: Session, instance_id: str, task_id: str | None = None) -> ProcessInstance:
        """The instance row, locked on PostgreSQL; `task_id`: the task command's task, named if it is gone."""
        if task_id is not None and self.dialect == "sqlite":
            # One statement for the instance and its task: the task stays in the session for _open_task.
            # SQLite only: the write lock taken at BEGIN makes both rows current. On PostgreSQL a join
            # that waited for the instance's row lock would return the task row as it was before the
            # wait, and locking the task row too could deadlock with a command that holds the instance.
            found = session.execute(_LOCK_WITH_TASK, {"id": instance_id, "task_id": task_id}).first()
            if found is not None:
                hold(session, [found[1]])
                return found[0]
        query = _LOCK_INSTANCE_PG if self.dialect == "postgresql" else _LOCK_INSTANCE
        instance = session.execute(query, {"id": instance_id}).scalar_one_or_none()
        if instance is None:
            if task_id is not None:  # the instance was purged with its tasks since the id was cached
                self._task_instances.pop(task_id)
                raise NotFound(f"There is no task {task_id}.", code="no_task", id=task_id)
            raise NotFound(f"There is no process instance {instance_id}.", code="no_instance", id=instance_id)
        return instance

    def _task_instance_id(self, task_id: str) -> str:
        """The instance of a human task (from memory when known: the mapping never changes)."""
        found = self._task_instances.get(task_id)
        if found is not None:
            return found
        with self.reading() as session:
            instance_id = session.execute(_TASK_INSTANCE, {"id": task_id}).scalar_one_or_none()
        if instance_id is None:
            raise NotFound(f"There is no task {task_id}.", code="no_task", id=task_id)
        self._task_instances.put(task_id, instance_id)
        return instance_id

    def _definition(self, session: Session, definition_id: str) -> ProcessDefinition:
        return self.store.definition(session, definition_id)

    def principal(self, username: str) -> Principal:
        with self.reading() as session:
            return Principal(people.load_person(session, username))


@contextmanager
def _session_scope(factory: Any) -> Iterator[Session]:
    """A transaction whose database failures come out as the engine's own errors."""
    session = factory()
    try:
        with _database_errors(), session.begin():
            yield session
    finally:
        session.close()


@contextmanager
def _database_errors() -> Iterator[None]:
    """Database failures as the engine's own errors: a lost race is stale, a lost server unavailable."""
    try:
        yield
    except StaleDataError as exc:
        raise StaleInstance(
            "The instance was changed by someone else meanwhile; reload and retry.", code="stale_instance"
        ) from exc
    except DBAPIError as exc:
        if exc.connection_invalidated or isinstance(exc, OperationalError):
            raise unavailable(exc) from exc
        raise
