"""Run by test_crash in a child process: complete a task and stall inside its write transaction until killed.

`python -m tests.crash_child DB_URL TASK_ID USERNAME DATA READY_FILE POINT` stalls at POINT:

- `audit_event`: right after the command's first audit row was written;
- `workflow_task`: right after the first of its SpiffWorkflow task rows was written;
- `commit`: in `before_commit` of the session that wrote the command's rows (every row written, the
  instance row last).

Read-only sessions (the command's look-up of the task, the caller's roles) commit before the write
transaction opens; they write nothing and never stall. At the stall the child writes to READY_FILE, as
JSON, the point and every write statement (`INSERT audit_event`, ...) its connection has run so far.
"""

from __future__ import annotations

import json
import re
import sys
import time
from pathlib import Path

from sqlalchemy import Engine as SqlEngine
from sqlalchemy import event
from sqlalchemy.orm import Session

from engine import Engine
from engine.config import Settings

POINTS = ("audit_event", "workflow_task", "commit")
_WRITE = re.compile(r"^\s*(INSERT INTO|UPDATE|DELETE FROM)\s+\"?(\w+)", re.IGNORECASE)


def main() -> None:
    db_url, task_id, username, data, ready_file, point = sys.argv[1:7]
    assert point in POINTS, point
    engine = Engine(Settings(database_url=db_url))
    principal = engine.principal(username)
    written: list[str] = []

    def stall() -> None:
        Path(ready_file).write_text(json.dumps({"point": point, "written": written}))
        time.sleep(120)

    @event.listens_for(SqlEngine, "after_cursor_execute")
    def seen(_conn, _cursor, statement, _params, _context, _many) -> None:  # noqa: ANN001
        match = _WRITE.match(statement)
        if match is None:
            return
        verb, table = match.group(1).split()[0].upper(), match.group(2)
        written.append(f"{verb} {table}")
        if table == point:
            stall()

    @event.listens_for(Session, "before_commit")
    def at_commit(session: Session) -> None:
        if point == "commit" and "UPDATE process_instance" in written:
            session.flush()  # every row of the command is written, none committed
            stall()

    engine.complete(task_id, principal, json.loads(data))
    sys.exit("the command committed without stalling")


if __name__ == "__main__":
    main()
