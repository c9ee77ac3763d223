"""The figures the reliability suites measured on their last run, for docs/reliability.md.

Each suite writes `tests/artifacts/reliability/<suite>.json`: one entry per test (and database) with what
it tried and what it saw (kills, completions, timers, p99 latency, examples). `record` merges an entry into
the file, so the suites of one run end up side by side, also when pytest-xdist runs them in two processes.
"""

from __future__ import annotations

import fcntl
import json
from datetime import UTC, datetime
from pathlib import Path

FOLDER = Path(__file__).resolve().parent / "artifacts" / "reliability"


def record(suite: str, entry: str, figures: dict) -> None:
    """Keep `figures` under `entry` in the suite's file, with the time of the run."""
    FOLDER.mkdir(parents=True, exist_ok=True)
    path = FOLDER / f"{suite}.json"
    with open(FOLDER / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # one writer at a time across threads and processes
        try:
            existing = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            existing = {}
        existing[entry] = {"at": datetime.now(UTC).isoformat(timespec="seconds"), **figures}
        path.write_text(json.dumps(existing, ensure_ascii=False, indent=2, sort_keys=True) + "\n", encoding="utf-8")
