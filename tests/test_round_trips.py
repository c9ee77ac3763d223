"""On PostgreSQL a command sends its audit, task and human task rows in one round trip; a refusal loses nothing.

The instance row goes last, its version checked once the round trip is back (engine/row_writes.py): a row
changed meanwhile refuses the command as stale, and the ORM's flush is left nothing to write.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from sqlalchemy import event, text
from sqlalchemy.orm import Session

from engine import Engine
from engine.errors import DatabaseFull, DatabaseUnavailable, StaleInstance
from tests.conftest import who
from tests.statements import Sent, statements_sent

DATA = {"title": "加装电梯", "proposer_count": 30, "eligible_count": 100}
_WRITE = re.compile(r"^\s*(INSERT INTO|UPDATE|DELETE FROM)\s+(\w+)", re.IGNORECASE)


def writes(sent: list[Sent]) -> list[tuple[str, bool]]:
    """Each write among `sent` ("UPDATE human_task", ...) and whether it went in a pipeline."""
    found = ((_WRITE.match(one.statement), one.pipelined) for one in sent)
    return [(f"{m.group(1).split()[0].upper()} {m.group(2)}", pipelined) for m, pipelined in found if m]


@contextmanager
def row_trigger(engine: Engine, name: str, when: str, table: str, body: str) -> Iterator[None]:
    """A row trigger running `body` (the database's own dialect) while inside; dropped after."""
    with engine.sql.begin() as conn:
        if engine.dialect == "postgresql":
            conn.execute(text(f"CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN {body}; END $$"))
            conn.execute(text(f"CREATE TRIGGER {name} {when} ON {table} FOR EACH ROW EXECUTE FUNCTION {name}()"))
        else:
            conn.execute(text(f"CREATE TRIGGER {name} {when} ON {table} BEGIN {body}; END"))
    try:
        yield
    finally:
        with engine.sql.begin() as conn:
            if engine.dialect == "postgresql":
                conn.execute(text(f"DROP TRIGGER {name} ON {table}"))
                conn.execute(text(f"DROP FUNCTION {name}()"))
            else:
                conn.execute(text(f"DROP TRIGGER {name}"))


def assert_as_before_and_completes(engine: Engine, instance_id: str, task_id: str, history: list) -> None:
    """Nothing of a refused command was kept (the task open, the history and its chain as before), and the
    next command, on the same connection pool, completes the task."""
    assert [t["id"] for t in engine.get_instance(instance_id)["tasks"]] == [task_id]
    assert engine.history(instance_id) == history
    assert engine.verify_audit(instance_id).ok
    result = engine.complete(task_id, who(engine, "wang"), DATA)
    assert result["next_tasks"] and engine.verify_audit(instance_id).ok


def test_a_completions_rows_travel_together_the_version_checked_instance_row_last(petition: Engine) -> None:
    engine = petition
    instance = engine.start("petition_review", "qiaoyi", by=who(engine, "wang"))
    with statements_sent(engine.sql) as statements:
        result = engine.complete(instance["tasks"][0]["id"], who(engine, "wang"), DATA)
    sent = writes(statements)
    assert result["next_tasks"], result
    pipelined = {name for name, inside in sent if inside}
    alone = {name for name, inside in sent if not inside}
    if engine.dialect == "postgresql":
        written = {"INSERT audit_event", "INSERT workflow_task", "UPDATE workflow_task"}
        assert written | {"INSERT human_task", "UPDATE human_task", "UPDATE process_instance"} <= pipelined, sent
        assert not alone, sent  # the instance's version check reads its row count after the round trip
    else:
        assert not pipelined, sent  # SQLite runs in the process: nothing to batch
    # The first names are the audit rows: what the crash test's stall points rely on; the instance row last.
    assert sent[0][0] == "INSERT audit_event", sent
    assert sent[-1][0] == "UPDATE process_instance", sent
    assert [name for name, _ in sent].count("UPDATE process_instance") == 1, sent
    assert engine.verify_audit(instance["id"]).ok


def test_a_start_writes_its_instance_row_once_before_the_rows_that_refer_to_it(petition: Engine) -> None:
    engine = petition
    wang = who(engine, "wang")
    with statements_sent(engine.sql) as statements:
        started = engine.start("petition_review", "qiaoyi", by=wang)
    sent = writes(statements)
    names = [name for name, _ in sent]
    # One INSERT with the values the start left (no UPDATE after it), ahead of its audit, task and inbox rows.
    assert names[0] == "INSERT process_instance" and "UPDATE process_instance" not in names, sent
    assert {"INSERT audit_event", "INSERT workflow_task", "INSERT human_task"} <= set(names[1:]), sent
    if engine.dialect == "postgresql":
        assert all(inside for _, inside in sent), sent
    case = engine.get_instance(started["id"])
    assert case["status"] == "running" and [t["id"] for t in case["tasks"]] == [started["tasks"][0]["id"]]
    assert engine.verify_audit(started["id"]).ok
    # The cached workflow is current at the version written: the next command continues from it.
    result = engine.complete(started["tasks"][0]["id"], wang, DATA)
    assert result["next_tasks"] and engine.verify_audit(started["id"]).ok


def test_a_completion_leaves_the_orms_flush_nothing_to_do(petition: Engine) -> None:
    """Rows written with Core are marked as written: no flush walks them again (about a tenth of a command)."""
    engine = petition
    instance = engine.start("petition_review", "qiaoyi", by=who(engine, "wang"))
    flushes: list[list[str]] = []

    def flushing(session: Session, _context: object, _instances: object) -> None:
        flushes.append(sorted(type(held).__name__ for held in [*session.new, *session.dirty]))

    event.listen(Session, "before_flush", flushing)
    try:
        result = engine.complete(instance["tasks"][0]["id"], who(engine, "wang"), DATA)
    finally:
        event.remove(Session, "before_flush", flushing)
    assert result["next_tasks"], result
    assert flushes == [], flushes
    # What was written is what a reader sees: the next step is open, the case's version moved once.
    case = engine.get_instance(instance["id"])
    assert [t["id"] for t in case["tasks"]] == [t["id"] for t in result["next_tasks"]]
    assert engine.verify_audit(instance["id"]).ok


def test_an_instance_row_changed_meanwhile_refuses_the_command_as_stale_and_loses_nothing(petition: Engine) -> None:
    """A writer that skipped the instance's lock (a trigger stands in for it) bumps its version mid-command."""
    engine = petition
    instance = engine.start("petition_review", "qiaoyi", by=who(engine, "wang"))
    task_id = instance["tasks"][0]["id"]
    history = engine.history(instance["id"])
    bump = "UPDATE process_instance SET lock_version = lock_version + 1 WHERE id = NEW.instance_id"
    body = f"{bump}; RETURN NEW" if engine.dialect == "postgresql" else bump
    with row_trigger(engine, "bump_instance", "AFTER INSERT", "workflow_task", body):
        with pytest.raises(StaleInstance) as answer:
            engine.complete(task_id, who(engine, "wang"), DATA)
        assert "changed by someone else" in str(answer.value)
    assert_as_before_and_completes(engine, instance["id"], task_id, history)


# What the server does to the task rows: refuses them as PostgreSQL does when it cannot extend a table's
# file (SQLSTATE 53100), or ends the connection while it writes them (a server restarted, a backend killed).
REFUSALS = {
    "disk_full": (
        "RAISE EXCEPTION 'could not extend file \"base/1/2\": No space left on device' USING ERRCODE = '53100'",
        DatabaseFull,
        "no room left",
    ),
    "connection_ended": (
        "PERFORM pg_terminate_backend(pg_backend_pid()); RETURN NEW",
        DatabaseUnavailable,
        "not available",
    ),
}


@pytest.mark.postgres
@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)  # SQLite's full disk: tests/test_faults.py
@pytest.mark.parametrize("refusal", list(REFUSALS))
# The first task row written in the round trip (its error comes out of whichever statement psycopg is
# sending when the answer arrives), a human task row, or the instance row, the last (out of the round
# trip's end, where SQLAlchemy runs nothing).
@pytest.mark.parametrize(
    ("table", "refused", "is_last"),
    [
        ("workflow_task", "INSERT OR UPDATE", False),
        ("human_task", "UPDATE", False),
        ("process_instance", "UPDATE", True),
    ],
)
def test_a_write_refused_inside_the_round_trip_answers_with_a_sentence_and_the_case_is_as_before(
    petition: Engine, refusal: str, table: str, refused: str, is_last: bool
) -> None:
    engine = petition
    body, error, sentence = REFUSALS[refusal]
    instance = engine.start("petition_review", "qiaoyi", by=who(engine, "wang"))
    task_id = instance["tasks"][0]["id"]
    history = engine.history(instance["id"])
    with row_trigger(engine, "refuse_task_rows", f"BEFORE {refused}", table, body):
        with statements_sent(engine.sql) as statements, pytest.raises(error) as answer:
            engine.complete(task_id, who(engine, "wang"), DATA)
        sent = writes(statements)
        pipelined = [name for name, inside in sent if inside]
        first_refused = f"{refused.split()[0]} {table}"
        assert first_refused in pipelined, sent  # the refusal met a pipelined write
        if is_last:
            assert pipelined[-1] == first_refused, sent
        assert sentence in str(answer.value)
    assert_as_before_and_completes(engine, instance["id"], task_id, history)
