"""A server process freezes what it built at start-up, so its full garbage collections skip it.

A full collection stops every thread of the process for as long as it walks the tracked objects; the
modules, the Flask app and the engine live as long as the process and are most of them until the
live-workflow cache fills. Counted in objects, not timed: bench/memory.py times the pause.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from engine.child_server import ROOT

PROBE = """
import gc, json
import api.wsgi
print(json.dumps({"frozen": gc.get_freeze_count(), "walked": len(gc.get_objects())}))
"""


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_the_wsgi_entry_freezes_the_start_up_heap_gunicorn_workers_load(db_url: str) -> None:
    env = os.environ | {"GOVFLOW_DATABASE_URL": db_url, "PYTHONPATH": str(ROOT)}
    out = subprocess.run(
        [sys.executable, "-c", PROBE], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=True
    ).stdout
    heap = json.loads(out.splitlines()[-1])
    # Everything the app, its engine and their modules made is out of the collector's walk, bar a few.
    assert heap["frozen"] > 50_000, heap
    assert heap["walked"] < heap["frozen"] / 50, heap
