"""Database connections: one SQLAlchemy engine per govflow Engine, SQLite tuned for a durable single writer."""

from __future__ import annotations

import time
from collections.abc import Iterable

from sqlalchemy import Engine as SqlEngine
from sqlalchemy import create_engine, event, make_url, text
from sqlalchemy.exc import DBAPIError, InvalidatePoolError
from sqlalchemy.orm import Session, sessionmaker

from engine.audit import drop_pending_events
from engine.errors import DatabaseFull, DatabaseUnavailable
from engine.row_writes import write_pending_rows
from engine.writer_gate import GatedConnection, WriterGate

SQLITE_BUSY_SECONDS = 30
# A pooled PostgreSQL connection idle at least this long is pinged before use (HikariCP's alive-bypass
# window is the same 0.5 s): one used moments ago is alive, and a ping is a round trip on every request.
IDLE_BEFORE_PING = 0.5


def dialect_name(url: str) -> str:
    return "sqlite" if url.startswith("sqlite") else "postgresql"


def normalize_url(url: str) -> str:
    """Accept the usual postgres:// and postgresql:// spellings and use psycopg 3."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def make_sql_engine(
    url: str, sqlite_synchronous: str = "FULL", readonly: bool = False, writer_gate: bool = True
) -> SqlEngine:
    """A pool for `url`; on SQLite, `readonly` pools begin shared transactions instead of taking the write lock,
    and writers queue at the writer gate (`writer_gate=False`: in SQLite's busy handler only, the bench's
    baseline)."""
    url = normalize_url(url)
    if dialect_name(url) == "sqlite":
        connect_args: dict = {"check_same_thread": False, "timeout": SQLITE_BUSY_SECONDS}
        gate = None
        if not readonly and writer_gate:
            gate = WriterGate(make_url(url).database, SQLITE_BUSY_SECONDS)
            connect_args["factory"] = GatedConnection
        engine = create_engine(url, connect_args=connect_args)
        _tune_sqlite(engine, sqlite_synchronous, "BEGIN" if readonly else "BEGIN IMMEDIATE", gate)
        return engine
    engine = create_engine(url, pool_size=10, max_overflow=20)
    _ping_when_idle(engine)
    return engine


_RETURNED_AT = "govflow_returned_at"


def _ping_when_idle(engine: SqlEngine) -> None:
    """Ping a pooled connection before use when it sat idle for IDLE_BEFORE_PING or more.

    SQLAlchemy's `pool_pre_ping` pings at every checkout, and each API request checks out twice (the token,
    the command). A connection the server dropped meanwhile (a restart, an idle timeout) fails its ping:
    then, as with `pool_pre_ping`, every pooled connection is replaced and the request gets a new one. One
    dropped within the window fails its statement instead, which answers 503 and replaces the pool too.
    """

    @event.listens_for(engine.pool, "checkin")
    def _checked_in(_dbapi_connection, record):  # noqa: ANN001, ANN202
        record.info[_RETURNED_AT] = time.monotonic()

    @event.listens_for(engine.pool, "checkout")
    def _checked_out(dbapi_connection, record, _proxy):  # noqa: ANN001, ANN202
        returned = record.info.pop(_RETURNED_AT, None)
        if returned is None or time.monotonic() - returned < IDLE_BEFORE_PING:
            return  # a new connection, or one in use moments ago
        dialect = engine.dialect
        try:
            dialect.do_ping(dbapi_connection)
        except dialect.loaded_dbapi.Error as exc:
            if dialect.is_disconnect(exc, dbapi_connection, None):
                raise InvalidatePoolError(str(exc)) from exc
            raise


def maintenance_warnings(sql: SqlEngine) -> list[str]:
    """What the database server's own settings will cost govflow as it runs, in sentences for the operator."""
    if sql.dialect.name != "postgresql":
        return []
    with sql.connect() as connection:
        autovacuum = connection.execute(text("SHOW autovacuum")).scalar_one()
    if autovacuum == "on":
        return []
    return [
        "PostgreSQL's autovacuum is off on this server. Every command updates rows of process_instance, "
        "human_task and workflow_task; without VACUUM they fill with dead rows and without ANALYZE the "
        "planner keeps plans made for small tables, so commands and inboxes slow down as cases pile up. "
        "Turn it on (autovacuum = on in postgresql.conf) or run VACUUM ANALYZE on a schedule."
    ]


def _tune_sqlite(engine: SqlEngine, synchronous: str, begin: str, gate: WriterGate | None) -> None:
    """WAL, durable commits, foreign keys; transactions start with `begin`, after the gate when one is given."""
    if synchronous not in {"FULL", "NORMAL", "EXTRA"}:
        raise ValueError(f"GOVFLOW_SQLITE_SYNCHRONOUS must be FULL, NORMAL or EXTRA, not {synchronous!r}")

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record):  # noqa: ANN001, ANN202
        # Let us issue BEGIN ourselves: pysqlite's implicit BEGIN is DEFERRED, and a deferred reader
        # that later writes fails with "database is locked" instead of waiting its turn.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA synchronous={synchronous}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_SECONDS * 1000}")
        cursor.close()
        if gate is not None:
            dbapi_connection.gate = gate

    @event.listens_for(engine, "begin")
    def _on_begin(connection):  # noqa: ANN001, ANN202
        # Every command writes, so take the write lock up front: commands queue instead of failing.
        if gate is None:
            connection.exec_driver_sql(begin)
            return
        writer = connection.connection.dbapi_connection
        writer.wait_turn()
        try:
            connection.exec_driver_sql(begin)
        except BaseException:
            writer.let_go()
            raise


def make_session_factory(engine: SqlEngine) -> sessionmaker[Session]:
    factory = sessionmaker(bind=engine, expire_on_commit=False, autoflush=False)
    event.listen(factory, "before_flush", write_pending_rows)
    event.listen(factory, "before_commit", write_pending_rows)
    event.listen(factory, "after_soft_rollback", drop_pending_events)
    event.listen(factory, "after_commit", _run_after_commit)
    return factory


# session.info key: rows read for later in the command (the identity map keeps them only while referenced).
HELD = "govflow_held"


def hold(session: Session, rows: Iterable[object]) -> None:
    """Keep rows read now for the rest of the command: later look-ups find them in the session."""
    session.info.setdefault(HELD, []).extend(rows)


# session.info key: callables a command queued to run once its transaction committed (not a savepoint's).
AFTER_COMMIT = "govflow_after_commit"


def _run_after_commit(session: Session) -> None:
    # A listener on the factory, not one per session: listening on a session instance costs more than
    # most statements. A savepoint's release fires this too: the callbacks wait for the real commit.
    if session.in_nested_transaction():
        return
    for callback in session.info.pop(AFTER_COMMIT, []):
        callback(session)


# What the drivers say when the disk is full (SQLite's SQLITE_FULL, PostgreSQL's class 53100 and ENOSPC),
# or when the database may be read but not written (a read-only file or file system, a hot standby).
_FULL = ("database or disk is full", "no space left on device", "could not extend file")
_READ_ONLY = ("attempt to write a readonly database", "read-only transaction", "read-only file system")
_CANNOT_OPEN = ("unable to open database file",)  # SQLite: a missing file, or a folder it cannot write


def unavailable(exc: DBAPIError) -> DatabaseUnavailable:
    """The engine's error for a driver error that means the database cannot be reached or written."""
    text = str(getattr(exc, "orig", exc)) or exc.__class__.__name__
    lowered = text.lower()
    if any(marker in lowered for marker in _FULL):
        return DatabaseFull(
            "The database has no room left on its disk, so nothing was saved. "
            "It works again as soon as an administrator frees space; then try again.",
            code="database_full",
        )
    if any(marker in lowered for marker in _READ_ONLY):
        return DatabaseUnavailable(
            "The database can be read but not written at the moment (read-only), so nothing was saved. "
            "Try again once an administrator has made it writable.",
            code="database_read_only",
        )
    if any(marker in lowered for marker in _CANNOT_OPEN):
        return DatabaseUnavailable(
            "The database file cannot be opened (it is missing, or its folder is read-only), so nothing was "
            "read or saved. Try again once an administrator has fixed it.",
            code="database_cannot_open",
        )
    first_line = text.strip().splitlines()[0][:200] if text.strip() else exc.__class__.__name__
    return DatabaseUnavailable(f"The database is not available: {first_line}", code="database_unavailable")
