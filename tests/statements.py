"""The SQL statements a connection pool runs while inside a block: what the cost, plan and round-trip tests read."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine as SqlEngine
from sqlalchemy import event


@dataclass(frozen=True)
class Sent:
    statement: str
    parameters: Any
    executemany: bool
    pipelined: bool  # PostgreSQL: sent in psycopg's pipeline mode (engine/round_trips.py)

    @property
    def words(self) -> list[str]:
        return self.statement.split()

    @property
    def rows(self) -> int:
        return len(self.parameters) if self.executemany else 1


@contextmanager
def statements_sent(sql: SqlEngine) -> Iterator[list[Sent]]:
    """Every statement `sql`'s connections send while inside, in order."""
    sent: list[Sent] = []

    def seen(conn, _cursor, statement, parameters, _context, executemany) -> None:  # noqa: ANN001
        pgconn = getattr(conn.connection.dbapi_connection, "pgconn", None)
        sent.append(Sent(statement, parameters, executemany, bool(pgconn and pgconn.pipeline_status)))

    event.listen(sql, "before_cursor_execute", seen)
    try:
        yield sent
    finally:
        event.remove(sql, "before_cursor_execute", seen)
