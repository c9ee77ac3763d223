"""A command's new and changed human task rows written with Core beside its task rows, then held as written.

The projection works on ORM objects (`HumanTask`), which the rest of the command reads and changes. Left to
the ORM's flush, each new row is an INSERT and each changed one an UPDATE whose row count the flush reads:
on PostgreSQL a round trip each, outside the pipeline of `engine/round_trips.py`. Here they are written in
that pipeline and the session is told they are written: a new row becomes persistent as though loaded
(`make_transient_to_detached`), a changed one has its values committed (`set_committed_value`), so the
flush that follows writes neither again, and a later change in the same command is an ordinary UPDATE.
The rows' instance is locked by the command, so the UPDATE meets its row without the flush's count check.
"""

from __future__ import annotations

from collections import defaultdict

from sqlalchemy import Connection, bindparam, inspect, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.session import make_transient_to_detached

from engine.audit import insert_rows
from engine.models import HumanTask

_TABLE = HumanTask.__table__
_COLUMNS = frozenset(_TABLE.columns.keys())
_UPDATES: dict[tuple[str, ...], object] = {}


def write_human_tasks(session: Session, connection: Connection, pipelined: bool) -> None:
    """Insert the session's new human task rows and update its changed ones; the ORM then holds them as written."""
    new = [held for held in session.new if isinstance(held, HumanTask)]
    if new:
        insert_rows(connection, _TABLE, [_complete_row(task) for task in new], pipelined)
        for task in new:
            session.expunge(task)
            make_transient_to_detached(task)  # every column is set (_complete_row): nothing left to load
            session.add(task)
    changed: dict[tuple[str, ...], list[tuple[HumanTask, dict]]] = defaultdict(list)
    for held in session.dirty:
        if isinstance(held, HumanTask):
            state = inspect(held)
            # The columns set since the row was read or written (set to the same value or not: rewritten).
            keys = _COLUMNS - state.unmodified
            if keys:
                changed[tuple(sorted(keys))].append((held, {key: state.dict[key] for key in keys}))
    for keys, tasks in changed.items():
        statement = _UPDATES.get(keys)
        if statement is None:
            statement = _UPDATES[keys] = (
                update(_TABLE).where(_TABLE.c.id == bindparam("b_id")).values({k: bindparam(k) for k in keys})
            )
        params = [{"b_id": task.id, **values} for task, values in tasks]
        connection.execute(statement, params if len(params) > 1 else params[0])
        for task, values in tasks:
            for key, value in values.items():
                set_committed_value(task, key, value)


def _complete_row(task: HumanTask) -> dict:
    """Every column of a new row, its defaults set on the object too, as the ORM's INSERT would have."""
    row = {}
    for column in _TABLE.columns:
        if column.key not in task.__dict__:
            default = column.default
            value = None
            if default is not None:
                value = default.arg(None) if default.is_callable else default.arg
            setattr(task, column.key, value)
        row[column.key] = task.__dict__[column.key]
    return row
