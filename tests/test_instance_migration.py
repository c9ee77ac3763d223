"""Running instances moved to a newer version of their process: the dry run says what would happen to each,
the migration moves those it can, one command each, and leaves the others where they are."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy import select

from engine import Engine
from engine.errors import NotAllowed, RuleBroken
from engine.models import HumanTask, Job, ProcessInstance
from tests.conftest import read_bundle

FORMS = ("petition_register.form.json", "petition_review_form.form.json")
REGISTER = {"title": "加装电梯", "proposer_count": 30, "eligible_count": 100}
REVIEW = {"decision": "approve", "opinion": "同意"}


def review_process(
    review_name: str = "街道审核",
    review_form: str = "petition_review_form",
    with_register: bool = True,
    publish: bool = False,
) -> bytes:
    """登记 (residents' committee) → 审核 (subdistrict, a 7-day boundary reminder) [→ 公示] → end."""
    first = "register" if with_register else "review"
    lanes = (
        '<bpmn:lane id="residents_committee" name="居民委员会"><bpmn:flowNodeRef>start</bpmn:flowNodeRef>'
        + ("<bpmn:flowNodeRef>register</bpmn:flowNodeRef>" if with_register else "")
        + ("<bpmn:flowNodeRef>publish</bpmn:flowNodeRef>" if publish else "")
        + '<bpmn:flowNodeRef>end</bpmn:flowNodeRef></bpmn:lane><bpmn:lane id="subdistrict_office" name="街道办事处">'
        "<bpmn:flowNodeRef>review</bpmn:flowNodeRef><bpmn:flowNodeRef>reminder</bpmn:flowNodeRef></bpmn:lane>"
    )

    def user_task(element: str, name: str, form: str) -> str:
        return (
            f'<bpmn:userTask id="{element}" name="{name}"><bpmn:extensionElements><spiffworkflow:properties>'
            f'<spiffworkflow:property name="formKey" value="{form}"/></spiffworkflow:properties>'
            "</bpmn:extensionElements></bpmn:userTask>"
        )

    body = '<bpmn:startEvent id="start" name="开始"/>'
    if with_register:
        body += user_task("register", "登记议题", "petition_register")
    body += user_task("review", review_name, review_form)
    body += (
        '<bpmn:boundaryEvent id="reminder" name="审核提醒" attachedToRef="review" cancelActivity="false">'
        "<bpmn:timerEventDefinition><bpmn:timeDuration>P7D</bpmn:timeDuration></bpmn:timerEventDefinition>"
        '</bpmn:boundaryEvent><bpmn:endEvent id="end" name="结束"/><bpmn:endEvent id="reminded" name="已提醒"/>'
    )
    if publish:
        body += user_task("publish", "公示结果", "petition_review_form")
    chain = ["start", *(["register"] if with_register else []), "review", *(["publish"] if publish else []), "end"]
    flows = [
        f'<bpmn:sequenceFlow id="f_{a}_{b}" sourceRef="{a}" targetRef="{b}"/>'
        for a, b in zip(chain, chain[1:], strict=False)
    ]
    flows.append('<bpmn:sequenceFlow id="f_reminder" sourceRef="reminder" targetRef="reminded"/>')
    assert first in chain
    return (
        '<?xml version="1.0" encoding="UTF-8"?><bpmn:definitions '
        'xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" '
        'xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core" id="d" targetNamespace="t">'
        '<bpmn:process id="street_review" name="街道审核流程" isExecutable="true">'
        '<bpmn:extensionElements><spiffworkflow:properties><spiffworkflow:property name="matterKind" '
        'value="self_governance"/></spiffworkflow:properties></bpmn:extensionElements>'
        f'<bpmn:laneSet id="ls">{lanes}</bpmn:laneSet>{body}{"".join(flows)}</bpmn:process></bpmn:definitions>'
    ).encode()


def deploy(engine: Engine, xml: bytes) -> int:
    files = read_bundle(*FORMS) | {"street_review.bpmn": xml}
    result = engine.deploy(files, by=engine.principal("designer"))
    return result["processes"][0]["version"]


def open_task(engine: Engine, instance_id: str) -> dict:
    tasks = engine.get_instance(instance_id)["tasks"]
    assert len(tasks) == 1, tasks
    return tasks[0]


def complete(engine: Engine, instance_id: str, user: str, data: dict) -> dict:
    return engine.complete(open_task(engine, instance_id)["id"], engine.principal(user), data)


@pytest.fixture
def two_cases(org: Engine) -> tuple[Engine, str, str]:
    """Version 1 deployed; one case waits at 登记议题, the other at 街道审核 with its reminder ticking."""
    assert deploy(org, review_process()) == 1
    wang = org.principal("wang")
    at_register = org.start("street_review", "qiaoyi", by=wang)["id"]
    at_review = org.start("street_review", "qiaoyi", by=wang)["id"]
    complete(org, at_review, "wang", REGISTER)
    return org, at_register, at_review


def test_a_dry_run_says_each_case_would_move_and_moves_nothing(two_cases, clock) -> None:  # noqa: ANN001
    engine, at_register, at_review = two_cases
    assert deploy(engine, review_process(review_name="街道复核", publish=True)) == 2
    history_before = len(engine.history(at_review))

    report = engine.migrate_instances("street_review", engine.principal("designer"), dry_run=True)

    assert report["to_version"] == 2 and report["dry_run"] is True
    assert report["counts"] == {"ok": 2, "migrated": 0, "blocked": 0}
    outcome = {o["instance_id"]: o for o in report["instances"]}
    assert outcome[at_register]["active"] == ["register"] and outcome[at_register]["changed"] == []
    assert set(outcome[at_review]["active"]) == {"review", "reminder"}
    assert outcome[at_review]["changed"] == ["review"]  # its name changes
    assert engine.get_instance(at_review)["version"] == 1
    assert len(engine.history(at_review)) == history_before


def test_migrated_cases_keep_their_open_tasks_and_deadlines_and_go_on_along_the_new_version(
    two_cases,
    clock,  # noqa: ANN001
) -> None:
    engine, at_register, at_review = two_cases
    review_task = open_task(engine, at_review)
    with engine.reading() as session:
        due_before = session.execute(select(Job.due_at).where(Job.instance_id == at_review)).scalar_one()
    clock.advance(timedelta(days=2))  # a reminder started afresh would now fall due two days later
    assert deploy(engine, review_process(review_name="街道复核", publish=True)) == 2

    report = engine.migrate_instances("street_review", engine.principal("designer"), dry_run=False)

    assert report["counts"] == {"ok": 0, "migrated": 2, "blocked": 0}
    moved = engine.get_instance(at_review)
    assert moved["version"] == 2 and moved["status"] == "running"
    task = open_task(engine, at_review)
    assert task["id"] == review_task["id"] and task["name"] == "街道复核"  # the same task, renamed
    with engine.reading() as session:
        due_after = session.execute(select(Job.due_at).where(Job.instance_id == at_review)).scalar_one()
        row = session.get(HumanTask, task["id"])
        assert row.due_at == due_after
    assert due_after == due_before
    migrated = [e for e in engine.history(at_review) if e["action"] == "instance_migrated"]
    assert len(migrated) == 1
    assert migrated[0]["data"]["from_version"] == 1 and migrated[0]["data"]["to_version"] == 2
    assert migrated[0]["actor"]["username"] == "designer"

    # Version 2's new step comes after the review, and the case ends there.
    after_review = complete(engine, at_review, "zhang", REVIEW)
    assert [t["element_id"] for t in after_review["next_tasks"]] == ["publish"]
    assert complete(engine, at_review, "wang", REVIEW)["instance"]["status"] == "completed"
    complete(engine, at_register, "wang", REGISTER)
    complete(engine, at_register, "zhang", REVIEW)
    assert open_task(engine, at_register)["element_id"] == "publish"
    assert engine.verify_audit(at_review).ok


def test_a_case_at_or_past_a_removed_step_is_blocked_with_the_reason_and_stays_where_it_is(two_cases) -> None:  # noqa: ANN001
    engine, at_register, at_review = two_cases
    assert deploy(engine, review_process(with_register=False)) == 2

    dry = engine.migrate_instances("street_review", engine.principal("designer"), dry_run=True)
    real = engine.migrate_instances("street_review", engine.principal("designer"), dry_run=False)

    for report in (dry, real):
        assert report["counts"]["blocked"] == 2
        reasons = {o["instance_id"]: o["reasons"] for o in report["instances"]}
        assert [(r["code"], r["element_id"]) for r in reasons[at_register]] == [("active-removed", "register")]
        assert [(r["code"], r["element_id"]) for r in reasons[at_review]] == [("passed-removed", "register")]
        assert "登记议题" in reasons[at_register][0]["message"]
    assert engine.get_instance(at_register)["version"] == 1
    assert all(e["action"] != "instance_migrated" for e in engine.history(at_review))
    complete(engine, at_review, "zhang", REVIEW)  # it finishes on version 1
    assert engine.get_instance(at_review)["status"] == "completed"


def test_only_designers_and_admins_move_cases_and_never_finished_ones(two_cases) -> None:  # noqa: ANN001
    engine, at_register, at_review = two_cases
    deploy(engine, review_process(review_name="街道复核"))
    with pytest.raises(NotAllowed):
        engine.migrate_instances("street_review", engine.principal("wang"), dry_run=True)
    with pytest.raises(NotAllowed):
        engine.migrate_instance(at_register, 2, engine.principal("auditor"))
    complete(engine, at_review, "zhang", REVIEW)
    with pytest.raises(RuleBroken, match="completed"):
        engine.migrate_instance(at_review, 2, engine.principal("admin"))
    assert engine.migrate_instance(at_register, 2, engine.principal("admin"))["outcome"] == "migrated"
    with pytest.raises(RuleBroken, match="already runs on version 2"):
        engine.migrate_instance(at_register, 2, engine.principal("admin"))


def test_a_suspended_case_moves_but_does_not_run_until_resumed(two_cases) -> None:  # noqa: ANN001
    engine, at_register, _ = two_cases
    engine.suspend(at_register, by=engine.principal("admin"))
    deploy(engine, review_process(review_name="街道复核", publish=True))
    outcome = engine.migrate_instance(at_register, 2, engine.principal("designer"))
    assert outcome["outcome"] == "migrated"
    with engine.reading() as session:
        instance = session.get(ProcessInstance, at_register)
        assert (instance.status, instance.process_version) == ("suspended", 2)
    engine.resume(at_register, by=engine.principal("admin"))
    complete(engine, at_register, "wang", REGISTER)
    assert open_task(engine, at_register)["name"] == "街道复核"


@pytest.mark.slow
def test_an_operator_moves_cases_from_the_shell_after_a_dry_run(two_cases, db_url: str) -> None:  # noqa: ANN001
    from tests.test_cli import govflow

    engine, at_register, at_review = two_cases
    deploy(engine, review_process(review_name="街道复核"))
    dry = govflow(db_url, "--json", "migrate", "street_review", "--dry-run", "--user", "designer")
    assert dry.returncode == 0, dry.stderr
    assert json.loads(dry.stdout)["counts"] == {"ok": 2, "migrated": 0, "blocked": 0}
    human = govflow(db_url, "migrate", "street_review", "--instance", at_review)
    assert human.returncode == 0 and "moved 1, blocked 0" in human.stdout, human.stderr
    assert engine.get_instance(at_review)["version"] == 2
    assert engine.get_instance(at_register)["version"] == 1
    deploy(engine, review_process(with_register=False))
    blocked = govflow(db_url, "migrate", "street_review", "--from", "1")
    assert blocked.returncode == 1 and "登记议题" in blocked.stdout and "Traceback" not in blocked.stderr
