"""A command's changed rows written with Core in save's round trip, then held by the session as written.

The command layer works on ORM objects: the instance (`ProcessInstance`) and its inbox rows (`HumanTask`).
Left to the ORM's flush, each new row is an INSERT and each changed one an UPDATE whose row count the flush
reads, with the unit of work's bookkeeping around each (about a tenth of a command on SQLite) and, on
PostgreSQL, a round trip each outside the pipeline of `engine/round_trips.py`. Here they are written with
Core and the session is told they are written: a new row becomes persistent as though loaded
(`make_transient_to_detached`), a changed one is marked unchanged as a flush marks the rows it wrote, so
the flush that follows has nothing to do (not even its unit of work's rounds over unchanged objects), and
a later change in the same command is an ordinary UPDATE. A started case's instance row is inserted once,
with the values the start left, ahead of the rows that refer to it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from typing import Any

from sqlalchemy import Connection, Table, bindparam, inspect, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.exc import StaleDataError
from sqlalchemy.orm.session import make_transient_to_detached

from engine.audit import insert_rows, write_pending_events
from engine.models import HumanTask, ProcessInstance

_HUMAN_TASK = HumanTask.__table__
_INSTANCE = ProcessInstance.__table__
_UPDATES: dict[tuple[str, tuple[str, ...], bool], Any] = {}


def write_pending_rows(session: Session, *_args: Any, pipelined: bool = False) -> None:
    """A `before_flush` and `before_commit` hook, and save's first writes: new instances, then pending events.

    A case started in this command is inserted here, with the values its start left (`save` sets them
    first), so its row is written once; the events that follow refer to it. `pipelined`: called inside
    `one_round_trip`.
    """
    new = [held for held in session.new if isinstance(held, ProcessInstance)]
    if new:
        for instance in new:
            instance.lock_version = 1  # as the ORM's versioned INSERT sets it
        insert_rows(session.connection(), _INSTANCE, [_complete_row(i, _INSTANCE) for i in new], pipelined)
        _hold_as_loaded(session, new)
    write_pending_events(session, pipelined=pipelined)


def write_human_tasks(session: Session, connection: Connection, pipelined: bool) -> None:
    """Insert the session's new human task rows and update its changed ones; the ORM then holds them as written.

    The rows' instance is locked by the command, so an UPDATE meets its row without the flush's count check
    (which a pipeline could not make: the count arrives at its end).
    """
    new = [held for held in session.new if isinstance(held, HumanTask)]
    if new:
        insert_rows(connection, _HUMAN_TASK, [_complete_row(task, _HUMAN_TASK) for task in new], pipelined)
        _hold_as_loaded(session, new)
    changed: dict[tuple[str, ...], list[tuple[HumanTask, dict]]] = defaultdict(list)
    for held in session.dirty:
        if isinstance(held, HumanTask):
            values = _changed_values(held, _HUMAN_TASK)
            if values:
                changed[tuple(sorted(values))].append((held, values))
    for keys, tasks in changed.items():
        params = [{"b_id": task.id, **values} for task, values in tasks]
        connection.execute(_update(_HUMAN_TASK, keys), params if len(params) > 1 else params[0])
        for task, _values in tasks:
            _hold_as_written(session, task)


def write_instance(session: Session, connection: Connection, instance: ProcessInstance) -> Callable[[], None]:
    """Send the instance row's changed columns with its version bumped; returns the check to run after.

    The check reads the row count, as the ORM's versioned flush does, and refuses a row whose version moved
    since it was read (a writer that did not lock it) with `StaleDataError`, which the command turns into
    its stale-instance answer. Inside `one_round_trip` the count arrives with the pipeline's end, so the
    check runs after the block; the refusal then rolls back everything the round trip wrote.
    """
    values = _changed_values(instance, _INSTANCE)
    if not values:
        return lambda: None
    version = inspect(instance).committed_state.get("lock_version", instance.lock_version)
    values["lock_version"] = version + 1
    statement = _update(_INSTANCE, tuple(sorted(values)), versioned=True)
    result = connection.execute(statement, {"b_id": instance.id, "b_version": version, **values})

    def check() -> None:
        # The driver's cursor holds the count a pipeline delivered at its end; SQLAlchemy's result read
        # it when the statement was sent (-1 in a pipeline).
        matched = result.context.cursor.rowcount
        if matched != 1:
            raise StaleDataError(
                f"UPDATE statement on table 'process_instance' expected to update 1 row(s); {matched} were matched."
            )
        set_committed_value(instance, "lock_version", values["lock_version"])
        _hold_as_written(session, instance)

    return check


def _changed_values(held: object, table: Table) -> dict[str, Any]:
    """The columns set since the row was read or written (set to the same value or not: rewritten)."""
    state = inspect(held)
    # `committed_state` holds each attribute set since then (its value before); `unmodified` would be
    # computed anew, over every attribute, at each look-up.
    columns = table.columns
    return {key: state.dict[key] for key in state.committed_state if key in columns}


def _update(table: Table, keys: tuple[str, ...], versioned: bool = False) -> Any:
    # Built once per table, set of columns and version check: building a statement costs more than running
    # it compiled.
    statement = _UPDATES.get((table.name, keys, versioned))
    if statement is None:
        where = table.c.id == bindparam("b_id")
        if versioned:
            where = where & (table.c.lock_version == bindparam("b_version"))
        statement = update(table).where(where).values({k: bindparam(k) for k in keys})
        _UPDATES[table.name, keys, versioned] = statement
    return statement


def _hold_as_written(session: Session, held: object) -> None:
    """Mark every column of a row just written as committed, as the flush does after its own writes."""
    # SQLAlchemy's own step after a flush (no public equivalent): `set_committed_value` keeps the object
    # flagged modified, and the next flush would then walk it for nothing. The models have no relationships,
    # so the columns are all there is to commit. tests/test_round_trips.py checks the session is left clean.
    state = inspect(held)
    state._commit_all(state.dict, session.identity_map)


def _hold_as_loaded(session: Session, inserted: list) -> None:
    """New rows just inserted become persistent, as though loaded (every column is set: nothing to load)."""
    for held in inserted:
        session.expunge(held)
        make_transient_to_detached(held)
        session.add(held)


def _complete_row(held: object, table: Table) -> dict:
    """Every column of a new row, its defaults set on the object too, as the ORM's INSERT would have."""
    row = {}
    for column in table.columns:
        if column.key not in held.__dict__:
            default = column.default
            value = None
            if default is not None:
                value = default.arg(None) if default.is_callable else default.arg
            setattr(held, column.key, value)
        row[column.key] = held.__dict__[column.key]
    return row
