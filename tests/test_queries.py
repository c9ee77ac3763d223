"""Reading the engine: the inbox, instance search, audit events, the path, case exports, messages, timers.

Every test runs on SQLite and on PostgreSQL (the `engine` fixture is parametrized).
"""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, update

from engine import Engine
from engine.case_file import csv_sections
from engine.errors import Conflict, NotAllowed, NotFound, RuleBroken, UnknownOrgUnit
from engine.models import HumanTask
from tests.conftest import PETITION_BUNDLE, read_bundle, who

pytestmark = pytest.mark.usefixtures("queries")

ISSUE = {"title": "加装电梯", "proposer_count": 30, "eligible_count": 100}
QUERY_BUNDLE = ("queries_message.bpmn", "queries_deadline.bpmn", "queries_loop.bpmn")


@pytest.fixture
def queries(petition: Engine) -> Engine:
    """The petition bundle plus small processes with a message catch, a deadline timer and a loop."""
    petition.deploy(read_bundle(*QUERY_BUNDLE), by=petition.principal("designer"))
    return petition


def start_petition(engine: Engine, unit: str = "qiaoyi", business_key: str = "YT-2026-001") -> dict:
    starter = {"qiaoyi": "wang", "ruinan": "chen", "xinye": "shen"}[unit]
    return engine.start("petition_review", unit, by=who(engine, starter), business_key=business_key)


def reviewed_petition(engine: Engine) -> dict:
    """A petition registered by wang and approved by zhang: completed."""
    instance = start_petition(engine)
    done = engine.complete(instance["tasks"][0]["id"], who(engine, "wang"), ISSUE)
    engine.complete(done["next_tasks"][0]["id"], who(engine, "zhang"), {"decision": "approve", "opinion": "同意"})
    return instance


def every_page(read, **kwargs) -> tuple[list[dict], list[int]]:  # noqa: ANN001
    """All items of a paged read, following next_cursor; also the size of each page."""
    items, sizes, cursor = [], [], None
    while True:
        page = read(cursor=cursor, **kwargs)
        items.extend(page["items"])
        sizes.append(len(page["items"]))
        cursor = page["next_cursor"]
        if cursor is None:
            return items, sizes


def ids(items: list[dict]) -> list[str]:
    return [item["id"] for item in items]


# --- the inbox -------------------------------------------------------------------------------------


def test_paging_through_120_tasks_in_pages_of_50_returns_every_task_once_in_order(engine: Engine) -> None:
    for n in range(120):
        start_petition(engine, business_key=f"YT-{n:03d}")
    base = datetime(2026, 12, 1, tzinfo=UTC)
    with engine.transaction() as session:
        rows = list(session.execute(select(HumanTask)).scalars())
        for n, row in enumerate(rows):  # ties and missing due dates, as a real inbox has
            row.priority = 50 + 10 * (n % 3)
            row.due_at = None if n % 4 == 0 else base + timedelta(days=n % 5)
    with engine.reading() as session:
        rows = list(session.execute(select(HumanTask)).scalars())
    expected = {
        "created": sorted(rows, key=lambda t: (t.created_at, t.id)),
        "-created": sorted(rows, key=lambda t: (t.created_at, t.id), reverse=True),
        "due": sorted(rows, key=lambda t: (t.due_at is None, t.due_at or base, t.created_at, t.id)),
        "priority": sorted(rows, key=lambda t: (-t.priority, t.created_at, t.id)),
    }
    wang = who(engine, "wang")
    for sort, order in expected.items():
        items, sizes = every_page(engine.inbox, by=wang, scope="candidate", sort=sort, limit=50)
        assert sizes == [50, 50, 20], sort
        assert ids(items) == [t.id for t in order], sort
    assert len(set(ids(items))) == 120


def test_each_inbox_filter_narrows_to_the_matching_tasks(engine: Engine) -> None:
    wang, auditor = who(engine, "wang"), who(engine, "auditor")
    first = start_petition(engine, business_key="YT-A1")["tasks"][0]
    second = start_petition(engine, business_key="YT-B2")["tasks"][0]
    reply = engine.start("reply_deadline", "qiaoyi", by=wang)["tasks"][0]
    next_door = start_petition(engine, unit="ruinan", business_key="RN-1")["tasks"][0]
    village = start_petition(engine, unit="xinye", business_key="XY-1")["tasks"][0]
    with engine.transaction() as session:
        session.execute(
            update(HumanTask).where(HumanTask.id == second["id"]).values(due_at=datetime(2026, 12, 1, tzinfo=UTC))
        )

    def seen(**filters) -> set[str]:  # noqa: ANN003
        return set(ids(engine.inbox(auditor, scope="all", limit=500, **filters)["items"]))

    everything = {first["id"], second["id"], reply["id"], next_door["id"], village["id"]}
    assert seen() == everything
    assert seen(process_key="reply_deadline") == {reply["id"]}
    assert seen(org_unit="qiaoyi") == {first["id"], second["id"], reply["id"]}
    assert seen(org_unit="wlq") == {first["id"], second["id"], reply["id"], next_door["id"]}  # the subtree
    assert seen(due_before=datetime(2026, 12, 2, tzinfo=UTC)) == {second["id"]}
    assert seen(q="b2") == {second["id"]}  # business key, any case
    assert seen(q="答复") == {reply["id"]}  # task name
    with pytest.raises(UnknownOrgUnit):
        seen(org_unit="nowhere")

    engine.claim(first["id"], wang)
    assert ids(engine.inbox(wang, scope="mine")["items"]) == [first["id"]]
    assert set(ids(engine.inbox(wang, scope="candidate", limit=500)["items"])) == {second["id"], reply["id"]}
    assert set(ids(engine.inbox(wang, scope="all", limit=500)["items"])) == {first["id"], second["id"], reply["id"]}
    engine.complete(first["id"], wang, ISSUE)
    assert ids(engine.inbox(wang, scope="mine", status="completed")["items"]) == [first["id"]]
    assert engine.task_counts(wang) == {"mine": 0, "candidate": 2, "completed": 1}
    with pytest.raises(RuleBroken):
        engine.inbox(wang, scope="everything")
    with pytest.raises(RuleBroken):
        engine.inbox(wang, sort="name")


def test_a_subdistrict_official_sees_the_review_of_a_committee_below_in_the_group_inbox(engine: Engine) -> None:
    instance = start_petition(engine)
    review = engine.complete(instance["tasks"][0]["id"], who(engine, "wang"), ISSUE)["next_tasks"][0]
    assert ids(engine.inbox(who(engine, "zhang"), scope="candidate")["items"]) == [review["id"]]
    assert engine.inbox(who(engine, "wu"), scope="all")["items"] == []  # the subdistrict next door
    assert engine.task_counts(who(engine, "zhang")) == {"mine": 0, "candidate": 1, "completed": 0}


def test_a_tampered_cursor_is_refused(engine: Engine) -> None:
    for n in range(3):
        start_petition(engine, business_key=f"YT-{n}")
    wang = who(engine, "wang")
    cursor = engine.inbox(wang, scope="candidate", limit=1)["next_cursor"]
    assert cursor is not None and len(engine.inbox(wang, scope="candidate", limit=1, cursor=cursor)["items"]) == 1

    raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
    edited = raw.replace(b"tasks:created", b"tasks:createe")
    forged = base64.urlsafe_b64encode(edited).decode().rstrip("=")
    flipped = cursor[:-3] + ("A" if cursor[-3] != "A" else "B") + cursor[-2:]
    for bad in (forged, flipped, "not a cursor", cursor + "!", "x" * 400):
        with pytest.raises(RuleBroken, match="cursor"):
            engine.inbox(wang, scope="candidate", limit=1, cursor=bad)
    with pytest.raises(RuleBroken, match="cursor"):  # a cursor of another order
        engine.inbox(wang, scope="candidate", limit=1, cursor=cursor, sort="priority")
    with pytest.raises(RuleBroken, match="cursor"):  # a cursor of another list
        engine.list_instances(wang, cursor=cursor)


def test_a_page_size_outside_1_to_500_is_refused(engine: Engine) -> None:
    wang = who(engine, "wang")
    for limit in (0, -1, 501):
        with pytest.raises(RuleBroken, match="limit"):
            engine.inbox(wang, limit=limit)
        with pytest.raises(RuleBroken, match="limit"):
            engine.list_instances(wang, limit=limit)
        with pytest.raises(RuleBroken, match="limit"):
            engine.audit_events(wang, limit=limit)
    assert engine.inbox(wang, limit=500)["next_cursor"] is None


# --- reach -----------------------------------------------------------------------------------------


def test_an_official_of_another_committee_sees_nothing_of_qiaoyis(engine: Engine) -> None:
    instance = reviewed_petition(engine)
    open_one = start_petition(engine, business_key="YT-OPEN")
    chen = who(engine, "chen")
    assert engine.inbox(chen, scope="all")["items"] == []
    assert engine.task_counts(chen) == {"mine": 0, "candidate": 0, "completed": 0}
    assert engine.list_instances(chen)["items"] == []
    assert engine.list_instances(chen, q=instance["id"])["items"] == []
    assert engine.audit_events(chen)["items"] == []
    for read in (engine.path, engine.waiting_jobs, engine.export_case):
        with pytest.raises(NotAllowed):
            read(open_one["id"], by=chen)
    with pytest.raises(NotAllowed):
        engine.audit_events(chen, instance_id=instance["id"])
    with pytest.raises(NotAllowed):
        engine.verify(chen, instance["id"])
    # the subdistrict above reads both; the committee itself its own
    assert {i["id"] for i in engine.list_instances(who(engine, "zhang"))["items"]} == {instance["id"], open_one["id"]}
    assert engine.path(instance["id"], by=who(engine, "wang"))["active"] == []


def test_a_unit_filter_reads_only_what_the_caller_reaches_below_it(engine: Engine) -> None:
    """A unit named in the instance search narrows the caller's reach: above it, the caller's own units under
    it; beside it, nothing; within it, the unit."""
    mine = start_petition(engine)
    next_door = start_petition(engine, unit="ruinan", business_key="RN-1")
    village = start_petition(engine, unit="xinye", business_key="XY-1")

    def seen(caller: str, unit: str) -> set[str]:
        return set(ids(engine.list_instances(who(engine, caller), org_unit=unit)["items"]))

    assert seen("wang", "wlq") == seen("wang", "sh") == seen("wang", "qiaoyi") == {mine["id"]}
    assert seen("wang", "ruinan") == seen("wang", "fx") == seen("wang", "xinye") == set()
    assert seen("zhang", "wlq") == seen("zhang", "hp") == {mine["id"], next_door["id"]}
    assert seen("zhang", "ruinan") == {next_door["id"]} and seen("zhang", "fx") == set()
    assert seen("auditor", "fx") == {village["id"]} and seen("auditor", "sh") == {
        mine["id"],
        next_door["id"],
        village["id"],
    }


def test_an_auditor_at_the_city_sees_everything(engine: Engine) -> None:
    mine = start_petition(engine)
    next_door = start_petition(engine, unit="ruinan", business_key="RN-1")
    village = start_petition(engine, unit="xinye", business_key="XY-1")
    auditor = who(engine, "auditor")
    all_tasks = {t["tasks"][0]["id"] for t in (mine, next_door, village)}
    assert set(ids(engine.inbox(auditor, scope="all")["items"])) == all_tasks
    assert engine.inbox(auditor, scope="mine")["items"] == []
    assert set(ids(engine.list_instances(auditor)["items"])) == {mine["id"], next_door["id"], village["id"]}
    actions = {e["action"] for e in engine.audit_events(auditor, limit=500)["items"]}
    assert {"org_unit_added", "user_added", "deployment_made", "instance_started", "task_created"} <= actions
    verified = engine.verify(auditor)
    assert verified["ok"] and verified["broken"] == [] and verified["checked"] > 0
    # an official reads instance events within reach, never the system stream
    zhang_events = engine.audit_events(who(engine, "zhang"), limit=500)["items"]
    assert {e["instance_id"] for e in zhang_events} == {mine["id"], next_door["id"]}
    with pytest.raises(NotAllowed):
        engine.verify(who(engine, "zhang"))


def test_an_auditor_of_a_district_verifies_only_the_chains_within_it(engine: Engine) -> None:
    engine.add_user("hp_auditor", "secret-pass-1", [("auditor", "hp")])
    mine = start_petition(engine)
    start_petition(engine, unit="xinye", business_key="XY-1")
    hp_auditor = who(engine, "hp_auditor")
    result = engine.verify(hp_auditor)
    assert result["ok"] and result["checked"] == len(engine.history(mine["id"]))
    assert {e["instance_id"] for e in engine.audit_events(hp_auditor, limit=500)["items"]} == {mine["id"]}


# --- instances and audit events --------------------------------------------------------------------


def test_instances_are_listed_newest_first_and_each_filter_narrows(engine: Engine) -> None:
    wang, auditor = who(engine, "wang"), who(engine, "auditor")
    first = start_petition(engine, business_key="YT-2026-001")
    second = start_petition(engine, business_key="YT-2026-002")
    other = engine.start("reply_deadline", "qiaoyi", by=wang, business_key="DL-1")
    village = start_petition(engine, unit="xinye", business_key="XY-1")
    engine.cancel(first["id"], "重复登记", by=who(engine, "admin"))

    items, sizes = every_page(engine.list_instances, by=auditor, limit=3)
    assert ids(items) == [village["id"], other["id"], second["id"], first["id"]] and sizes == [3, 1]

    def seen(**filters) -> list[str]:  # noqa: ANN003
        return ids(engine.list_instances(auditor, **filters)["items"])

    assert seen(process_key="reply_deadline") == [other["id"]]
    assert seen(status="cancelled") == [first["id"]]
    assert seen(org_unit="zh") == [village["id"]]
    assert seen(q="YT-2026") == [second["id"], first["id"]]  # business key prefix
    assert seen(q="2026") == []  # a prefix, not a substring
    assert seen(q=other["id"]) == [other["id"]]
    started = datetime.fromisoformat(second["started_at"])
    assert seen(started_from=started) == [village["id"], other["id"], second["id"]]
    assert seen(started_to=started) == [first["id"]]
    with pytest.raises(RuleBroken):
        seen(status="sleeping")
    assert engine.list_instances(wang)["items"][0]["business_key"] == "DL-1"
    assert village["id"] not in ids(engine.list_instances(wang, limit=500)["items"])


def test_audit_events_are_paged_in_order_and_each_filter_narrows(engine: Engine) -> None:
    instance = reviewed_petition(engine)
    auditor = who(engine, "auditor")
    history = engine.history(instance["id"])
    items, sizes = every_page(engine.audit_events, by=auditor, instance_id=instance["id"], limit=3)
    assert items == history and sizes == [3, 3, 2]

    everything = engine.audit_events(auditor, limit=500)["items"]
    assert [(e["at"], e["stream"]) for e in everything] == sorted((e["at"], e["stream"]) for e in everything)
    by_zhang = engine.audit_events(auditor, actor="zhang")["items"]
    assert [e["action"] for e in by_zhang] == ["task_completed"]
    created = engine.audit_events(auditor, action="task_created")["items"]
    assert [e["element_id"] for e in created] == ["register_issue", "review_petition"]
    middle = datetime.fromisoformat(history[3]["at"])
    assert engine.audit_events(auditor, instance_id=instance["id"], at_from=middle)["items"] == history[3:]
    assert engine.audit_events(auditor, instance_id=instance["id"], at_to=middle)["items"] == history[:3]
    with pytest.raises(NotFound):
        engine.audit_events(auditor, instance_id="no-such-instance")


# --- the path on the diagram -------------------------------------------------------------------------


def test_the_path_of_a_completed_petition_marks_the_elements_and_flows_it_took(engine: Engine) -> None:
    instance = reviewed_petition(engine)
    assert engine.path(instance["id"], by=who(engine, "auditor")) == {
        "completed": [
            "start",
            "register_issue",
            "compute_share",
            "classify_petition",
            "route_by_share",
            "review_petition",
            "end_reviewed",
        ],
        "active": [],
        "flows": ["f1", "f2", "f3", "f4", "f_review", "f5"],
        "counts": {},
    }


def test_the_path_of_a_running_petition_shows_where_it_waits(engine: Engine) -> None:
    instance = start_petition(engine)
    engine.complete(instance["tasks"][0]["id"], who(engine, "wang"), {**ISSUE, "proposer_count": 5})
    filed = engine.path(instance["id"], by=who(engine, "wang"))
    assert filed["flows"] == ["f1", "f2", "f3", "f4", "f_file"] and "review_petition" not in filed["completed"]
    running = start_petition(engine, business_key="YT-2")
    assert engine.path(running["id"], by=who(engine, "wang")) == {
        "completed": ["start"],
        "active": ["register_issue"],
        "flows": ["f1"],
        "counts": {},
    }


def test_a_step_done_twice_is_counted_on_the_path(engine: Engine) -> None:
    wang = who(engine, "wang")
    instance = engine.start("revise_until_done", "qiaoyi", by=wang)
    again = engine.complete(instance["tasks"][0]["id"], wang, {"done": False})["next_tasks"][0]
    assert engine.path(instance["id"], by=wang)["counts"] == {"revise_draft": 2}
    engine.complete(again["id"], wang, {"done": True})
    path = engine.path(instance["id"], by=wang)
    assert path["counts"] == {"revise_draft": 2, "draft_done": 2}
    assert path["flows"] == ["f1", "f2", "f_again", "f_done"]
    assert path["completed"] == ["start", "revise_draft", "draft_done", "end"]


def test_a_deadline_that_interrupts_a_step_still_shows_the_flow_into_it(engine: Engine) -> None:
    wang = who(engine, "wang")
    on_time = engine.start("reply_deadline", "qiaoyi", by=wang)
    assert engine.path(on_time["id"], by=wang)["active"] == ["reply", "reply_overdue"]
    engine.complete(on_time["tasks"][0]["id"], wang, {})
    assert engine.path(on_time["id"], by=wang)["flows"] == ["f1", "f2", "f3"]

    late = engine.start("reply_deadline", "qiaoyi", by=wang)
    [job] = engine.waiting_jobs(late["id"], by=wang)
    engine.execute_job(late["id"], job["id"], by=who(engine, "admin"))
    path = engine.path(late["id"], by=wang)
    assert path["completed"] == ["start", "reply_overdue"] and path["active"] == ["explain_delay"]
    assert path["flows"] == ["f1", "f_late"]


# --- case exports --------------------------------------------------------------------------------------


def test_a_json_export_carries_the_chain_head_and_every_event(engine: Engine) -> None:
    instance = reviewed_petition(engine)
    case = engine.export_case(instance["id"], by=who(engine, "auditor"))
    history = engine.history(instance["id"])
    assert case["events"] == history
    assert case["chain_head"] == history[-1]["hash"]
    assert case["instance"]["id"] == instance["id"] and case["instance"]["status"] == "completed"
    assert case["instance"]["variables"]["decision"] == "approve"
    assert case["definition"]["key"] == "petition_review" and case["definition"]["version"] == 1
    assert len(case["definition"]["bpmn_sha256"]) == 64
    tasks = {t["element_id"]: t for t in case["tasks"]}
    assert tasks["register_issue"]["completed_by"] == "wang"
    assert tasks["review_petition"]["completed_by"] == "zhang" and tasks["review_petition"]["status"] == "completed"
    assert case["comments"] == []
    json.dumps(case, ensure_ascii=False)  # plain JSON all the way down
    assert engine.export_case(instance["id"], by=who(engine, "wang"))["chain_head"] == case["chain_head"]


def test_a_csv_export_carries_the_whole_case_in_sections_with_the_chain_head(engine: Engine) -> None:
    instance = reviewed_petition(engine)
    text = engine.export_case(instance["id"], by=who(engine, "zhang"), format="csv")
    case = engine.export_case(instance["id"], by=who(engine, "zhang"))
    history = engine.history(instance["id"])
    first_line, rest = text.split("\n", 1)
    assert first_line.startswith("# ") and history[-1]["hash"] in first_line
    assert f"{len(history)} events, 2 tasks, {len(case['comments'])} comments" in first_line
    sections = csv_sections(rest)
    assert list(sections) == ["instance", "definition", "tasks", "events", "comments"]
    instance_fields = {r["field"]: r["value"] for r in sections["instance"]}
    assert instance_fields["id"] == instance["id"] and instance_fields["status"] == "completed"
    assert json.loads(instance_fields["variables"])["decision"] == "approve"
    definition = {r["field"]: r["value"] for r in sections["definition"]}
    assert definition["bpmn_sha256"] == case["definition"]["bpmn_sha256"] and "bpmn_xml" not in definition
    assert [(t["element_id"], t["completed_by"]) for t in sections["tasks"]] == [
        (t["element_id"], t["completed_by"]) for t in case["tasks"]
    ]
    rows = sections["events"]
    assert list(rows[0]) == [
        "seq",
        "at",
        "actor",
        "role",
        "org_unit",
        "action",
        "element_id",
        "data",
        "prev_hash",
        "hash",
    ]
    assert [r["hash"] for r in rows] == [e["hash"] for e in history]
    assert [int(r["seq"]) for r in rows] == [e["seq"] for e in history]
    assert [r["action"] for r in rows] == [e["action"] for e in history]
    assert [json.loads(r["data"]) for r in rows] == [e["data"] for e in history]
    assert rows[2]["actor"] == "wang" and rows[2]["role"] == "residents_committee" and rows[2]["org_unit"] == "qiaoyi"
    with pytest.raises(RuleBroken):
        engine.export_case(instance["id"], by=who(engine, "zhang"), format="xlsx")


# --- definitions ----------------------------------------------------------------------------------------


def test_the_stored_bpmn_of_a_version_is_read_back(engine: Engine) -> None:
    xml = engine.definition_xml("petition_review")
    assert xml == read_bundle(*PETITION_BUNDLE)["petition_review.bpmn"].decode()
    assert engine.definition_xml("petition_review", 1) == xml
    definition = engine.get_definition("petition_review")
    assert definition["version"] == 1 and ["f5", "review_petition", "end_reviewed"] in definition["sequence_flows"]
    with pytest.raises(NotFound):
        engine.definition_xml("petition_review", 2)
    with pytest.raises(NotFound):
        engine.get_definition("no_such_process")


# --- messages and timers --------------------------------------------------------------------------------


def test_a_delivered_message_advances_the_instance(engine: Engine) -> None:
    wang = who(engine, "wang")
    instance = engine.start("assembly_wait", "qiaoyi", by=wang)
    assert instance["tasks"] == [] and engine.path(instance["id"], by=wang)["active"] == ["await_result"]
    shown = engine.deliver_message(instance["id"], "assembly_result", {"votes_for": 31, "votes_against": 4}, by=wang)
    assert shown["status"] == "running"
    assert [t["element_id"] for t in shown["tasks"]] == ["announce_result"]
    assert shown["variables"]["assembly_result"] == {"votes_for": 31, "votes_against": 4}
    received = [e for e in engine.history(instance["id"]) if e["action"] == "message_received"]
    assert received[0]["data"] == {"name": "assembly_result", "payload": {"votes_for": 31, "votes_against": 4}}
    assert received[0]["element_id"] == "await_result" and received[0]["actor"]["username"] == "wang"
    assert engine.verify(who(engine, "auditor"), instance["id"])["ok"]
    # delivered once: nothing waits for it any more
    with pytest.raises(Conflict, match="Nothing in this instance waits for message assembly_result"):
        engine.deliver_message(instance["id"], "assembly_result", {}, by=wang)


def test_a_message_nothing_waits_for_is_a_conflict_and_changes_nothing(engine: Engine) -> None:
    wang = who(engine, "wang")
    instance = engine.start("assembly_wait", "qiaoyi", by=wang)
    before = engine.history(instance["id"])
    with pytest.raises(Conflict, match="Nothing in this instance waits for message vote_postponed."):
        engine.deliver_message(instance["id"], "vote_postponed", {}, by=wang)
    assert engine.history(instance["id"]) == before
    with pytest.raises(RuleBroken):
        engine.deliver_message(instance["id"], "assembly_result", ["not", "an", "object"], by=wang)  # type: ignore[arg-type]
    # the instance still takes the message it waits for
    shown = engine.deliver_message(instance["id"], "assembly_result", {"votes_for": 1}, by=wang)
    assert [t["element_id"] for t in shown["tasks"]] == ["announce_result"]


def test_only_officials_at_or_above_the_instance_and_admins_may_send_it_messages(engine: Engine) -> None:
    instance = engine.start("assembly_wait", "qiaoyi", by=who(engine, "wang"))
    for outsider in ("chen", "auditor", "designer", "wu"):
        with pytest.raises(NotAllowed):
            engine.deliver_message(instance["id"], "assembly_result", {}, by=who(engine, outsider))
    shown = engine.deliver_message(instance["id"], "assembly_result", {"votes_for": 1}, by=who(engine, "zhang"))
    assert shown["tasks"][0]["element_id"] == "announce_result"
    other = engine.start("assembly_wait", "qiaoyi", by=who(engine, "wang"))
    engine.suspend(other["id"], by=who(engine, "admin"))
    with pytest.raises(Conflict, match="suspended"):
        engine.deliver_message(other["id"], "assembly_result", {}, by=who(engine, "admin"))


def test_a_waiting_timer_is_listed_with_its_due_time(engine: Engine) -> None:
    wang = who(engine, "wang")
    before = datetime.now(UTC)
    instance = engine.start("reply_deadline", "qiaoyi", by=wang)
    [job] = engine.waiting_jobs(instance["id"], by=wang)
    assert job["element_id"] == "reply_overdue" and job["kind"] == "timer"
    assert job["attempts"] == 0 and job["last_error"] is None
    due = datetime.fromisoformat(job["due_at"])
    assert before + timedelta(days=3) <= due <= datetime.now(UTC) + timedelta(days=3)
    assert engine.waiting_jobs(instance["id"], by=who(engine, "auditor")) == [job]  # read again: the same
    engine.complete(instance["tasks"][0]["id"], wang, {})
    assert engine.waiting_jobs(instance["id"], by=wang) == []  # replied in time: the deadline is gone
    assert engine.waiting_jobs(start_petition(engine)["id"], by=wang) == []
