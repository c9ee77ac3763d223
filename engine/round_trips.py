"""Writes whose answers are not read until they are all sent, sent to PostgreSQL together: one round trip."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
from sqlalchemy import Connection
from sqlalchemy.exc import DBAPIError


@contextmanager
def one_round_trip(connection: Connection) -> Iterator[bool]:
    """Statements run inside reach PostgreSQL in one round trip (psycopg's pipeline mode); yields whether.

    Only for statements whose rows nobody reads: in a pipeline they arrive at its end, as do row counts,
    which a caller reads from the driver's cursor after the block (`engine/row_writes.py`). A
    statement that fails inside fails the transaction as ever; its error comes out of a later statement
    or out of this block, as SQLAlchemy's error for the driver's, so callers see what they always see.
    On SQLite this changes nothing: the database runs in the process, with no round trip to save.
    """
    if connection.dialect.name != "postgresql":
        yield False
        return
    dbapi_connection = connection.connection.dbapi_connection
    try:
        with dbapi_connection.pipeline():
            yield True
    except psycopg.Error as exc:
        # Raised by the sync at the block's end, which SQLAlchemy did not run: wrap it as SQLAlchemy would.
        raise DBAPIError.instance(
            None, None, exc, psycopg.Error, connection_invalidated=dbapi_connection.closed, dialect=connection.dialect
        ) from exc
