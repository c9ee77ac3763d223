"""A process killed with SIGKILL in the middle of a command leaves the last committed state."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from engine import Engine
from tests.conftest import ROOT, who

pytestmark = [pytest.mark.usefixtures("petition"), pytest.mark.slow]


def test_a_command_killed_before_its_commit_leaves_the_previous_state_and_the_instance_continues(
    engine: Engine, db_url: str, tmp_path: Path
) -> None:
    instance = engine.start("petition_review", "qiaoyi", by=who(engine, "wang"))
    task_id = instance["tasks"][0]["id"]
    history_before = engine.history(instance["id"])
    data = {"title": "加装电梯", "proposer_count": 30, "eligible_count": 100}
    ready = tmp_path / "ready"
    child = subprocess.Popen(
        [sys.executable, "-m", "tests.crash_child", db_url, task_id, "wang", json.dumps(data), str(ready)],
        cwd=ROOT,
        env=os.environ | {"PYTHONPATH": str(ROOT)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 60
        while not ready.exists():
            assert child.poll() is None, child.stderr.read().decode()
            assert time.monotonic() < deadline, "the child never reached its commit"
            time.sleep(0.05)
        os.kill(child.pid, signal.SIGKILL)
        child.wait(10)
    finally:
        if child.poll() is None:
            child.kill()
    assert child.returncode == -signal.SIGKILL

    # the previous state, exactly: task open, no new audit events, chain intact
    assert engine.get_task(task_id)["status"] == "open"
    assert engine.history(instance["id"]) == history_before
    assert engine.get_instance(instance["id"])["status"] == "running"
    assert engine.verify_audit().ok

    done = engine.complete(task_id, who(engine, "wang"), data)
    assert done["next_tasks"][0]["element_id"] == "review_petition"
    engine.complete(done["next_tasks"][0]["id"], who(engine, "zhang"), {"decision": "approve"})
    assert engine.get_instance(instance["id"])["status"] == "completed"
    assert engine.verify_audit().ok
