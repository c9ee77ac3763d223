"""A registry write made by a BPMN script stands or falls with the script: nothing half-written."""

from __future__ import annotations

from engine import Engine

BPMN = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d" targetNamespace="t">
  <bpmn:process id="grant_then_fail" name="登记后出错" isExecutable="true">
    <bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:scriptTask id="grant" name="登记待遇后计算">
      <bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing>
      <bpmn:script>benefit = register_benefit({"item_code": "severe_disability_unemployed_subsidy",
    "applicant_name": "甲",
    "applicant_id_no": "310101198001011234", "applicant_committee": committee, "monthly_amount": 450})
share = 450 / divisor</bpmn:script>
    </bpmn:scriptTask>
    <bpmn:endEvent id="end"><bpmn:incoming>f2</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="grant"/>
    <bpmn:sequenceFlow id="f2" sourceRef="grant" targetRef="end"/>
  </bpmn:process>
</bpmn:definitions>
"""


def registry_events(org: Engine, instance_id: str) -> list[dict]:
    return [e for e in org.history(instance_id) if e["action"] == "registry_changed"]


def test_a_script_that_fails_after_registering_a_benefit_leaves_no_benefit_and_a_retry_registers_one(
    org: Engine,
) -> None:
    org.deploy({"grant_then_fail.bpmn": BPMN.encode()}, by=org.principal("designer"))
    admin = org.principal("admin")
    failed = org.start("grant_then_fail", "qiaoyi", variables={"committee": "qiaoyi", "divisor": 0})
    assert failed["status"] == "failed" and "ZeroDivisionError" in failed["error"]["message"]
    assert org.benefits(admin, instance_id=failed["id"]) == []
    assert registry_events(org, failed["id"]) == []  # nor its audit event
    assert org.verify_audit(failed["id"]).ok

    retried = org.retry(failed["id"], variables={"divisor": 2})
    assert retried["status"] == "completed"
    [benefit] = org.benefits(admin, instance_id=failed["id"])
    assert benefit["monthly_amount"] == 450 and benefit["org_unit"] == "qiaoyi"
    assert len(registry_events(org, failed["id"])) == 1
    assert org.verify_audit(failed["id"]).ok


def test_a_registry_write_that_is_refused_fails_the_step_with_its_sentence_and_writes_nothing(org: Engine) -> None:
    org.deploy({"grant_then_fail.bpmn": BPMN.encode()}, by=org.principal("designer"))
    refused = org.start("grant_then_fail", "wlq", variables={"committee": "wlq", "divisor": 1})
    assert refused["status"] == "failed"
    assert "where the applicant lives" in refused["error"]["message"]
    assert org.benefits(org.principal("admin"), instance_id=refused["id"]) == []
    assert org.verify_audit(refused["id"]).ok
