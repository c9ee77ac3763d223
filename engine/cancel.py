"""Cancelling a long read from another thread: SQLite's interrupt, PostgreSQL's cancel request.

A worker that is told to stop in the middle of a city's statistics (tens of seconds in one statement on
SQLite) should not wait for the statement to end. The statement fails at once with the database's own
error ("interrupted", `QueryCanceled`), which reaches the caller as `DatabaseUnavailable`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from sqlalchemy.orm import Session

WATCH_EVERY = 0.2  # seconds between two looks at `stopping`


@contextmanager
def cancelled_when(session: Session, stopping: Callable[[], bool], every: float = WATCH_EVERY) -> Iterator[None]:
    """Run the block; should `stopping()` turn true meanwhile, cancel the statement the session is running."""
    connection = session.connection().connection.dbapi_connection
    done = threading.Event()

    def watch() -> None:
        while not done.wait(every):
            if stopping():
                _cancel(connection)
                return

    watcher = threading.Thread(target=watch, name="govflow-cancel", daemon=True)
    watcher.start()
    try:
        yield
    finally:
        done.set()
        watcher.join()


def _cancel(connection: object) -> None:
    if hasattr(connection, "interrupt"):  # sqlite3: safe from any thread
        connection.interrupt()
    else:  # psycopg: a cancel request on a connection of its own
        connection.cancel_safe()
