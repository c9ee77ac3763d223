"""The auditor workspace's engine side: searching cases, saved searches, signed exports checked offline,
the statistics, and retention with a purge that keeps the audit chain verifiable.

Every test runs on SQLite and on PostgreSQL (the `engine` fixture is parametrized).
"""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, text, update

from engine import Engine
from engine.case_file import CSV_SIGNED, SECTION, csv_sections, signed_csv, verify_export
from engine.commands import queries
from engine.errors import NotAllowed, NotFound, RuleBroken
from engine.models import AuditEvent, AuditTombstone, HumanTask, ProcessInstance
from tests.conftest import DATA, read_bundle, who

ISSUE = {"title": "加装电梯", "proposer_count": 30, "eligible_count": 100}


def start_petition(engine: Engine, unit: str = "qiaoyi", business_key: str = "YT-2026-001") -> dict:
    starter = {"qiaoyi": "wang", "ruinan": "chen", "xinye": "shen"}[unit]
    return engine.start("petition_review", unit, by=who(engine, starter), business_key=business_key)


def reviewed_petition(engine: Engine, business_key: str = "YT-2026-001") -> dict:
    """A petition registered by wang and approved by zhang: completed."""
    instance = start_petition(engine, business_key=business_key)
    done = engine.complete(instance["tasks"][0]["id"], who(engine, "wang"), ISSUE)
    engine.complete(done["next_tasks"][0]["id"], who(engine, "zhang"), {"decision": "approve", "opinion": "同意"})
    return instance


def ids(page: dict) -> set[str]:
    return {item["id"] for item in page["items"]}


def tamper(engine: Engine, statement: str, **params: object) -> None:
    """Someone with database access edits audit rows, dropping the guard triggers first."""
    with engine.sql.begin() as conn:
        if engine.dialect == "postgresql":
            conn.execute(text("ALTER TABLE audit_event DISABLE TRIGGER audit_event_append_only"))
            conn.execute(text("ALTER TABLE audit_tombstone DISABLE TRIGGER audit_tombstone_append_only"))
        else:
            for trigger in ("audit_event_no_update", "audit_event_no_delete", "audit_tombstone_no_update"):
                conn.execute(text(f"DROP TRIGGER IF EXISTS {trigger}"))
        conn.execute(text(statement), params)
        if engine.dialect == "postgresql":
            conn.execute(text("ALTER TABLE audit_event ENABLE TRIGGER audit_event_append_only"))
            conn.execute(text("ALTER TABLE audit_tombstone ENABLE TRIGGER audit_tombstone_append_only"))


# --- searching cases ----------------------------------------------------------------------------------


def test_an_auditor_finds_cases_by_actor_by_key_and_by_a_missed_deadline(petition: Engine) -> None:
    engine, auditor = petition, who(petition, "auditor")
    done = reviewed_petition(engine, "YT-DONE")
    late = start_petition(engine, business_key="YT-LATE")
    on_time = start_petition(engine, business_key="YT-ON-TIME")
    next_door = start_petition(engine, unit="ruinan", business_key="RN-1")
    past, future = datetime.now(UTC) - timedelta(days=1), datetime.now(UTC) + timedelta(days=3)
    with engine.transaction() as session:
        session.execute(update(HumanTask).where(HumanTask.instance_id == late["id"]).values(due_at=past))
        session.execute(update(HumanTask).where(HumanTask.instance_id == on_time["id"]).values(due_at=future))
        # zhang approved the done petition a day after its review was due
        session.execute(
            update(HumanTask)
            .where(HumanTask.instance_id == done["id"], HumanTask.element_id == "review_petition")
            .values(due_at=datetime.now(UTC) - timedelta(days=1))
        )

    assert ids(engine.list_instances(auditor, actor="zhang")) == {done["id"]}
    assert ids(engine.list_instances(auditor, actor="chen")) == {next_door["id"]}
    by_key = ids(engine.list_instances(auditor, q="YT-"))
    assert by_key == {done["id"], late["id"], on_time["id"]}
    # many matches (an actor's events, a key prefix's cases) are found by walking the newest cases
    # instead of from the matches: the same answers
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(queries, "FEW_ROWS", 1)
        assert ids(engine.list_instances(auditor, actor="zhang")) == {done["id"]}
        assert ids(engine.list_instances(auditor, actor="nobody")) == set()
        assert ids(engine.list_instances(auditor, actor="engine")) == {
            i["id"] for i in (done, late, on_time, next_door)
        }
    assert ids(engine.list_instances(auditor, missed_deadline=True)) == {done["id"], late["id"]}
    assert ids(engine.list_instances(auditor, missed_deadline=False)) == {on_time["id"], next_door["id"]}
    assert ids(engine.list_instances(auditor, missed_deadline=True, status="running")) == {late["id"]}
    # an official's search keeps to their reach
    assert ids(engine.list_instances(who(engine, "chen"), missed_deadline=True)) == set()


def test_a_unit_filter_offers_the_units_in_reach_above_the_committees_and_the_chosen_streets_committees(
    org: Engine,
) -> None:
    """A city's 6,000 committees are not one list: the streets are, and a chosen street lists its own."""

    def choices(username: str, chosen: str | None = None) -> list[tuple[str, int]]:
        return [(u["code"], u["depth"]) for u in org.unit_choices(who(org, username), chosen)]

    city = [("sh", 0), ("fx", 1), ("zh", 2), ("hp", 1), ("njdl", 2), ("wlq", 2)]
    assert choices("auditor") == city  # tree order, each district before its streets
    with_wlq = city + [("qiaoyi", 3), ("ruinan", 3)]
    assert choices("auditor", "wlq") == choices("auditor", "ruinan") == with_wlq
    assert choices("auditor", "zh") == [*city[:3], ("xinye", 3), *city[3:]]
    assert choices("auditor", "no-such-unit") == city
    assert choices("zhang") == [("wlq", 0)]
    assert choices("zhang", "qiaoyi") == [("wlq", 0), ("qiaoyi", 1), ("ruinan", 1)]
    # a unit outside the reach stays the form's filter (it finds nothing), with no street of its own listed
    assert choices("zhang", "yunnan") == [("wlq", 0), ("yunnan", 0)]
    assert choices("wang") == [("qiaoyi", 0)]


def test_saved_searches_belong_to_the_auditor_who_saved_them(petition: Engine) -> None:
    engine = petition
    engine.add_user("auditor2", "secret-pass-1", [("auditor", "sh")])
    auditor, other = who(engine, "auditor"), who(engine, "auditor2")
    saved = engine.save_search(auditor, "逾期的议题审查", {"process_key": "petition_review", "missed_deadline": True})
    assert saved["filters"] == {"process_key": "petition_review", "missed_deadline": True}
    again = engine.save_search(auditor, "逾期的议题审查", {"status": "completed", "org_unit": ""})
    assert again["id"] == saved["id"] and again["filters"] == {"status": "completed"}  # replaced, blanks dropped
    assert [s["name"] for s in engine.saved_searches(auditor)] == ["逾期的议题审查"]
    assert engine.saved_searches(other) == []
    with pytest.raises(NotFound):
        engine.delete_saved_search(other, saved["id"])
    with pytest.raises(RuleBroken, match="cannot hold"):
        engine.save_search(auditor, "坏的", {"sql": "drop table"})
    with pytest.raises(RuleBroken, match="name"):
        engine.save_search(auditor, "  ", {})
    with pytest.raises(NotAllowed):
        engine.save_search(who(engine, "wang"), "我的", {})
    engine.delete_saved_search(auditor, saved["id"])
    assert engine.saved_searches(auditor) == []


# --- signed exports, checked offline ----------------------------------------------------------------------


def test_a_signed_json_export_verifies_and_any_changed_byte_is_rejected(petition: Engine) -> None:
    engine = petition
    instance = reviewed_petition(engine)
    data = engine.signed_export(instance["id"], who(engine, "auditor"))
    trusted = engine.export_public_key()["public_key"]
    check = verify_export(data, trusted)
    assert check.ok, check.problems
    assert check.instance_id == instance["id"] and check.events == len(engine.history(instance["id"]))
    case = json.loads(data)
    assert check.chain_head == case["chain_head"] == engine.history(instance["id"])[-1]["hash"]
    assert case["definition"]["bpmn_xml"].startswith("<?xml") and case["exported_by"] == "auditor"

    text_of = data.decode()
    for changed in (
        text_of.replace('"decision": "approve"', '"decision": "reject"', 1),  # what was decided
        text_of.replace('"username": "zhang"', '"username": "liuu"', 1),  # who decided it
        text_of.replace('{\n  "chain_head"', '{\n   "chain_head"', 1),  # one space more: same JSON
    ):
        assert changed != text_of
        assert not verify_export(changed.encode(), trusted).ok
    flipped = bytearray(data)
    flipped[len(flipped) // 2] ^= 0x01
    assert not verify_export(bytes(flipped), trusted).ok
    assert not verify_export(data[:-40], trusted).ok
    other_key = "A" * 43 + "="
    assert "not with the trusted key" in " ".join(verify_export(data, other_key).problems)


def test_an_export_rewritten_and_re_signed_with_another_key_is_rejected(petition: Engine) -> None:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from engine.case_file import signed_json
    from engine.signing import ExportKey

    engine = petition
    instance = reviewed_petition(engine)
    case = engine.export_case(instance["id"], who(engine, "auditor"))
    case["events"][2]["actor"]["username"] = "mallory"
    forged = signed_json(case, ExportKey(Ed25519PrivateKey.generate()), "mallory", "2026-12-01T00:00:00+00:00")
    check = verify_export(forged, engine.export_public_key()["public_key"])
    assert not check.ok
    assert any("trusted key" in p for p in check.problems) and any("Event 3" in p for p in check.problems)


def test_a_signed_csv_export_of_the_whole_case_verifies_and_a_changed_byte_is_rejected(petition: Engine) -> None:
    engine = petition
    instance = start_petition(engine)
    engine.add_comment(instance["tasks"][0]["id"], who(engine, "wang"), "请街道尽快审核")
    done = engine.complete(instance["tasks"][0]["id"], who(engine, "wang"), ISSUE)
    engine.complete(done["next_tasks"][0]["id"], who(engine, "zhang"), {"decision": "approve", "opinion": "同意"})
    data = engine.signed_export(instance["id"], who(engine, "zhang"), format="csv")
    trusted = engine.export_public_key()["public_key"]
    first, rest = data.decode().split("\n", 1)
    assert ", signed Ed25519 " in first
    sections = csv_sections(rest)
    assert [len(sections[s]) for s in ("tasks", "comments")] == [2, 1] and sections["comments"][0][
        "text"
    ] == "请街道尽快审核"
    check = verify_export(data, trusted)
    assert check.ok, check.problems
    assert check.kind == "csv" and check.events == len(engine.history(instance["id"]))
    changed = data.replace(b",wang,", b",wanq,", 1)
    assert changed != data and not verify_export(changed, trusted).ok
    in_comments = data.replace("请街道尽快审核".encode(), "请街道不必审核".encode())
    assert not verify_export(in_comments, trusted).ok

    # a copy without its comments, signed again with the very key: the file says what it lacks
    cut = rest[: rest.index(SECTION + "comments")]
    resigned = signed_csv(CSV_SIGNED.sub("", first) + "\n" + cut, engine.export_key())
    check = verify_export(resigned, trusted)
    assert check.problems == ["The file lacks the section(s) comments."], check.problems


# --- verification says which rows and since when ---------------------------------------------------------


def test_verification_names_the_changed_row_and_when_it_was_written(petition: Engine) -> None:
    engine = petition
    instance = reviewed_petition(engine)
    history = engine.history(instance["id"])
    changed = next(e for e in history if e["action"] == "task_completed")
    tamper(
        engine,
        "UPDATE audit_event SET actor = 'chen' WHERE stream = :s AND seq = :q",
        s=instance["id"],
        q=changed["seq"],
    )
    result = engine.verify(who(engine, "auditor"), instance["id"])
    assert not result["ok"]
    [broken] = result["broken"]
    assert broken["seq"] == changed["seq"] and "changed" in broken["reason"]
    assert datetime.fromisoformat(broken["at"]) == datetime.fromisoformat(changed["at"])
    assert engine.verify(who(engine, "auditor"))["broken"] == [broken]


def test_verification_lists_every_changed_row_and_when_each_was_written(petition: Engine) -> None:
    engine = petition
    instance = reviewed_petition(engine)
    history = engine.history(instance["id"])
    first, second = history[1], history[-2]  # two rows apart, with untouched rows between and after them
    for row in (first, second):
        tamper(
            engine,
            "UPDATE audit_event SET data = :d WHERE stream = :s AND seq = :q",
            d='{"changed": true}',
            s=instance["id"],
            q=row["seq"],
        )
    result = engine.verify(who(engine, "auditor"), instance["id"])
    assert result["checked"] == len(history)
    assert [(b["seq"], b["code"]) for b in result["broken"]] == [(first["seq"], "changed"), (second["seq"], "changed")]
    assert [datetime.fromisoformat(b["at"]) for b in result["broken"]] == [
        datetime.fromisoformat(first["at"]),
        datetime.fromisoformat(second["at"]),
    ]


def test_breaks_in_many_chains_are_reported_in_chain_order_whatever_the_batch_of_head_reads(petition: Engine) -> None:
    """Rows cut off the end of a chain are found by reading the chains' heads a batch at a time; each such
    break is reported where its chain's rows were, among the changed rows of the chains around it."""
    from engine import audit

    engine = petition
    cases = sorted(reviewed_petition(engine, f"YT-{n}")["id"] for n in range(5))
    for n, case in enumerate(cases):
        last = engine.history(case)[-1]["seq"]
        if n % 2 == 0:  # the last row of every other case removed
            tamper(engine, "DELETE FROM audit_event WHERE stream = :s AND seq = :q", s=case, q=last)
        if n != 2:  # and a row of every case but the middle one changed
            tamper(engine, "UPDATE audit_event SET actor = 'chen' WHERE stream = :s AND seq = 2", s=case)
    expected = [
        (case, kind)
        for n, case in enumerate(cases)
        for kind in (["changed"] if n != 2 else []) + (["cut"] if n % 2 == 0 else [])
    ]
    for size in (1000, 2, 1):
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(audit._HeadChecks, "SIZE", size)
            result = engine.verify(who(engine, "auditor"))
        assert [(b["instance_id"], b["code"]) for b in result["broken"]] == expected, size


def test_a_district_auditor_verifies_every_chain_within_it_in_statements_that_do_not_grow(petition: Engine) -> None:
    """The chains of the cases within reach stream from one statement, however many cases there are; each
    break within reach is found, none outside it."""
    from tests.statements import statements_sent

    engine = petition
    engine.add_user("hp_auditor", "secret-pass-1", [("auditor", "hp")])
    hp_auditor = who(engine, "hp_auditor")
    village = engine.start("petition_review", "xinye", by=who(engine, "shen"), business_key="XY-1")
    sent_for: dict[int, int] = {}
    for count in (1, 4):
        while len(engine.list_instances(hp_auditor, limit=500)["items"]) < count:
            reviewed_petition(engine, f"YT-{count}")
        with statements_sent(engine.sql_read) as sent:
            result = engine.verify(hp_auditor)
        assert result["ok"]
        sent_for[count] = len(sent)
    assert sent_for[1] == sent_for[4]
    mine = engine.list_instances(hp_auditor, limit=500)["items"][0]["id"]
    for case in (mine, village["id"]):
        tamper(engine, "UPDATE audit_event SET actor = 'chen' WHERE stream = :s AND seq = 1", s=case)
    assert [(b["instance_id"], b["code"]) for b in engine.verify(hp_auditor)["broken"]] == [(mine, "changed")]


def test_a_case_whose_whole_audit_chain_was_deleted_fails_verification(petition: Engine) -> None:
    engine, auditor = petition, who(petition, "auditor")
    emptied, kept = reviewed_petition(engine, "YT-EMPTIED"), reviewed_petition(engine, "YT-KEPT")
    tamper(engine, "DELETE FROM audit_event WHERE stream = :s", s=emptied["id"])
    alone = engine.verify(auditor, emptied["id"])
    assert not alone["ok"] and alone["checked"] == 0
    [broken] = alone["broken"]
    assert broken["instance_id"] == emptied["id"] and broken["code"] == "emptied"
    assert "none of its rows is left" in broken["reason"]
    everything = engine.verify(auditor)
    assert [b["instance_id"] for b in everything["broken"]] == [emptied["id"]]
    assert engine.verify(auditor, kept["id"])["ok"]
    # the system chain emptied the same way is broken too
    tamper(engine, "DELETE FROM audit_event WHERE stream = 'system'")
    assert {b["stream"] for b in engine.verify(auditor)["broken"]} == {emptied["id"], "system"}


# --- statistics -------------------------------------------------------------------------------------------


def test_statistics_give_step_durations_overdue_rates_and_committee_load_by_department(petition: Engine) -> None:
    engine = petition
    engine.deploy(read_bundle("census_visit.bpmn", folder=DATA / "audit"), by=who(engine, "designer"))
    base = datetime(2026, 11, 2, 1, 0, tzinfo=UTC)
    petitions = [reviewed_petition(engine, f"YT-{n}") for n in range(3)]
    running = start_petition(engine, business_key="YT-RUN")
    census = [engine.start("census_visit", "ruinan", by=who(engine, "chen")) for _ in range(2)]
    named = engine.start("census_visit", "qiaoyi", by=who(engine, "wang"), variables={"requesting_dept": "区卫健委"})
    with engine.transaction() as session:
        for n, instance in enumerate(petitions):  # reviews took 1, 2 and 10 hours; the last one late
            session.execute(
                update(HumanTask)
                .where(HumanTask.instance_id == instance["id"], HumanTask.element_id == "review_petition")
                .values(
                    created_at=base,
                    completed_at=base + timedelta(hours=(1, 2, 10)[n]),
                    due_at=base + timedelta(hours=5),
                )
            )
        for instance, created in zip(
            census, (datetime(2026, 11, 30, 15, 0), datetime(2026, 11, 30, 17, 0)), strict=True
        ):
            session.execute(  # 11-30 23:00 and 12-01 01:00 in Beijing
                update(HumanTask)
                .where(HumanTask.instance_id == instance["id"])
                .values(created_at=created.replace(tzinfo=UTC))
            )

    stats = engine.procedure_statistics(who(engine, "auditor"))
    assert stats["instances"]["completed"] == 3 and stats["instances"]["running"] == 4
    review = next(s for s in stats["steps"] if s["element_id"] == "review_petition")
    assert review["completed"] == 3 and review["median_seconds"] == 2 * 3600
    assert review["p90_seconds"] == pytest.approx((2 + 0.8 * 8) * 3600)
    assert (review["with_due"], review["overdue"]) == (3, 1) and review["overdue_rate"] == pytest.approx(1 / 3)

    load = {c["org_unit"]: c for c in stats["committee_load"]["committees"]}
    assert load["ruinan"]["months"] == {"2026-11": {"区统计局": 1}, "2026-12": {"区统计局": 1}}
    assert load["ruinan"]["total"] == 2
    qiaoyi = sum((Counter(month) for month in load["qiaoyi"]["months"].values()), Counter())
    assert qiaoyi == {"self_governance": 4, "区卫健委": 1}  # 4 petitions' 登记议题 and 1 named census visit
    assert {"区统计局", "区卫健委", "self_governance"} <= set(stats["committee_load"]["departments"])
    assert named["id"] and running["id"]

    only_census = engine.procedure_statistics(who(engine, "auditor"), process_key="census_visit", org_unit="ruinan")
    assert only_census["instances"]["running"] == 2 and [
        c["org_unit"] for c in only_census["committee_load"]["committees"]
    ] == ["ruinan"]
    with pytest.raises(NotAllowed):
        engine.procedure_statistics(who(engine, "zhang"))


def reference_percentile(values: list[float], share: float) -> float:
    """Linear between the two nearest ranks, as the statistics define it."""
    ordered = sorted(values)
    position = (len(ordered) - 1) * share
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def test_a_steps_percentiles_come_from_the_ranks_the_database_hands_back() -> None:
    """For every count of durations, the two ranks read for each percentile give the reference's value."""
    from engine.commands.statistics import PERCENTILES, Ranked

    durations = [float(v * 37 % 101) for v in range(1, 31)]
    for n in range(1, len(durations) + 1):
        values = sorted(durations[:n])
        ranked = Ranked(n, dict(enumerate(values)))
        for tenths in PERCENTILES.values():
            assert ranked.percentile(tenths) == pytest.approx(reference_percentile(values, tenths / 10)), n


def test_statistics_rank_durations_in_the_database_whatever_the_number_of_cases(petition: Engine) -> None:
    """The median and p90 of a step's durations (to the millisecond), and statements that do not grow with
    the cases: at city scale naming every case in one statement failed (SQLite: too many variables)."""
    from tests.statements import statements_sent

    engine = petition
    base = datetime(2026, 11, 2, 1, 0, tzinfo=UTC)
    hours = [0.25, 7.5, 1.0, 30.125, 2.0005, 4.0, 12.0]

    def reviewed(count: int) -> None:
        for _ in range(count):
            instance = reviewed_petition(engine, f"YT-{len(sent_by)}-{_}")
            with engine.transaction() as session:
                session.execute(
                    update(HumanTask)
                    .where(HumanTask.instance_id == instance["id"], HumanTask.element_id == "review_petition")
                    .values(created_at=base, completed_at=base + timedelta(hours=hours[len(done)]))
                )
            done.append(hours[len(done)])

    done: list[float] = []
    sent_by: dict[int, list[tuple[str, int]]] = {}
    for count in (2, 5):
        reviewed(count)
        with statements_sent(engine.sql_read) as sent:
            stats = engine.procedure_statistics(who(engine, "auditor"))
        sent_by[len(done)] = [(one.statement, len(one.parameters or ())) for one in sent]
        review = next(s for s in stats["steps"] if s["element_id"] == "review_petition")
        seconds = [h * 3600 for h in done]
        assert review["completed"] == len(done)
        assert review["median_seconds"] == pytest.approx(reference_percentile(seconds, 0.5), abs=0.001)
        assert review["p90_seconds"] == pytest.approx(reference_percentile(seconds, 0.9), abs=0.001)
    assert sent_by[2] == sent_by[7]  # the same statements with the same parameters for 2 cases and 7


def test_a_city_auditors_step_durations_are_read_by_a_scan_of_the_tasks_on_sqlite(petition: Engine) -> None:
    """Over the whole city nine in ten tasks are done: SQLite read them through the status index, a row looked
    up for each (3.2 s for 900,000), where a scan of the table takes 1.1 s. A unit's figures keep the index."""
    from tests.statements import statements_sent

    if petition.dialect != "sqlite":
        pytest.skip("PostgreSQL's planner chooses the scan from its statistics")
    reviewed_petition(petition, "YT-scan")

    def durations_plan(**filters: str) -> list[str]:
        with statements_sent(petition.sql_read) as sent:
            petition.procedure_statistics(who(petition, "auditor"), **filters)
        (ranked,) = [one for one in sent if "row_number()" in one.statement]
        with petition.sql_read.connect() as conn:
            rows = conn.exec_driver_sql("EXPLAIN QUERY PLAN " + ranked.statement, ranked.parameters).all()
        return [str(row[-1]) for row in rows if "human_task" in str(row[-1])]

    assert durations_plan() == ["SCAN human_task"]
    of_unit = durations_plan(org_unit="qiaoyi")
    assert of_unit and all(line.startswith("SEARCH") for line in of_unit), of_unit


def test_a_unit_filter_on_the_statistics_counts_only_what_the_caller_reaches_below_it(petition: Engine) -> None:
    """As in the instance search: above the caller's reach, the caller's own units under it; beside it,
    nothing; within it, the unit."""
    engine = petition
    engine.add_user("hp_auditor", "secret-pass-1", [("auditor", "hp")])
    start_petition(engine)
    start_petition(engine, unit="xinye", business_key="XY-1")

    def running(caller: str, unit: str) -> int:
        return engine.procedure_statistics(who(engine, caller), org_unit=unit)["instances"]["running"]

    assert running("hp_auditor", "sh") == running("hp_auditor", "hp") == running("hp_auditor", "qiaoyi") == 1
    assert running("hp_auditor", "fx") == running("hp_auditor", "xinye") == 0
    assert running("auditor", "sh") == 2 and running("auditor", "fx") == 1


def test_a_cases_requesting_department_counts_only_as_text(petition: Engine) -> None:
    """`requesting_dept` names the department when the process set it to text, trimmed; a number, a blank or
    nothing leaves the department the process version declares (census visits: the district statistics
    bureau's matter)."""
    engine = petition
    engine.deploy(read_bundle("census_visit.bpmn", folder=DATA / "audit"), by=who(engine, "designer"))
    for value in (" 区民政局\u3000", 42, "   ", {"name": "区卫健委"}, "区民政局"):
        engine.start("census_visit", "ruinan", by=who(engine, "chen"), variables={"requesting_dept": value})
    engine.start("census_visit", "ruinan", by=who(engine, "chen"))
    load = engine.procedure_statistics(who(engine, "auditor"), process_key="census_visit")["committee_load"]
    (ruinan,) = load["committees"]
    assert ruinan["total"] == 6
    assert sum((Counter(month) for month in ruinan["months"].values()), Counter()) == {"区民政局": 2, "区统计局": 4}
    assert load["departments"] == ["区民政局", "区统计局"]


# --- retention and the purge --------------------------------------------------------------------------


def test_only_a_city_admin_sets_the_retention(petition: Engine) -> None:
    engine = petition
    assert engine.retention()["days"] is None
    for someone in ("auditor", "zhang", "designer"):
        with pytest.raises(NotAllowed):
            engine.set_retention(who(engine, someone), 30)
    with pytest.raises(RuleBroken):
        engine.set_retention(who(engine, "admin"), 0)
    assert engine.set_retention(who(engine, "admin"), 3650)["days"] == 3650
    changed = [e for e in engine.audit_events(who(engine, "auditor"), action="setting_changed")["items"]]
    assert changed[-1]["data"] == {"from": None, "to": 3650} and changed[-1]["actor"]["username"] == "admin"


def test_a_purge_removes_old_finished_cases_and_leaves_a_verifiable_tombstone(petition: Engine) -> None:
    engine, admin, auditor = petition, who(petition, "admin"), who(petition, "auditor")
    old = reviewed_petition(engine, "YT-OLD")
    recent = reviewed_petition(engine, "YT-RECENT")
    running = start_petition(engine, business_key="YT-RUNNING")
    old_history = engine.history(old["id"])
    with engine.transaction() as session:
        session.execute(
            update(ProcessInstance)
            .where(ProcessInstance.id == old["id"])
            .values(ended_at=datetime.now(UTC) - timedelta(days=400))
        )
    assert engine.purge_finished(admin)["purged"] == 0  # no retention set: kept for ever
    engine.set_retention(admin, 365)
    with pytest.raises(NotAllowed):
        engine.purge_finished(auditor)

    result = engine.purge_finished(admin)
    assert result["purged"] == 1 and result["instances"][0]["instance_id"] == old["id"]
    assert result["instances"][0]["head_hash"] == old_history[-1]["hash"]
    with pytest.raises(NotFound):
        engine.get_instance(old["id"])
    assert ids(engine.list_instances(auditor)) == {recent["id"], running["id"]}
    with engine.reading() as session:
        assert session.execute(select(AuditEvent).where(AuditEvent.stream == old["id"])).first() is None
        stone = session.get(AuditTombstone, old["id"])
        assert stone.hashes == [e["hash"] for e in old_history] and stone.head_hash == old_history[-1]["hash"]
    verified = engine.verify(auditor)
    assert verified["ok"], verified["broken"]
    purge_event = engine.audit_events(auditor, action="instances_purged")["items"][0]
    assert purge_event["stream"] == "system" and purge_event["data"]["instances"][0]["events"] == len(old_history)
    assert [t["instance_id"] for t in engine.tombstones(auditor)] == [old["id"]]

    # the rows of a case that was not purged still cannot be deleted, nor can a tombstone be changed
    from sqlalchemy import delete

    with pytest.raises(Exception, match="append-only"), engine.transaction() as session:
        session.execute(delete(AuditEvent).where(AuditEvent.stream == recent["id"]))
    with pytest.raises(Exception, match="append-only"), engine.transaction() as session:
        session.execute(update(AuditTombstone).values(head_hash="0" * 64))
    assert engine.verify(auditor)["ok"]

    # a tombstone edited behind the engine's back no longer matches what the system chain recorded
    tamper(engine, "UPDATE audit_tombstone SET head_hash = :h WHERE stream = :s", h="f" * 64, s=old["id"])
    broken = engine.verify(auditor)
    assert not broken["ok"] and broken["broken"][0]["instance_id"] == old["id"]
    assert "tombstone" in broken["broken"][0]["reason"]


def ended_long_ago(engine: Engine, instance_id: str, days: int = 400) -> None:
    with engine.transaction() as session:
        session.execute(
            update(ProcessInstance)
            .where(ProcessInstance.id == instance_id)
            .values(ended_at=datetime.now(UTC) - timedelta(days=days))
        )


def test_the_workers_purge_finished_cases_once_a_day_however_many_run(petition: Engine, clock) -> None:  # noqa: ANN001
    from engine.worker import run_due

    engine, admin, auditor = petition, who(petition, "admin"), who(petition, "auditor")
    old = reviewed_petition(engine, "YT-OLD")
    ended_long_ago(engine, old["id"])
    assert [j["kind"] for j in engine.list_jobs(admin)] == []  # kept for ever: no purge job
    engine.set_retention(admin, 365)
    [job] = engine.list_jobs(admin)
    assert job["kind"] == "retention_purge" and job["instance_id"] is None

    # two workers look for due work at the same moment: one of them gets the purge
    first, second = engine.claim_jobs("worker-1"), engine.claim_jobs("worker-2")
    assert [j.kind for j in first] == ["retention_purge"] and second == []
    outcome = engine.run_job(first[0], "worker-1")
    assert outcome.result == "done" and "purged 1 instances" in outcome.detail
    with pytest.raises(NotFound):
        engine.get_instance(old["id"])
    purges = engine.audit_events(auditor, action="instances_purged")["items"]
    assert len(purges) == 1 and purges[0]["actor"]["username"] == "worker-1"
    assert run_due(engine, "worker-2") == []  # done for today
    [job] = engine.list_jobs(admin)
    due = datetime.fromisoformat(job["due_at"])
    assert timedelta(hours=23) < due - clock.now() <= timedelta(days=1) and job["locked_by"] is None

    # a day on, the next case past the retention goes, and the day after that nothing is left to purge
    later = reviewed_petition(engine, "YT-LATER")
    ended_long_ago(engine, later["id"])
    clock.advance(timedelta(days=1, minutes=1))
    assert [o.detail for o in run_due(engine, "worker-2")] == [
        f"purged 1 instances that ended before {(clock.now() - timedelta(days=365)).isoformat()}"
    ]
    assert len(engine.audit_events(auditor, action="instances_purged")["items"]) == 2
    assert engine.verify(auditor)["ok"]
    engine.set_retention(admin, None)  # kept for ever again: no daily purge
    assert engine.list_jobs(admin) == []


def test_a_worker_schedules_the_purge_for_a_retention_set_before_the_job_existed(petition: Engine) -> None:
    engine, admin = petition, who(petition, "admin")
    engine.set_retention(admin, 30)
    with engine.transaction() as session:
        session.execute(text("DELETE FROM job"))
    engine.schedule_retention_purge()
    engine.schedule_retention_purge()  # a second worker starting: still one job
    assert [j["kind"] for j in engine.list_jobs(admin)] == ["retention_purge"]


# --- statistics kept when they take long ---------------------------------------------------------------


def test_statistics_slow_to_compute_are_kept_while_fresh_and_refreshed_by_a_worker(
    petition: Engine, clock, monkeypatch: pytest.MonkeyPatch
) -> None:  # noqa: ANN001
    """A city's statistics take 6-22 s: a slow computation is served for FRESH_FOR with its time, a worker
    recomputes it before it goes stale while someone reads it, and it is forgotten a day after the last read."""
    from engine.commands import statistics
    from engine.models import StatisticsSnapshot

    auditor = who(petition, "auditor")
    reviewed_petition(petition, "YT-1")
    fast = petition.procedure_statistics(auditor)
    assert fast["instances"]["completed"] == 1 and fast["as_of"] == clock.now().isoformat()
    reviewed_petition(petition, "YT-2")
    assert petition.procedure_statistics(auditor)["instances"]["completed"] == 2  # fast: never kept

    monkeypatch.setattr(statistics, "SNAPSHOT_SLOWER_THAN", 0.0)  # every computation is "slow" now
    kept = petition.procedure_statistics(auditor)
    computed_at = kept["as_of"]
    reviewed_petition(petition, "YT-3")
    clock.advance(timedelta(minutes=4))
    assert petition.procedure_statistics(auditor) == kept  # fresh: served as kept, with its time
    street = petition.procedure_statistics(auditor, org_unit="wlq")  # another scope is its own
    assert street["instances"]["completed"] == 3
    assert petition.refresh_statistics("worker-1") == 0  # not yet half its freshness old

    clock.advance(timedelta(minutes=2))
    assert petition.refresh_statistics("worker-1") == 1  # the city's is half stale, the street's not yet
    refreshed = petition.procedure_statistics(auditor)
    assert refreshed["instances"]["completed"] == 3 and refreshed["as_of"] > computed_at

    with petition.transaction() as session:  # another worker holds the claim on every snapshot
        held = {"refreshing_by": "worker-2", "refreshing_until": clock.now() + timedelta(hours=1)}
        session.execute(update(StatisticsSnapshot).values(held))
    clock.advance(timedelta(minutes=6))
    assert petition.refresh_statistics("worker-1") == 0
    clock.advance(timedelta(minutes=10))  # stale, and its claim ran out: a reader computes it anew
    assert petition.procedure_statistics(auditor)["as_of"] == clock.now().isoformat()

    clock.advance(timedelta(days=2))  # nobody read them for a day: forgotten
    assert petition.refresh_statistics("worker-1") == 0
    with petition.reading() as session:
        assert session.execute(select(StatisticsSnapshot)).first() is None


def _endless(session, *_args):  # noqa: ANN001, ANN202 - stands in for a city's committee load: SQL for minutes
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_sleep(600)"))
    else:
        counting = "WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n WHERE x < 10000000000)"
        session.execute(text(counting + " SELECT count(*) FROM n"))
    raise AssertionError("the statement ran to its end")


def test_a_stopping_worker_cancels_the_statistics_it_computes_and_gives_the_refresh_back(
    petition: Engine, clock, monkeypatch: pytest.MonkeyPatch
) -> None:  # noqa: ANN001
    """A city's statistics are tens of seconds of SQL: a worker told to stop cancels the statement in hand
    (SQLite's interrupt, PostgreSQL's cancel request) instead of waiting for it, keeps the figures as they
    were and gives its claim back, so the next worker refreshes them."""
    import threading
    import time

    from engine.commands import statistics
    from engine.models import StatisticsSnapshot

    auditor = who(petition, "auditor")
    reviewed_petition(petition, "YT-1")
    monkeypatch.setattr(statistics, "SNAPSHOT_SLOWER_THAN", 0.0)
    kept = petition.procedure_statistics(auditor)
    reviewed_petition(petition, "YT-2")
    clock.advance(timedelta(minutes=6))  # half stale: due for a refresh

    with monkeypatch.context() as patch:
        patch.setattr(statistics, "_committee_load", _endless)
        stop = threading.Event()
        threading.Timer(0.5, stop.set).start()
        started = time.monotonic()
        assert petition.refresh_statistics("worker-1", stop.is_set) == 0
        assert time.monotonic() - started < 5  # cancelled, not run to its end
    with petition.reading() as session:
        snapshot = session.execute(select(StatisticsSnapshot)).scalar_one()
        assert snapshot.refreshing_by is None and snapshot.refreshing_until is None  # given back
    assert petition.procedure_statistics(auditor) == kept  # the figures as they were

    assert petition.refresh_statistics("worker-2") == 1  # the next worker takes it at once
    assert petition.procedure_statistics(auditor)["instances"]["completed"] == 2
