"""PostgreSQL's pooled connections: pinged only after sitting idle, replaced when the server dropped them.

Every API request checks out a connection twice (the token, the command); a ping at each checkout was two
round trips a request. A connection used moments ago goes out unpinged; one idle for IDLE_BEFORE_PING or
more is pinged, and when the server dropped it (a restart, an idle timeout) the caller gets a new one and
never sees the error.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine as SqlEngine
from sqlalchemy import create_engine, text

from engine.db import IDLE_BEFORE_PING, make_sql_engine, normalize_url
from tests.conftest import PG_URL

pytestmark = pytest.mark.postgres

BACKEND = text("SELECT pg_backend_pid()")


@pytest.fixture
def pool(pg_database: str) -> Iterator[SqlEngine]:
    sql = make_sql_engine(pg_database)
    yield sql
    sql.dispose()


@pytest.fixture
def pings(pool: SqlEngine, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The pings the pool sends, counted as they go (each is still sent to the server)."""
    sent: list[int] = []
    ping = pool.dialect.do_ping

    def counted(dbapi_connection: object) -> bool:
        sent.append(1)
        return ping(dbapi_connection)

    monkeypatch.setattr(pool.dialect, "do_ping", counted)
    return sent


def backend_of(pool: SqlEngine) -> int:
    with pool.connect() as connection:
        return connection.execute(BACKEND).scalar_one()


def test_a_connection_used_moments_ago_goes_out_without_a_ping(pool: SqlEngine, pings: list[int]) -> None:
    first = backend_of(pool)
    for _ in range(20):
        assert backend_of(pool) == first  # the same pooled connection each time
    assert pings == []


def test_a_connection_idle_past_the_window_is_pinged_first(pool: SqlEngine, pings: list[int]) -> None:
    first = backend_of(pool)
    time.sleep(IDLE_BEFORE_PING + 0.1)
    assert backend_of(pool) == first
    assert len(pings) == 1


def test_an_idle_connection_the_server_dropped_is_replaced_without_an_error(pool: SqlEngine, pings: list[int]) -> None:
    dropped = backend_of(pool)
    admin = create_engine(normalize_url(PG_URL), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            assert connection.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": dropped}).scalar_one()
    finally:
        admin.dispose()
    time.sleep(IDLE_BEFORE_PING + 0.1)

    replacement = backend_of(pool)

    assert replacement != dropped
    assert len(pings) == 1
