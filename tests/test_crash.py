"""A process killed with SIGKILL in the middle of a command leaves the last committed state.

The child (tests/crash_child.py) completes a task and stalls inside the command's write transaction:
after its first audit row, after its first SpiffWorkflow task row, or at the commit with every row
written. The test checks that the child really is inside that transaction (it holds the write lock and
has written what the point says, none of it visible to others), kills it, and checks that the instance
is exactly as before and continues.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import OperationalError

from engine import Engine
from engine.db import dialect_name, normalize_url
from tests.conftest import ROOT, who

pytestmark = [pytest.mark.usefixtures("petition"), pytest.mark.slow]

DATA = {"title": "加装电梯", "proposer_count": 30, "eligible_count": 100}
# What the command must have written when it stalls at each point (and what it must not have yet).
WRITTEN_AT = {
    "audit_event": ({"INSERT audit_event"}, {"INSERT workflow_task", "UPDATE workflow_task"}),
    # The task rows go with the audit rows (one round trip on PostgreSQL), before the instance row.
    "workflow_task": ({"INSERT audit_event"}, {"UPDATE human_task", "UPDATE process_instance"}),
    "commit": (
        {
            "INSERT audit_event",
            "UPDATE human_task",
            "INSERT human_task",
            "UPDATE workflow_task",
            "UPDATE process_instance",
        },
        set(),
    ),
}


def holds_write_lock(db_url: str, instance_id: str) -> bool:
    """Whether another connection holds the write transaction: SQLite's write lock, PostgreSQL's row lock."""
    if dialect_name(db_url) == "sqlite":
        conn = sqlite3.connect(db_url.removeprefix("sqlite:///"), timeout=0, isolation_level=None)
        try:
            conn.execute("BEGIN IMMEDIATE")
            conn.execute("ROLLBACK")
            return False
        except sqlite3.OperationalError as exc:
            return "locked" in str(exc)
        finally:
            conn.close()
    sql = create_engine(normalize_url(db_url))
    try:
        with sql.connect() as conn:
            conn.execute(text("SELECT id FROM process_instance WHERE id = :id FOR UPDATE NOWAIT"), {"id": instance_id})
            return False
    except OperationalError as exc:
        return "could not obtain lock" in str(exc)
    finally:
        sql.dispose()


@pytest.mark.parametrize("point", list(WRITTEN_AT))
def test_a_command_killed_inside_its_write_transaction_leaves_the_previous_state_and_the_instance_continues(
    engine: Engine, db_url: str, tmp_path: Path, point: str
) -> None:
    instance = engine.start("petition_review", "qiaoyi", by=who(engine, "wang"))
    task_id = instance["tasks"][0]["id"]
    history_before = engine.history(instance["id"])
    ready = tmp_path / "ready"
    child = subprocess.Popen(
        [sys.executable, "-m", "tests.crash_child", db_url, task_id, "wang", json.dumps(DATA), str(ready), point],
        cwd=ROOT,
        env=os.environ | {"PYTHONPATH": str(ROOT)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 60
        while not ready.exists() or not ready.read_text():
            assert child.poll() is None, child.stderr.read().decode()
            assert time.monotonic() < deadline, "the child never reached its stall"
            time.sleep(0.05)
        stalled = json.loads(ready.read_text())
        # The child stalled inside the command's write transaction, after writing what the point names...
        must, must_not = WRITTEN_AT[point]
        assert must <= set(stalled["written"]), stalled
        assert not must_not & set(stalled["written"]), stalled
        assert holds_write_lock(db_url, instance["id"])
        # ...and none of it is visible to anyone else.
        assert engine.history(instance["id"]) == history_before
        os.kill(child.pid, signal.SIGKILL)
        child.wait(10)
    finally:
        if child.poll() is None:
            child.kill()
    assert child.returncode == -signal.SIGKILL

    # the previous state, exactly: task open, no new audit events, chain intact, the lock released
    assert not holds_write_lock(db_url, instance["id"])
    assert engine.get_task(task_id)["status"] == "open"
    assert engine.history(instance["id"]) == history_before
    assert engine.get_instance(instance["id"])["status"] == "running"
    assert engine.verify_audit().ok

    done = engine.complete(task_id, who(engine, "wang"), DATA)
    assert done["next_tasks"][0]["element_id"] == "review_petition"
    engine.complete(done["next_tasks"][0]["id"], who(engine, "zhang"), {"decision": "approve"})
    assert engine.get_instance(instance["id"])["status"] == "completed"
    assert engine.verify_audit().ok
