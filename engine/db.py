"""Database connections: one SQLAlchemy engine per govflow Engine, SQLite tuned for a durable single writer."""

from __future__ import annotations

from sqlalchemy import Engine as SqlEngine
from sqlalchemy import create_engine, event
from sqlalchemy.orm import Session, sessionmaker


def dialect_name(url: str) -> str:
    return "sqlite" if url.startswith("sqlite") else "postgresql"


def normalize_url(url: str) -> str:
    """Accept the usual postgres:// and postgresql:// spellings and use psycopg 3."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def make_sql_engine(url: str, sqlite_synchronous: str = "FULL", readonly: bool = False) -> SqlEngine:
    """A pool for `url`; on SQLite, `readonly` pools begin shared transactions instead of taking the write lock."""
    url = normalize_url(url)
    if dialect_name(url) == "sqlite":
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})
        _tune_sqlite(engine, sqlite_synchronous, "BEGIN" if readonly else "BEGIN IMMEDIATE")
        return engine
    return create_engine(url, pool_size=10, max_overflow=20, pool_pre_ping=True)


def _tune_sqlite(engine: SqlEngine, synchronous: str, begin: str) -> None:
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
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection):  # noqa: ANN001, ANN202
        # Every command writes, so take the write lock up front: commands queue instead of failing.
        connection.exec_driver_sql(begin)


def make_session_factory(engine: SqlEngine) -> sessionmaker[Session]:
    return sessionmaker(bind=engine, expire_on_commit=False, autoflush=False)
