"""What one command costs does not grow with the instance's history, and specs are parsed once per hash."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from engine import Engine
from engine.config import Settings
from engine.errors import NotAllowed, UnknownOrgUnit
from engine.spiff import bpmn_parser
from tests.conftest import PETITION_BUNDLE, read_bundle, who
from tests.statements import Sent, statements_sent

_TASK_ROW_WRITE = re.compile(r"^\s*(INSERT INTO|UPDATE|DELETE FROM)\s+workflow_task\b", re.IGNORECASE)


@contextmanager
def task_row_writes(engine: Engine) -> Iterator[Counter]:
    """Counts the statements that write workflow_task rows, and the rows they carry, while inside."""
    counts: Counter = Counter()
    with statements_sent(engine.sql) as sent:
        yield counts
    for one in sent:
        match = _TASK_ROW_WRITE.match(one.statement)
        if match:
            verb = match.group(1).split()[0].lower()
            counts[f"{verb} statements"] += 1
            counts[f"{verb} rows"] += one.rows


def revise(engine: Engine, task_id: str, done: bool = False) -> str:
    result = engine.complete(task_id, who(engine, "wang"), {"done": done})
    return result["next_tasks"][0]["id"] if result["next_tasks"] else ""


def test_a_commands_writes_do_not_grow_with_the_instances_history(petition: Engine) -> None:
    engine = petition
    engine.deploy(read_bundle("queries_loop.bpmn"), by=who(engine, "designer"))
    instance = engine.start("revise_until_done", "qiaoyi", by=who(engine, "wang"))
    task_id = instance["tasks"][0]["id"]
    measured: dict[tuple[int, str], Counter] = {}
    for round_no in range(1, 201):
        if round_no in (10, 200):
            with task_row_writes(engine) as hot:
                task_id = revise(engine, task_id)
            measured[round_no, "cached"] = hot
            engine.live.forget(instance["id"])  # the next command restores the workflow from its rows
            with task_row_writes(engine) as cold:
                task_id = revise(engine, task_id)
            measured[round_no, "restored"] = cold
        else:
            task_id = revise(engine, task_id)
    assert measured[10, "cached"]["update rows"] > 0 and measured[10, "cached"]["insert rows"] > 0
    assert measured[10, "cached"] == measured[200, "cached"]
    assert measured[10, "restored"] == measured[200, "restored"]
    revise(engine, task_id, done=True)
    assert engine.get_instance(instance["id"])["status"] == "completed"


@pytest.fixture
def counted(monkeypatch: pytest.MonkeyPatch) -> Counter:
    """How often a spec is restored from its stored JSON and how often BPMN XML is parsed, calls passed on."""
    calls: Counter = Counter()
    import engine.store

    restore = engine.store.spec_from_json

    def counting_restore(blob: bytes):  # noqa: ANN202
        calls["spec restored"] += 1
        return restore(blob)

    add_xml = bpmn_parser.GovflowBpmnParser.add_bpmn_xml

    def counting_parse(self, *args, **kwargs):  # noqa: ANN001, ANN202
        calls["bpmn parsed"] += 1
        return add_xml(self, *args, **kwargs)

    monkeypatch.setattr(engine.store, "spec_from_json", counting_restore)
    monkeypatch.setattr(bpmn_parser.GovflowBpmnParser, "add_bpmn_xml", counting_parse)
    return calls


def test_parsed_specs_are_cached_by_hash_so_later_commands_neither_parse_nor_restore_them(
    org: Engine, db_url: str, counted: Counter
) -> None:
    org.deploy(read_bundle(*PETITION_BUNDLE), by=who(org, "designer"))
    assert counted["bpmn parsed"] >= 1
    counted.clear()
    # The process that deployed keeps the parsed spec: no parse, no restore.
    first = org.start("petition_review", "qiaoyi", by=who(org, "wang"))
    assert counted == Counter()

    # Another process (empty caches) restores the spec once, by its hash, and never parses XML.
    other = Engine(Settings(database_url=db_url, password_profile="fast"))
    try:
        second = other.start("petition_review", "qiaoyi", by=who(other, "wang"))
        assert counted == Counter({"spec restored": 1})
        data = {"title": "t", "proposer_count": 30, "eligible_count": 100}
        other.complete(second["tasks"][0]["id"], who(other, "wang"), data)
        other.live.forget(first["id"])  # even an instance it never held: its workflow restores, its spec does not
        other.complete(first["tasks"][0]["id"], who(other, "wang"), data)
        other.start("petition_review", "qiaoyi", by=who(other, "wang"))
        assert counted == Counter({"spec restored": 1})
    finally:
        other.close()


def human_task_reads(sent: list[Sent]) -> list[str]:
    """The WHERE clause of each SELECT from human_task among `sent`."""
    reads = []
    for one in sent:
        head, _, where = " ".join(one.words).partition(" WHERE ")
        if head.startswith("SELECT") and "FROM human_task" in head and where:
            reads.append(where)
    return reads


def test_a_cached_cases_projection_reads_only_the_rows_it_cannot_know_and_a_restored_one_searches(
    petition: Engine,
) -> None:
    # Searching "this case's open rows" goes through an index over every open task (or, on PostgreSQL, its
    # stale entries until a vacuum). A case this process started and kept cached knows its rows: the open
    # one the command read with the instance, the next one new, with no row to read.
    engine = petition
    wang = who(engine, "wang")
    data = {"title": "加装电梯", "proposer_count": 30, "eligible_count": 100}
    for _ in range(5):  # other cases' open tasks, which the reads must not touch
        engine.start("petition_review", "qiaoyi", by=wang)
    cached = engine.start("petition_review", "qiaoyi", by=wang)
    restored = engine.start("petition_review", "qiaoyi", by=wang)
    engine.live.forget(restored["id"])  # as in another process, or after a restart
    with statements_sent(engine.sql) as sent:
        after_cached = engine.complete(cached["tasks"][0]["id"], wang, data)
    known = human_task_reads(sent)
    with statements_sent(engine.sql) as sent:
        after_restored = engine.complete(restored["tasks"][0]["id"], wang, data)
    searched = human_task_reads(sent)
    assert not any("status" in where or " IN " in where for where in known), known
    assert any("status" in where for where in searched), searched
    # Either way the same step opens next, for the same people.
    [next_cached], [next_restored] = after_cached["next_tasks"], after_restored["next_tasks"]
    assert {k: v for k, v in next_cached.items() if k not in {"id", "instance_id", "created_at"}} == {
        k: v for k, v in next_restored.items() if k not in {"id", "instance_id", "created_at"}
    }
    # Returned to, a ready task has a row already, which the cached case opens again (not a second row).
    zhang = who(engine, "zhang")
    engine.claim(next_cached["id"], zhang)
    returned = engine.return_task(next_cached["id"], zhang, "联名人数与名册不符，请核对")
    [again] = returned["next_tasks"]
    assert (again["id"], again["assignee"], again["status"]) == (cached["tasks"][0]["id"], "wang", "open")


def test_a_case_started_reads_no_task_rows_for_its_first_projection(petition: Engine) -> None:
    # No human task row of a case exists before its start commits: its first projection has nothing to read.
    engine = petition
    wang = who(engine, "wang")
    engine.start("petition_review", "qiaoyi", by=wang)  # another case's open task, which must stay apart
    with statements_sent(engine.sql) as sent:
        started = engine.start("petition_review", "qiaoyi", by=wang)
    assert human_task_reads(sent) == []
    [first] = started["tasks"]
    assert first["status"] == "open" and first["candidate"]["org_unit"] == "qiaoyi", first
    assert [t["id"] for t in engine.get_instance(started["id"])["tasks"]] == [first["id"]]
    # Its next command, on the cached workflow, completes that row and opens the next step's.
    data = {"title": "加装电梯", "proposer_count": 30, "eligible_count": 100}
    result = engine.complete(first["id"], wang, data)
    assert result["next_tasks"] and engine.get_task(first["id"])["status"] == "completed", result
    assert [t["id"] for t in engine.get_instance(started["id"])["tasks"]] == [t["id"] for t in result["next_tasks"]]


def org_unit_reads(sent: list[Sent]) -> list[str]:
    """Each statement among `sent` that reads org_unit."""
    reads = [" ".join(one.words) for one in sent]
    return [r for r in reads if "org_unit" in r and r.split()[0] in {"SELECT", "WITH"}]


@pytest.mark.parametrize("starter", ["wang", "zhang", "admin"])  # the committee, the subdistrict above, the city
def test_a_start_reads_its_unit_and_the_units_above_it_once(petition: Engine, starter: str) -> None:
    # The reach check (is the starter's unit at or above the case's?) and the first task's candidate walk
    # (which unit on the path works the lane) both find the units the start read with its unit.
    engine = petition
    with statements_sent(engine.sql) as sent:
        started = engine.start("petition_review", "qiaoyi", by=who(engine, starter))
    assert len(org_unit_reads(sent)) == 1, org_unit_reads(sent)
    [first] = started["tasks"]
    assert first["candidate"] == {"role": "residents_committee", "org_unit": "qiaoyi"}, first
    # A unit nobody holds a role at or above is refused as before, with its sentence.
    with pytest.raises(NotAllowed, match="holds no official role that reaches"):
        engine.start("petition_review", "yunnan", by=who(engine, "wang"))
    with pytest.raises(UnknownOrgUnit, match="There is no org unit with code 'nowhere'"):
        engine.start("petition_review", "nowhere", by=who(engine, starter))
