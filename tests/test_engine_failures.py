"""Scripts that fail or misbehave: the instance fails with element, line and message; it can be retried."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select

from engine import Engine
from engine.errors import BundleInvalid, Conflict, NotAllowed
from engine.models import Deployment, ProcessDefinition
from tests.conftest import DATA, who

pytestmark = pytest.mark.usefixtures("org")
SCRIPTED = (DATA / "engine" / "scripted.bpmn").read_bytes()


def with_script(script: str) -> dict[str, bytes]:
    body = SCRIPTED.replace(
        b"total = present\nratio = yes / present\npassed = ratio &gt; 0.5",
        script.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").encode(),
    )
    assert body != SCRIPTED
    return {"scripted.bpmn": body}


def definitions(engine: Engine) -> int:
    with engine.reading() as session:
        return session.execute(select(func.count()).select_from(ProcessDefinition)).scalar_one()


def test_a_script_error_fails_the_instance_naming_element_line_and_message_and_a_retry_continues(
    engine: Engine,
) -> None:
    engine.deploy({"scripted.bpmn": SCRIPTED})
    instance = engine.start("vote_count", "qiaoyi", by=who(engine, "wang"), variables={"present": 0, "yes": 0})
    assert instance["status"] == "failed"
    assert instance["error"]["element_id"] == "count_votes"
    assert instance["error"]["line"] == 2
    assert "division by zero" in instance["error"]["message"]
    assert instance["tasks"] == []
    history = engine.history(instance["id"])
    assert history[-1]["action"] == "instance_failed"
    assert history[-1]["element_id"] == "count_votes"

    with pytest.raises(NotAllowed):
        engine.retry(instance["id"], by=who(engine, "wang"))  # officials do not retry; admins do
    retried = engine.retry(instance["id"], by=who(engine, "admin"), variables={"present": 10, "yes": 7})
    assert retried["status"] == "running"
    assert retried["error"] is None
    [confirm] = retried["tasks"]
    assert confirm["element_id"] == "confirm"
    done = engine.complete(confirm["id"], who(engine, "wang"), {})
    assert done["instance"]["status"] == "completed"
    variables = engine.get_instance(instance["id"])["variables"]
    assert variables["ratio"] == 0.7 and variables["passed"] is True
    with pytest.raises(Conflict):
        engine.retry(instance["id"], by=who(engine, "admin"))
    assert engine.verify_audit(instance["id"]).ok


def test_a_failed_instance_survives_a_restart_and_is_retried_from_the_database(engine: Engine, db_url: str) -> None:
    from engine.config import Settings

    engine.deploy({"scripted.bpmn": SCRIPTED})
    instance = engine.start("vote_count", "qiaoyi", by=who(engine, "wang"), variables={"present": 0, "yes": 1})
    fresh = Engine(Settings(database_url=db_url))
    try:
        assert fresh.get_instance(instance["id"])["status"] == "failed"
        retried = fresh.retry(instance["id"], variables={"present": 2})
        assert retried["status"] == "running"
    finally:
        fresh.close()


@pytest.mark.parametrize(
    "script",
    [
        "__import__('os').system('touch {marker}')",
        "import os\nos.system('touch {marker}')",
        "open('{marker}', 'w').write('x')",
        "x = ().__class__.__base__.__subclasses__()",
        "exec(\"open('{marker}', 'w')\")",
        "eval(\"open('{marker}', 'w')\")",
    ],
)
def test_a_script_that_reaches_outside_the_sandbox_is_refused_at_deploy_and_never_runs(
    engine: Engine, tmp_path: Path, script: str
) -> None:
    marker = tmp_path / "marker"
    before = definitions(engine)
    with pytest.raises(BundleInvalid) as caught:
        engine.deploy(with_script(script.format(marker=marker)))
    [problem] = [p for p in caught.value.problems if p.element_id == "count_votes"]
    assert problem.file == "scripted.bpmn"
    assert problem.line is not None
    assert definitions(engine) == before
    assert not marker.exists()


def test_a_script_that_runs_too_long_is_stopped_and_the_instance_fails(engine: Engine, tmp_path: Path) -> None:
    engine.deploy(with_script("n = 0\nwhile True:\n    n += 1"))
    instance = engine.start("vote_count", "qiaoyi", by=who(engine, "wang"))
    assert instance["status"] == "failed"
    assert instance["error"]["element_id"] == "count_votes"
    assert "1.0" in instance["error"]["message"] or "time" in instance["error"]["message"].lower()


BAD_BUNDLES = {
    "not_xml": {"broken.bpmn": b"this is not XML <"},
    "not_bpmn": {"other.bpmn": b"<?xml version='1.0'?><html><body/></html>"},
    "xxe": {
        "xxe.bpmn": b"""<?xml version="1.0"?>
<!DOCTYPE d [<!ENTITY e SYSTEM "file:///etc/passwd">]>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d">
  <bpmn:process id="p" name="&e;" isExecutable="true"><bpmn:startEvent id="s"/></bpmn:process>
</bpmn:definitions>"""
    },
    "billion_laughs": {
        "lol.bpmn": b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d">
  <bpmn:process id="p" name="&lol3;" isExecutable="true"><bpmn:startEvent id="s"/></bpmn:process>
</bpmn:definitions>"""
    },
    "missing_called_element": {
        "caller.bpmn": b"""<?xml version="1.0"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d">
  <bpmn:process id="caller" isExecutable="true">
    <bpmn:startEvent id="s"/><bpmn:callActivity id="call_it" calledElement="nowhere"/><bpmn:endEvent id="e"/>
    <bpmn:sequenceFlow id="f1" sourceRef="s" targetRef="call_it"/>
    <bpmn:sequenceFlow id="f2" sourceRef="call_it" targetRef="e"/>
  </bpmn:process>
</bpmn:definitions>"""
    },
    "bad_timer": {
        "timer.bpmn": b"""<?xml version="1.0"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d">
  <bpmn:process id="timed" isExecutable="true">
    <bpmn:startEvent id="s"/>
    <bpmn:intermediateCatchEvent id="wait_a_bit">
      <bpmn:timerEventDefinition id="t"><bpmn:timeDuration>P1X</bpmn:timeDuration></bpmn:timerEventDefinition>
    </bpmn:intermediateCatchEvent>
    <bpmn:endEvent id="e"/>
    <bpmn:sequenceFlow id="f1" sourceRef="s" targetRef="wait_a_bit"/>
    <bpmn:sequenceFlow id="f2" sourceRef="wait_a_bit" targetRef="e"/>
  </bpmn:process>
</bpmn:definitions>"""
    },
    "missing_form": {
        "formless.bpmn": b"""<?xml version="1.0"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
  xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core" id="d">
  <bpmn:process id="formless" isExecutable="true">
    <bpmn:startEvent id="s"/>
    <bpmn:userTask id="fill_it"><bpmn:extensionElements><spiffworkflow:properties>
      <spiffworkflow:property name="formKey" value="no_such_form"/></spiffworkflow:properties></bpmn:extensionElements>
    </bpmn:userTask>
    <bpmn:endEvent id="e"/>
    <bpmn:sequenceFlow id="f1" sourceRef="s" targetRef="fill_it"/>
    <bpmn:sequenceFlow id="f2" sourceRef="fill_it" targetRef="e"/>
  </bpmn:process>
</bpmn:definitions>"""
    },
}
EXPECTED_ELEMENT = {
    "missing_called_element": "call_it",
    "bad_timer": "wait_a_bit",
    "missing_form": "fill_it",
}


@pytest.mark.parametrize("case", sorted(BAD_BUNDLES))
def test_a_bad_bundle_is_refused_with_file_element_and_line_and_nothing_is_deployed(engine: Engine, case: str) -> None:
    files = dict(BAD_BUNDLES[case])
    files["scripted.bpmn"] = SCRIPTED  # a good file in the same bundle is not deployed either
    with pytest.raises(BundleInvalid) as caught:
        engine.deploy(files)
    problems = caught.value.problems
    assert problems and all(p.message for p in problems)
    [bad_file] = [name for name in BAD_BUNDLES[case]]
    mine = [p for p in problems if p.file == bad_file]
    assert mine, problems
    if case in EXPECTED_ELEMENT:
        assert any(p.element_id == EXPECTED_ELEMENT[case] and p.line for p in mine), mine
    assert all("root:" not in p.message for p in problems)  # no passwd content echoed
    assert definitions(engine) == 0
    with engine.reading() as session:
        assert session.execute(select(func.count()).select_from(Deployment)).scalar_one() == 0
    report = engine.validate_bundle(files)
    assert report["ok"] is False and report["errors"]
