"""抄送: officials and processes copy steps of a case to others, who read it but do not work it; on both databases.

The petition goes from 登记议题 (wang, residents' committee of 桥一) to 街道审查 (zhang and liu, subdistrict
office of 五里桥); wu works at another subdistrict (南京东路), chen at the committee next door.
"""

from __future__ import annotations

import pytest

from engine import Engine
from engine.errors import NotAllowed, RuleBroken
from tests.conftest import read_bundle, who

pytestmark = pytest.mark.usefixtures("petition")

ISSUE = {"title": "加装电梯", "proposer_count": 30, "eligible_count": 100}


def to_review(engine: Engine) -> tuple[str, str, str]:
    instance = engine.start("petition_review", "qiaoyi", by=who(engine, "wang"), business_key="YT-2026-007")
    register_id = instance["tasks"][0]["id"]
    [review] = engine.complete(register_id, who(engine, "wang"), ISSUE)["next_tasks"]
    return instance["id"], register_id, review["id"]


def test_an_official_copies_a_step_to_an_official_of_another_subdistrict_who_reads_but_cannot_work_it(
    engine: Engine,
) -> None:
    instance_id, _, review_id = to_review(engine)
    wu = who(engine, "wu")
    with pytest.raises(NotAllowed):
        engine.get_task(review_id, wu)  # before the copy: another subdistrict's case is closed to wu

    copied = engine.copy_task(review_id, who(engine, "zhang"), ["wu"], note="请南京东路街道知悉")
    assert copied == {"task_id": review_id, "copied_to": ["wu"], "already": []}
    again = engine.copy_task(review_id, who(engine, "zhang"), ["wu"], note="请南京东路街道知悉")
    assert again == {"task_id": review_id, "copied_to": [], "already": ["wu"]}  # a double click copies nothing

    [item] = engine.copied_tasks(wu)["items"]
    assert (item["id"], item["name"], item["business_key"]) == (review_id, "街道审查", "YT-2026-007")
    assert (item["copy"]["by"], item["copy"]["note"]) == ("zhang", "请南京东路街道知悉")
    assert engine.copied_count(wu) == 1 and engine.copied_count(who(engine, "liu")) == 0
    assert engine.get_task(review_id, wu)["name"] == "街道审查"
    assert engine.get_instance(instance_id, wu)["business_key"] == "YT-2026-007"
    assert "task_copied" in [e["action"] for e in engine.history(instance_id, wu)]
    assert [c["kind"] for c in engine.instance_comments(instance_id, wu)] == ["copy"]
    assert engine.path(instance_id, wu)["active"] == ["review_petition"]
    with pytest.raises(NotAllowed):
        engine.complete(review_id, wu, {"decision": "approve"})
    with pytest.raises(NotAllowed):
        engine.claim(review_id, wu)

    [event] = [e for e in engine.history(instance_id) if e["action"] == "task_copied"]
    assert event["actor"]["username"] == "zhang"
    assert event["data"] == {"task_id": review_id, "to": ["wu"], "note": "请南京东路街道知悉"}
    assert [c["to"] for c in engine.task_copies(review_id, who(engine, "zhang"))] == ["wu"]
    assert engine.verify_audit(instance_id).ok


def test_a_step_is_copied_only_by_its_officials_and_only_to_active_users_other_than_oneself(engine: Engine) -> None:
    _, _, review_id = to_review(engine)
    zhang = who(engine, "zhang")
    with pytest.raises(RuleBroken, match="no active user ghost"):
        engine.copy_task(review_id, zhang, ["wu", "ghost"])
    with pytest.raises(RuleBroken, match="cannot be copied to yourself"):
        engine.copy_task(review_id, zhang, ["zhang"])
    with pytest.raises(RuleBroken, match="Name the officials"):
        engine.copy_task(review_id, zhang, [])
    with pytest.raises(NotAllowed, match="may not copy"):
        engine.copy_task(review_id, who(engine, "wu"), ["chen"])  # another subdistrict's step
    with pytest.raises(NotAllowed, match="Auditors read cases"):
        engine.copy_task(review_id, who(engine, "auditor"), ["wu"])
    assert engine.copied_tasks(who(engine, "wu"))["items"] == []  # nothing of the refused copies was kept


def test_the_process_copies_the_steps_it_names_and_records_the_names_it_got_wrong(engine: Engine) -> None:
    engine.deploy(read_bundle("copied_review.bpmn"), by=who(engine, "designer"))
    instance = engine.start("copied_review", "qiaoyi", by=who(engine, "wang"), business_key="CC-1")
    [register] = instance["tasks"]
    assert engine.copied_tasks(who(engine, "liu"))["items"] == []  # nothing named before the script ran

    [review] = engine.complete(register["id"], who(engine, "wang"), {})["next_tasks"]
    [item] = engine.copied_tasks(who(engine, "liu"))["items"]
    assert (item["id"], item["copy"]["by"]) == (review["id"], "engine")
    [event] = [e for e in engine.history(instance["id"]) if e["action"] == "task_copied"]
    assert event["actor"]["username"] == "engine"
    assert event["data"] == {"task_id": review["id"], "to": ["liu"], "note": "", "unknown": ["ghost"]}
    assert engine.complete(review["id"], who(engine, "zhang"), {})["instance"]["status"] == "completed"
    assert engine.verify_audit(instance["id"]).ok


def test_the_copied_list_filters_by_search_text_and_pages(engine: Engine) -> None:
    ids = []
    for n in range(3):
        instance = engine.start("petition_review", "qiaoyi", by=who(engine, "wang"), business_key=f"BK-{n}")
        ids.append(instance["tasks"][0]["id"])
        engine.copy_task(ids[-1], who(engine, "wang"), ["chen"])
    chen = who(engine, "chen")
    first = engine.copied_tasks(chen, limit=2)
    assert [i["business_key"] for i in first["items"]] == ["BK-2", "BK-1"]  # newest copy first
    rest = engine.copied_tasks(chen, limit=2, cursor=first["next_cursor"])
    assert [i["business_key"] for i in rest["items"]] == ["BK-0"] and rest["next_cursor"] is None
    assert [i["business_key"] for i in engine.copied_tasks(chen, q="bk-1")["items"]] == ["BK-1"]
    assert engine.copied_tasks(chen, process_key="other")["items"] == []


# --- who is who, for the workspace -----------------------------------------------------------------


def test_a_task_is_handed_to_its_other_candidates_or_to_colleagues_of_its_unit(engine: Engine) -> None:
    engine.add_user("zhou", "secret-pass-1", [("acceptance_center", "wlq")], "周敏")
    _, _, review_id = to_review(engine)
    people = engine.task_people(review_id, who(engine, "zhang"))
    assert [p["username"] for p in people["candidates"]] == ["liu"]
    assert [p["username"] for p in people["colleagues"]] == ["liu", "zhou"]
    assert people["colleagues"][1]["display_name"] == "周敏"
    with pytest.raises(NotAllowed):
        engine.task_people(review_id, who(engine, "wu"))


def test_officials_may_start_every_process_for_their_unit_and_below_designers_nothing(engine: Engine) -> None:
    zhang = engine.startable(who(engine, "zhang"))
    assert [p["key"] for p in zhang["processes"]] == ["petition_review"]
    assert [u["code"] for u in zhang["org_units"]] == ["wlq", "qiaoyi", "ruinan"]  # by place in the tree
    assert [u["code"] for u in engine.startable(who(engine, "wang"))["org_units"]] == ["qiaoyi"]
    assert engine.startable(who(engine, "designer")) == {"processes": [], "org_units": []}
    assert engine.display_names(["zhang", "nobody", None]) == {"zhang": "zhang"}
    assert engine.org_unit_names(["wlq", "nowhere"]) == {"wlq": "五里桥街道"}
