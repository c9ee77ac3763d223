"""The inbox and the instance search are answered from indexes: the database's own plan says so.

Each read runs as an official, a subdistrict official and an auditor would run it, with each filter on its
own; the statement it sent is explained on the same database (SQLite: EXPLAIN QUERY PLAN; PostgreSQL:
EXPLAIN with sequential scans priced out, so a plan that still scans has no index to use). No read may
scan human_task or process_instance, every index scan must be bounded by an index condition, and the
inbox's process filter must not reach into process_instance at all.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta

import pytest
from sqlalchemy import event

from engine import Engine
from engine.models import utcnow
from tests.conftest import who

TABLES = ("human_task", "process_instance")
INBOX_FILTERS: list[dict] = [
    {},
    {"scope": "candidate"},
    {"scope": "all"},
    {"status": "completed"},
    {"process_key": "petition_review"},
    {"org_unit": "qiaoyi"},
    {"due_before": utcnow() + timedelta(days=1)},
    {"q": "登记"},
    {"sort": "due"},
    {"sort": "priority"},
    {"sort": "-created"},
]
INSTANCE_FILTERS: list[dict] = [
    {},
    {"process_key": "petition_review"},
    {"status": "running"},
    {"org_unit": "qiaoyi"},
    {"q": "YT-2026"},
    {"started_from": utcnow() - timedelta(days=1)},
    {"started_to": utcnow() + timedelta(days=1)},
    {"actor": "wang"},
    {"missed_deadline": True},
    {"missed_deadline": False},
]


def plan_of(engine: Engine, read: Callable[[], object], table: str) -> list[str]:
    """The database's plan for the statement `read` sent that selects from `table`."""
    sent: list[tuple[str, object]] = []

    def capture(_conn, _cursor, statement, parameters, _context, _many) -> None:  # noqa: ANN001
        if statement.lstrip().upper().startswith("SELECT") and f"FROM {table}" in statement:
            sent.append((statement, parameters))

    event.listen(engine.sql_read, "before_cursor_execute", capture)
    try:
        read()
    finally:
        event.remove(engine.sql_read, "before_cursor_execute", capture)
    assert sent, f"the read sent no SELECT from {table}"
    statement, parameters = sent[-1]
    with engine.sql_read.connect() as conn:
        if engine.dialect == "postgresql":
            conn.exec_driver_sql("SET enable_seqscan = off")
            rows = conn.exec_driver_sql("EXPLAIN " + statement, parameters).all()
        else:
            rows = conn.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, parameters).all()
        conn.rollback()
    return [str(row[-1]) for row in rows]


def scans(plan: list[str], dialect: str) -> list[str]:
    """The plan's steps that read a whole table or a whole index of TABLES."""
    found: list[str] = []
    if dialect == "sqlite":
        # "SEARCH t USING INDEX i (col=?)" is bounded; "SCAN t" (with or without an index) reads it all.
        return [line for line in plan if re.match(rf"\s*SCAN ({'|'.join(TABLES)})\b", line)]
    nodes: list[list[str]] = []
    for line in plan:
        if "->" in line or not nodes:
            nodes.append([line])
        else:
            nodes[-1].append(line)
    for node in nodes:
        head = node[0]
        if not any(re.search(rf"\bon {table}\b", head) for table in TABLES):
            continue
        if "Seq Scan" in head:
            found.append(head.strip())
        elif "Index" in head and "Bitmap" not in head and not any("Index Cond" in line for line in node[1:]):
            found.append(head.strip())  # an index walked end to end, only to avoid the table
    return found


@pytest.fixture
def busy(petition: Engine) -> Engine:
    """A few petitions in two committees: open, claimed and completed tasks."""
    data = {"title": "加装电梯", "proposer_count": 30, "eligible_count": 100}
    for n, (unit, official) in enumerate([("qiaoyi", "wang"), ("ruinan", "chen"), ("qiaoyi", "wang")]):
        instance = petition.start("petition_review", unit, by=who(petition, official), business_key=f"YT-2026-{n}")
        if n == 0:
            petition.complete(instance["tasks"][0]["id"], who(petition, official), data)
        if n == 1:
            petition.claim(instance["tasks"][0]["id"], who(petition, official))
    return petition


@pytest.mark.parametrize("caller", ["wang", "zhang", "auditor"])
def test_every_inbox_filter_is_answered_from_the_task_tables_indexes(busy: Engine, caller: str) -> None:
    for filters in INBOX_FILTERS:
        plan = plan_of(busy, lambda f=filters: busy.inbox(who(busy, caller), **f), "human_task")
        assert scans(plan, busy.dialect) == [], (filters, plan)
        assert not any("process_instance" in line for line in plan), (filters, plan)


@pytest.mark.parametrize("caller", ["wang", "auditor"])
def test_every_instance_search_filter_is_answered_from_indexes(busy: Engine, caller: str) -> None:
    for filters in INSTANCE_FILTERS:
        plan = plan_of(busy, lambda f=filters: busy.list_instances(who(busy, caller), **f), "process_instance")
        assert scans(plan, busy.dialect) == [], (filters, plan)


def test_the_plan_check_notices_a_scan(busy: Engine) -> None:
    """The check above can fail: a search on a column without an index is reported as a scan."""
    plan = plan_of(busy, lambda: busy.inbox(who(busy, "wang"), q="登记"), "human_task")
    with busy.sql_read.connect() as conn:
        if busy.dialect == "postgresql":
            conn.exec_driver_sql("SET enable_seqscan = off")
            rows = conn.exec_driver_sql("EXPLAIN SELECT id FROM human_task WHERE why = 'x'").all()
        else:
            rows = conn.exec_driver_sql("EXPLAIN QUERY PLAN SELECT id FROM human_task WHERE why = 'x'").all()
        conn.rollback()
    assert scans([str(r[-1]) for r in rows], busy.dialect) != []
    assert scans(plan, busy.dialect) == []
