"""SQLite writers queue at the writer gate (engine/writer_gate.py): across processes, after a fork, after a
failure and after a killed process, and never longer than the busy timeout."""

from __future__ import annotations

import fcntl
import gc
import multiprocessing
import os
import signal
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine as SqlEngine
from sqlalchemy import text

from engine.db import make_sql_engine
from engine.writer_gate import GatedConnection, WriterGate
from tests.conftest import ROOT


@pytest.fixture
def database(tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "gate.db"
    sql = make_sql_engine(f"sqlite:///{path}")
    with sql.begin() as conn:
        conn.execute(text("CREATE TABLE note (who TEXT NOT NULL)"))
    sql.dispose()
    yield path


def _gate_is_taken(database: Path) -> bool:
    """Whether some writer holds the gate's file lock now (asked through a descriptor of our own)."""
    fd = os.open(f"{database}-writer", os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    else:
        fcntl.flock(fd, fcntl.LOCK_UN)
        return False
    finally:
        os.close(fd)


def _notes(sql: SqlEngine) -> list[str]:
    with sql.connect() as conn:
        return [row[0] for row in conn.execute(text("SELECT who FROM note ORDER BY rowid"))]


def test_a_second_writer_waits_for_the_first_to_commit_then_writes(database: Path) -> None:
    first, second = (make_sql_engine(f"sqlite:///{database}") for _ in range(2))
    try:
        second_done = threading.Event()
        failures: list[BaseException] = []

        def write_second() -> None:
            try:
                with second.begin() as conn:
                    conn.execute(text("INSERT INTO note VALUES ('second')"))
            except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
                failures.append(exc)
            second_done.set()

        with first.begin() as conn:
            conn.execute(text("INSERT INTO note VALUES ('first')"))
            assert _gate_is_taken(database)
            waiter = threading.Thread(target=write_second)
            waiter.start()
            # The second writer cannot get in while the first's transaction is open.
            assert not second_done.wait(0.3)
        waiter.join(30)
        assert second_done.is_set() and not failures, failures
        assert _notes(first) == ["first", "second"]
        assert not _gate_is_taken(database)
    finally:
        first.dispose()
        second.dispose()


def test_a_failed_transaction_and_a_closed_connection_both_let_the_next_writer_in(database: Path) -> None:
    sql = make_sql_engine(f"sqlite:///{database}")
    try:
        with pytest.raises(ValueError), sql.begin() as conn:
            conn.execute(text("INSERT INTO note VALUES ('rolled back')"))
            raise ValueError("the command failed")
        assert not _gate_is_taken(database)
        conn = sql.connect()
        conn.begin()
        conn.execute(text("INSERT INTO note VALUES ('lost with the connection')"))
        assert _gate_is_taken(database)
        conn.invalidate()  # the connection is closed under the open transaction
        assert not _gate_is_taken(database)
        with sql.begin() as conn:
            conn.execute(text("INSERT INTO note VALUES ('kept')"))
        assert _notes(sql) == ["kept"]
    finally:
        sql.dispose()


def test_a_connection_dropped_without_closing_gives_the_gate_back(database: Path) -> None:
    gate = WriterGate(str(database), timeout=0.3)
    connection = sqlite3.connect(database, factory=GatedConnection)
    connection.gate = gate
    connection.wait_turn()
    assert connection.holding and _gate_is_taken(database)
    del connection
    gc.collect()
    assert not _gate_is_taken(database)
    assert gate.acquire()  # and this process's writers are not kept waiting on its thread lock
    gate.release()


# A writer in a process of its own: it opens a write transaction, says so, and waits to be killed.
HOLDER = """
import sys, time
from sqlalchemy import text
from engine.db import make_sql_engine
sql = make_sql_engine("sqlite:///" + sys.argv[1])
with sql.begin() as conn:
    conn.execute(text("INSERT INTO note VALUES ('killed')"))
    print("holding", flush=True)
    time.sleep(120)
"""


def test_a_killed_writer_process_leaves_the_gate_and_the_database_free(database: Path) -> None:
    child = subprocess.Popen([sys.executable, "-c", HOLDER, str(database)], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout.readline().strip() == "holding"
        assert _gate_is_taken(database)
        child.send_signal(signal.SIGKILL)
        child.wait(30)
        assert not _gate_is_taken(database)
        sql = make_sql_engine(f"sqlite:///{database}")
        with sql.begin() as conn:
            conn.execute(text("INSERT INTO note VALUES ('after the kill')"))
        assert _notes(sql) == ["after the kill"]  # the killed writer's row was never committed
        sql.dispose()
    finally:
        child.kill()
        child.wait(30)
        child.stdout.close()


def _hold_gate_after_fork(gate: WriterGate, held, release) -> None:  # noqa: ANN001 - multiprocessing events
    if gate.acquire():
        held.set()
        release.wait(30)
        gate.release()


def test_a_forked_process_queues_beside_its_parent_not_inside_its_lock(database: Path) -> None:
    gate = WriterGate(str(database), timeout=0.3)
    assert gate.acquire()  # the parent has opened its descriptor before it forks
    gate.release()
    context = multiprocessing.get_context("fork")
    held, release = context.Event(), context.Event()
    child = context.Process(target=_hold_gate_after_fork, args=(gate, held, release))
    child.start()
    try:
        assert held.wait(30)
        # Had the child kept the descriptor it inherited, its lock would be the parent's too.
        assert gate.acquire() is False
        release.set()
        child.join(30)
        assert gate.acquire() is True
        gate.release()
    finally:
        release.set()
        child.join(30)


def test_a_wait_that_runs_out_lets_the_writer_go_on_and_leaves_the_gate_usable(database: Path) -> None:
    holder, other = WriterGate(str(database), timeout=0.2), WriterGate(str(database), timeout=0.2)
    assert holder.acquire()
    assert other.acquire() is False
    assert other.acquire() is False  # the first wait gave its thread lock back
    holder.release()
    assert other.acquire() is True
    other.release()
