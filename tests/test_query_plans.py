"""The inbox and the instance search are answered from indexes: the database's own plan says so.

Each read runs as an official, a subdistrict official and an auditor would run it, with each filter on its
own; the statement it sent is explained on the same database (SQLite: EXPLAIN QUERY PLAN; PostgreSQL:
EXPLAIN with sequential scans priced out, so a plan that still scans has no index to use). No read may
scan human_task or process_instance, every index scan must be bounded by an index condition, and the
inbox's process filter must not reach into process_instance at all.

One walk is not a scan: an index in the list's own order (ORDERED), read from its end with nothing to
sort after it, stops after one page. That is how an auditor at the root of the org tree reads the newest
instances of the whole city (migration 0010), where a reach condition would bound nothing.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from engine import Engine
from engine.commands.queries import TASK_SORTS
from engine.models import HumanTask, ProcessInstance, utcnow
from engine.reach import takes_in_every_root, within
from tests.conftest import who
from tests.statements import statements_sent

TABLES = ("human_task", "process_instance")
ORDERED = ("ix_process_instance_started",)
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


def plan_of(engine: Engine, read: Callable[[], object], table: str, price_out_sorts: bool = False) -> list[str]:
    """The database's plan for the statement `read` sent that selects from `table`. `price_out_sorts`: on
    PostgreSQL sorts are priced out too (on a table this small a sort is always cheap), so a plan that
    still sorts has no index giving the order."""
    with statements_sent(engine.sql_read) as everything:
        read()
    sent = [one for one in everything if one.words[0].upper() == "SELECT" and f"FROM {table}" in one.statement]
    assert sent, f"the read sent no SELECT from {table}"
    statement, parameters = sent[-1].statement, sent[-1].parameters
    with engine.sql_read.connect() as conn:
        if engine.dialect == "postgresql":
            conn.exec_driver_sql("SET enable_seqscan = off")
            if price_out_sorts:
                conn.exec_driver_sql("SET enable_sort = off")
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
        walks = [line for line in plan if re.match(rf"\s*SCAN ({'|'.join(TABLES)})\b", line)]
        if ordered_walk(plan, dialect):
            walks = [line for line in walks if not any(f"USING INDEX {index}" in line for index in ORDERED)]
        return walks
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
            if ordered_walk(plan, dialect) and any(f"using {index} " in head for index in ORDERED):
                continue  # the list's order, read until one page is full
            found.append(head.strip())  # an index walked end to end, only to avoid the table
    return found


def ordered_walk(plan: list[str], dialect: str) -> bool:
    """The plan reads rows in the list's order: nothing sorts them afterwards."""
    if dialect == "sqlite":
        return not any("TEMP B-TREE FOR" in line for line in plan)
    return not any(re.search(r"->\s+(Incremental )?Sort\b|^\s*(Incremental )?Sort\b", line) for line in plan)


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
        # The root auditor's reach bounds nothing: a filter that bounds nothing either (no missed deadline)
        # is the newest-first walk of the whole city, which on these few rows PostgreSQL prices below a sort.
        read = lambda f=filters: busy.list_instances(who(busy, caller), **f)  # noqa: E731
        plan = plan_of(busy, read, "process_instance", price_out_sorts=caller == "auditor")
        assert scans(plan, busy.dialect) == [], (filters, plan)


@pytest.mark.parametrize("missed", [True, False])
def test_the_missed_deadline_probe_reads_the_tasks_instance_index_alone(busy: Engine, missed: bool) -> None:
    """Migration 0012: each case of a unit is probed for a step that missed its deadline from the index on
    (instance_id, due_at, completed_at, status), not from task rows scattered over the table (a
    subdistrict's cases at city scale, pages not cached: 144 ms median before, 68 after this index, 26
    with the cases' org path index holding their order key too)."""
    read = lambda: busy.list_instances(who(busy, "auditor"), org_unit="qiaoyi", missed_deadline=missed)  # noqa: E731
    plan = plan_of(busy, read, "process_instance")
    probes = [line for line in plan if "human_task" in line]
    assert probes and all("ix_human_task_instance_due" in line for line in probes), plan
    if busy.dialect == "sqlite":
        assert all("COVERING INDEX" in line for line in probes), plan


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


def test_a_city_auditor_reads_instances_of_a_status_newest_first_from_one_index(busy: Engine) -> None:
    """Migration 0010: status, then the list's order; no sort of every running instance of the city.

    SQLite takes (status, started_at, id). PostgreSQL, on a table of a few rows, may as well walk
    (started_at, id) and filter: either way, with sorts priced out, the plan must read in the list's order."""
    with busy.sql.begin() as conn:  # with statistics, as a database that has run a while has them
        conn.exec_driver_sql("ANALYZE process_instance")
    plan = plan_of(busy, lambda: busy.list_instances(who(busy, "auditor"), status="running"), "process_instance", True)
    assert ordered_walk(plan, busy.dialect), plan
    assert not any("Seq Scan" in line for line in plan), plan
    if busy.dialect == "sqlite":
        assert any("ix_process_instance_status_started" in line for line in plan), plan
    else:
        assert any(
            "ix_process_instance_status_started" in line or "ix_process_instance_started" in line for line in plan
        )


@pytest.mark.parametrize("status", ["open", "completed"])
def test_a_city_auditor_reads_every_task_list_order_from_one_index(busy: Engine, status: str) -> None:
    """Migration 0016: the root auditor's reach bounds nothing and is left out, so each order of the task list
    is read off an index on (status, the order's keys): no sort of every task of the status (SQLite 0.14-3 s
    for a first page at city scale, PostgreSQL 0.06-0.32 s; 2-10 ms with these indexes)."""
    auditor = who(busy, "auditor")
    for sort in TASK_SORTS:
        read = lambda o=sort: busy.inbox(auditor, scope="all", status=status, sort=o)  # noqa: E731
        plan = plan_of(busy, read, "human_task", price_out_sorts=True)
        assert ordered_walk(plan, busy.dialect), (sort, plan)
        assert scans(plan, busy.dialect) == [], (sort, plan)
        assert not any("org_path" in line for line in plan), (sort, plan)
    # What it reads is every task of the status, in the list's order, page after page.
    with busy.reading() as session:
        expected = (
            session.execute(
                select(HumanTask.id).where(HumanTask.status == status).order_by(HumanTask.created_at, HumanTask.id)
            )
            .scalars()
            .all()
        )
    listed, cursor = [], None
    while True:
        page = busy.inbox(auditor, scope="all", status=status, sort="created", cursor=cursor, limit=1)
        listed += [item["id"] for item in page["items"]]
        cursor = page.get("next_cursor")
        if not cursor:
            break
    assert expected and listed == expected


def test_a_reach_below_the_root_still_bounds_the_task_list(busy: Engine) -> None:
    """Only a reach that takes in every root of the org tree is left out: a committee official's list keeps
    its org path condition and sees nothing of another committee."""
    with busy.reading() as session:
        assert takes_in_every_root(session, ["sh/"])
        assert not takes_in_every_root(session, ["sh/hp/", "sh/fx/"])
        assert not takes_in_every_root(session, [])

    def units(caller: str) -> set[str]:
        return {item["candidate"]["org_unit"] for item in busy.inbox(who(busy, caller), scope="all")["items"]}

    assert units("auditor") >= {"qiaoyi", "ruinan"}
    assert units("wang") == {"qiaoyi"}


def test_an_officials_audit_trail_is_read_by_their_cases_keys(busy: Engine) -> None:
    """A committee's or a subdistrict's few cases: their events come by the trail's key (stream, seq), then
    are sorted. Walking the city's events in time order and probing each one's case read most of 2.5 million
    events for a committee official's first page (1-2 s at city scale). Many cases: the walk, as before."""
    from engine.commands import queries

    wang = who(busy, "wang")

    def trail() -> tuple[set[str], str]:
        with statements_sent(busy.sql_read) as sent:
            events = busy.audit_events(wang, limit=500)["items"]
        (statement,) = [one.statement for one in sent if "FROM audit_event" in one.statement]
        return {e["instance_id"] for e in events}, statement

    mine, statement = trail()
    assert mine and mine <= {i["id"] for i in busy.list_instances(wang, limit=500)["items"]}
    assert "audit_event.stream IN (SELECT" in statement
    if busy.dialect == "sqlite":  # PostgreSQL plans this small table as it likes; the city's uses the key
        plan = plan_of(busy, lambda: busy.audit_events(wang), "audit_event")
        assert not any("ix_audit_event_at" in line for line in plan), plan
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(queries, "FEW_ROWS", 1)
        walked, statement = trail()
        assert walked == mine and "audit_event.stream IN" not in statement


def test_each_candidate_lane_carries_its_own_unclaimed_condition(busy: Engine) -> None:
    """The unclaimed condition sits inside every lane's condition, next to its role and unit, so a database
    can answer each lane from the candidate index (status, role, org_code, ...); outside the OR, SQLite read
    every unclaimed task of the city through the assignee index (bench/run.py, inbox at city scale)."""
    from engine.commands.queries import _candidate_tasks, _unclaimed

    clause = _candidate_tasks(who(busy, "wang"), busy.dialect)
    lanes = list(clause.clauses) if clause.__class__.__name__ == "BooleanClauseList" else [clause]
    assert lanes
    for lane in lanes:
        assert str(_unclaimed(busy.dialect)) in str(lane), str(lane)
        assert "human_task.org_code" in str(lane), str(lane)


def test_a_business_key_prefix_finds_the_same_cases_with_its_index_range(busy: Engine) -> None:
    """On SQLite the prefix is also a range [prefix, prefix with its last character raised); the cases
    found are the LIKE's, up to the last character below the surrogates (raised to U+E000)."""
    edge = busy.start("petition_review", "qiaoyi", by=who(busy, "wang"), business_key="YT-\ud7ff-9")
    auditor = who(busy, "auditor")

    def keys(q: str) -> list[str]:
        return sorted(i["business_key"] for i in busy.list_instances(auditor, q=q)["items"])

    assert keys("YT-2026") == ["YT-2026-0", "YT-2026-1", "YT-2026-2"]
    assert keys("YT-2026-1") == ["YT-2026-1"]
    assert keys("YT-\ud7ff") == ["YT-\ud7ff-9"]
    assert keys("YT-_026") == [] and keys("YT-%") == []
    assert keys(edge["id"]) == ["YT-\ud7ff-9"]


def probe_plan(engine: Engine, by: object, q: str) -> list[str]:
    """PostgreSQL's plan for the task list's look for the cases whose business key holds `q`: sequential
    scans priced out, and the prefix index dropped for the look (rolled back), which on so few rows the
    planner reads whole instead of the trigrams."""
    with statements_sent(engine.sql_read) as sent:
        engine.inbox(by, scope="all", q=q)
    (probe,) = [one for one in sent if one.statement.startswith("SELECT DISTINCT process_instance.business_key")]
    with engine.sql_read.connect() as conn:
        conn.exec_driver_sql("SET enable_seqscan = off")
        conn.exec_driver_sql("DROP INDEX ix_process_instance_business_key")
        rows = conn.exec_driver_sql("EXPLAIN " + probe.statement, probe.parameters).all()
        conn.rollback()
    return [str(row[-1]) for row in rows]


def test_a_text_found_only_in_case_numbers_reads_those_cases_tasks_first(busy: Engine) -> None:
    """The task list's search text among many listed tasks: when it names no step, the cases whose business
    key holds it are found first and only their tasks read (a case looked up among a city's 900,000 done
    tasks: 2 s on SQLite, 0.4-4.4 s on PostgreSQL, walking them all). The same tasks either way; a text
    naming a step, or found in many cases, is walked as before."""
    from engine.commands import queries

    auditor, wang = who(busy, "auditor"), who(busy, "wang")
    step = busy.inbox(auditor, scope="all")["items"][0]["name"]
    searches = [
        (auditor, "2026-1", "open"),
        (auditor, "yt-2026-0", "completed"),  # case ignored, as a LIKE ignores it
        (auditor, "026", "open"),
        (auditor, "不存在", "open"),
        (auditor, step[1:], "open"),
        (wang, "2026-1", "open"),  # another committee's case: out of his reach
        (wang, "2026-2", "open"),
    ]

    def keys(by: object, q: str, status: str) -> tuple[list[str], str]:
        with statements_sent(busy.sql_read) as sent:
            items = busy.inbox(by, scope="all", status=status, q=q)["items"]
        listed = [one.statement for one in sent if "FROM human_task" in one.statement][-1]
        return sorted(i["business_key"] for i in items), listed

    walked = [keys(*search)[0] for search in searches]  # a few listed tasks: walked
    every = ["YT-2026-0", "YT-2026-1", "YT-2026-2"]
    assert walked == [["YT-2026-1"], ["YT-2026-0"], every, [], walked[4], [], ["YT-2026-2"]]
    assert walked[4] and set(walked[4]) <= set(every)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(queries, "FEW_ROWS", 1)  # as many listed tasks as a city's
        for search, expected in zip(searches, walked, strict=True):
            found, statement = keys(*search)
            assert found == expected, search
            assert ("human_task.instance_id IN" in statement) == (search[1] != step[1:]), (search, statement)
        if busy.dialect == "sqlite":
            plan = plan_of(busy, lambda: busy.inbox(auditor, scope="all", q="2026-1"), "human_task")
            assert scans(plan, busy.dialect) == [] and any("ix_human_task_instance_due" in line for line in plan), plan
        else:  # the cases from the keys' trigrams (0019); a text too short to have one passes over the keys
            assert "ix_process_instance_business_key_trgm" in " ".join(probe_plan(busy, auditor, "2026-1"))
            assert "ix_process_instance_business_key_trgm" not in " ".join(probe_plan(busy, auditor, "26"))
        patch.setattr(queries, "FEW_KEYS", 1)  # "026" is in more cases than that: walked
        found, statement = keys(auditor, "026", "open")
        assert found == every and "human_task.instance_id IN" not in statement


def test_units_holding_many_cases_are_searched_by_walking_the_newest(busy: Engine) -> None:
    """A district's running cases without a missed deadline: on SQLite, units that hold many cases are not
    read from the org path index (a district's 21,000 at city scale, all sorted for one page) but found
    by walking the newest running cases; few cases are still read from it. The same cases either way."""
    from engine.commands import queries

    auditor, zhang = who(busy, "auditor"), who(busy, "zhang")
    with busy.transaction() as session:  # ruinan's case has an open step past its due time
        session.execute(
            update(HumanTask)
            .where(HumanTask.org_code == "ruinan", HumanTask.status == "open")
            .values(due_at=utcnow() - timedelta(days=1))
        )
    searches = [
        (auditor, {"org_unit": "hp", "status": "running", "missed_deadline": False}),
        (auditor, {"org_unit": "wlq", "missed_deadline": True}),
        (zhang, {"status": "running"}),  # a subdistrict official's reach
    ]
    few = [{i["id"] for i in busy.list_instances(by, **f)["items"]} for by, f in searches]
    assert [len(found) for found in few] == [2, 1, 3] and few[0] | few[1] == few[2]
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(queries, "FEW_ROWS", 1)
        assert [{i["id"] for i in busy.list_instances(by, **f)["items"]} for by, f in searches] == few
        if busy.dialect == "sqlite":
            for by, filters in searches:
                plan = plan_of(busy, lambda b=by, f=filters: busy.list_instances(b, **f), "process_instance")
                assert ordered_walk(plan, busy.dialect), (filters, plan)
                assert not any("ix_process_instance_org_path" in line for line in plan), (filters, plan)
    with busy.reading() as session:  # few cases: the plain range, which the org path index answers
        assert str(busy._instances_in_units(session, ["sh/hp/"])) == str(within(ProcessInstance.org_path, ["sh/hp/"]))


# sqlite_stat1 of human_task as ANALYZE wrote it for bench/city_data.py's city (1,000,000 tasks, 100,000 open,
# 70,000 of them unclaimed): one average per index prefix, about 155 tasks per assignee (the assignee and
# completer indexes hold only the tasks someone holds, 0015).
CITY_TASK_STATS = {
    "ix_human_task_due": "1000000 500000 3 1 1",
    "ix_human_task_candidate": "1000000 500000 500000 84 1",
    "ix_human_task_process": "1000000 500000 500000 1",
    "ix_human_task_priority": "1000000 500000 500000 1 1",
    "ix_human_task_created": "1000000 500000 1 1",
    "ix_human_task_org_path": "1000000 167 84",
    "ix_human_task_completed_by": "900000 150 150 1",
    "ix_human_task_instance_due": "1000000 3 2 1 1",
    "ix_human_task_assignee": "929923 155 78 1",
    "sqlite_autoindex_human_task_1": "1000000 1",
}


def test_unclaimed_tasks_are_never_read_through_the_assignee_index(busy: Engine) -> None:
    """With the city's statistics the assignee index looks as selective for "unclaimed" (84 rows a value
    and status) as the candidate index is for a lane, while 70,000 tasks are unclaimed: SQLite took it for
    the lane of steps without a role and read them all (an official's inbox page: 130 ms at city scale,
    236 ms for its statement alone). Only the official's own tasks may come from the assignee index."""
    if busy.dialect != "sqlite":
        pytest.skip("PostgreSQL's statistics know the share of NULLs; SQLite's hold one average per index")
    indexes = {index.name: index for index in HumanTask.__table__.indexes}
    with busy.sql.begin() as conn:
        # On a tie SQLite takes the index it meets first; the city database had them in this order.
        for name in CITY_TASK_STATS:
            if name in indexes:
                indexes[name].drop(conn)
        for name in reversed(CITY_TASK_STATS):
            if name in indexes:
                indexes[name].create(conn)
        conn.exec_driver_sql("ANALYZE")  # creates sqlite_stat1
        conn.exec_driver_sql("DELETE FROM sqlite_stat1 WHERE tbl = 'human_task'")
        for index, stat in CITY_TASK_STATS.items():
            conn.exec_driver_sql("INSERT INTO sqlite_stat1 VALUES ('human_task', ?, ?)", (index, stat))
    busy.sql_read.dispose()  # new connections load the statistics with the schema
    for scope in ("all", "candidate"):
        plan = plan_of(busy, lambda s=scope: busy.inbox(who(busy, "wang"), scope=s), "human_task")
        through_assignee = [line for line in plan if "ix_human_task_assignee" in line]
        assert len(through_assignee) == (1 if scope == "all" else 0), (scope, plan)
