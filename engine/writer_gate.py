"""SQLite's one writer at a time, queued in this process and across processes instead of slept on.

A SQLite connection that finds the write lock taken sleeps in its busy handler for 1, 2, 5, 10, 15, 20,
25 ... up to 100 ms between tries, so with two API processes (or one with several threads) a writer that
arrives while another command runs waits several times that command's length, and the database sits idle
meanwhile. The gate puts writers in line before they ask SQLite: the threads of a process on a lock,
the processes on an advisory lock of a file beside the database (`<database>-writer`), tried every half
millisecond. SQLite's own lock still decides what is safe; the gate only shortens the waits, so a
writer that cannot pass it within the busy timeout goes on to ask SQLite as before.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import sqlite3
import threading
import time
from typing import BinaryIO

POLL_SECONDS = 0.0005
_OPENING = threading.Lock()


class WriterGate:
    """One writer of a database at a time; a hold may be ended from any thread (by its connection)."""

    def __init__(self, database_path: str | None, timeout: float) -> None:
        self.timeout = timeout
        named = bool(database_path) and database_path != ":memory:" and not database_path.startswith("file:")
        # Absolute at once: the same file whatever directory the process is in when it first writes.
        self._path = os.path.abspath(database_path) + "-writer" if named else None
        self._pid = -1
        self._threads = threading.Lock()
        self._file: BinaryIO | None = None

    def _for_this_process(self) -> None:
        # A forked child shares its parent's open file, and so its lock: each process opens its own, and
        # closes what it inherited, which would otherwise keep a dead parent's lock alive.
        if self._pid == os.getpid():
            return
        with _OPENING:
            if self._pid == os.getpid():
                return
            if self._file is not None:
                self._file.close()
                self._file = None
            self._threads = threading.Lock()
            # Another user's lock file is locked through a descriptor opened for reading; a folder we cannot
            # write, without the file, leaves no gate: then SQLite's busy handler alone queues the processes.
            for mode in ("ab", "rb") if self._path is not None else ():
                with contextlib.suppress(OSError):
                    self._file = open(self._path, mode)  # noqa: SIM115 - held for the gate's life
                    break
            self._pid = os.getpid()

    def acquire(self) -> bool:
        """Wait for this writer's turn; False when the wait ran out (the caller goes on to SQLite's lock)."""
        self._for_this_process()
        deadline = time.monotonic() + self.timeout
        if not self._threads.acquire(timeout=self.timeout):
            return False
        if self._file is None:
            return True
        while True:
            try:
                fcntl.flock(self._file, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return True
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    self._threads.release()
                    return False
                time.sleep(POLL_SECONDS)

    def release(self) -> None:
        if self._file is not None:
            fcntl.flock(self._file, fcntl.LOCK_UN)
        self._threads.release()


class GatedConnection(sqlite3.Connection):
    """A sqlite3 connection that ends its hold on the gate when its transaction ends, however it ends."""

    gate: WriterGate | None = None
    holding = False

    def wait_turn(self) -> None:
        """Take the gate before BEGIN IMMEDIATE (or go on without it once the wait ran out)."""
        if self.gate is not None and not self.holding and self.gate.acquire():
            self.holding = True

    def commit(self) -> None:
        try:
            super().commit()
        finally:
            self.let_go()

    def rollback(self) -> None:
        try:
            super().rollback()
        finally:
            self.let_go()

    def close(self) -> None:
        try:
            super().close()
        finally:
            self.let_go()

    def __del__(self) -> None:
        # A connection dropped without close() (the pool closes its own) must not keep the gate forever.
        self.let_go()

    def let_go(self) -> None:
        if self.holding:
            self.holding = False
            self.gate.release()
