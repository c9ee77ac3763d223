"""Run by test_crash in a child process: complete a task, then stall inside the commit until killed."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from sqlalchemy import event
from sqlalchemy.orm import Session

from engine import Engine
from engine.config import Settings


def main() -> None:
    db_url, task_id, username, data, ready_file = sys.argv[1:6]
    engine = Engine(Settings(database_url=db_url))
    principal = engine.principal(username)

    @event.listens_for(Session, "before_commit")
    def stall(session: Session) -> None:
        session.flush()  # every row of the command is written, none committed
        Path(ready_file).write_text("flushed")
        time.sleep(120)

    engine.complete(task_id, principal, json.loads(data))


if __name__ == "__main__":
    main()
