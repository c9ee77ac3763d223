"""The studio's engine commands: drafts per designer, opened from a version, saved, deployed as the next
version; the diff of two versions; a Camunda Modeler file imported; a version downloaded; a timer checked."""

from __future__ import annotations

import io
import zipfile

import pytest

from engine import Engine
from engine.errors import NotAllowed, RuleBroken
from tests.conftest import PASSWORD, PETITION_BUNDLE, read_bundle

CAMUNDA = b"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
  xmlns:camunda="http://camunda.org/schema/1.0/bpmn" xmlns:modeler="http://camunda.org/schema/modeler/1.0"
  id="defs" targetNamespace="http://bpmn.io/schema/bpmn" modeler:executionPlatform="Camunda Platform">
  <bpmn:process id="leave_request" name="Leave request">
    <bpmn:startEvent id="start"/>
    <bpmn:userTask id="approve" name="Approve" camunda:formKey="camunda-forms:bpmn:approval_form"
      camunda:candidateGroups="subdistrict_office" camunda:asyncBefore="true">
      <bpmn:extensionElements>
        <camunda:taskListener class="org.example.Notify" event="create"/>
      </bpmn:extensionElements>
    </bpmn:userTask>
    <bpmn:exclusiveGateway id="ok" name="Approved?" default="no"/>
    <bpmn:businessRuleTask id="classify" name="Classify" camunda:decisionRef="leave_class"/>
    <bpmn:serviceTask id="notify" name="Notify" camunda:class="org.example.Mail"/>
    <bpmn:endEvent id="end"/>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="approve"/>
    <bpmn:sequenceFlow id="f2" sourceRef="approve" targetRef="ok"/>
    <bpmn:sequenceFlow id="yes" sourceRef="ok" targetRef="classify">
      <bpmn:conditionExpression xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
        xsi:type="bpmn:tFormalExpression">${approved &amp;&amp; days &lt; 10}</bpmn:conditionExpression>
    </bpmn:sequenceFlow>
    <bpmn:sequenceFlow id="no" sourceRef="ok" targetRef="end"/>
    <bpmn:sequenceFlow id="f3" sourceRef="classify" targetRef="notify"/>
    <bpmn:sequenceFlow id="f4" sourceRef="notify" targetRef="end"/>
  </bpmn:process>
</bpmn:definitions>
"""


@pytest.fixture
def studio(petition: Engine) -> Engine:
    petition.add_user("designer2", PASSWORD, [("designer", "sh")])
    return petition


def test_opening_a_version_makes_a_draft_of_its_bpmn_forms_and_decisions(studio: Engine) -> None:
    draft = studio.create_draft(studio.principal("designer"), process_key="petition_review")
    assert (draft["process_key"], draft["base_version"], draft["title"]) == ("petition_review", 1, "议题联名审查")
    assert [f["filename"] for f in draft["files"]] == [
        "petition_class.dmn",
        "petition_register.form.json",
        "petition_review.bpmn",
        "petition_review_form.form.json",
    ]
    xml = studio.draft_file(draft["id"], "petition_review.bpmn", studio.principal("designer"))
    assert xml == read_bundle("petition_review.bpmn")["petition_review.bpmn"]


def test_a_draft_is_its_designers_own_and_admins_see_every_draft(studio: Engine) -> None:
    mine = studio.create_draft(studio.principal("designer"), process_key="petition_review")
    theirs = studio.create_draft(studio.principal("designer2"), new_process="new_matter", title="新事项")
    assert [d["id"] for d in studio.list_drafts(studio.principal("designer"))] == [mine["id"]]
    assert {d["id"] for d in studio.list_drafts(studio.principal("admin"))} == {mine["id"], theirs["id"]}
    with pytest.raises(NotAllowed):
        studio.save_draft(mine["id"], studio.principal("designer2"), files={"x.bpmn": b"<x/>"})
    with pytest.raises(NotAllowed):
        studio.list_drafts(studio.principal("wang"))
    with pytest.raises(RuleBroken, match="not allowed"):
        studio.save_draft(mine["id"], studio.principal("designer"), files={"../etc/passwd.bpmn": b"<x/>"})
    library = studio.process_library(studio.principal("designer"))
    assert [(e["key"], [v["version"] for v in e["versions"]], len(e["drafts"])) for e in library] == [
        ("petition_review", [1], 1)
    ]


def test_a_saved_draft_deploys_as_the_next_version_and_follows_it(studio: Engine) -> None:
    designer = studio.principal("designer")
    wang = studio.principal("wang")
    running = studio.start("petition_review", "qiaoyi", by=wang)["id"]
    draft = studio.create_draft(designer, process_key="petition_review")
    xml = studio.draft_file(draft["id"], "petition_review.bpmn", designer).replace(
        "街道审查".encode(), "街道复查".encode()
    )
    saved = studio.save_draft(draft["id"], designer, files={"petition_review.bpmn": xml}, title="复查版")
    assert saved["title"] == "复查版"

    result = studio.deploy_draft(draft["id"], designer)

    assert [(p["key"], p["version"]) for p in result["processes"]] == [("petition_review", 2)]
    assert result["forms"] == []  # the forms did not change: no new form versions
    assert studio.get_draft(draft["id"], designer)["base_version"] == 2
    library = studio.process_library(designer)[0]
    assert [(v["version"], v["running"], v["deployed_by"]) for v in library["versions"]] == [
        (2, 0, "designer"),
        (1, 1, "designer"),
    ]
    assert studio.get_instance(running)["version"] == 1

    diff = studio.diff_versions("petition_review", 1, 2, designer)
    assert diff["added"] == [] and diff["removed"] == []
    assert diff["changed"] == [
        {
            "id": "review_petition",
            "type": "userTask",
            "name": "街道复查",
            "changes": [{"field": "name", "before": "街道审查", "after": "街道复查"}],
        }
    ]


def test_the_diff_names_added_removed_and_changed_lanes_forms_timers_and_conditions(studio: Engine) -> None:
    designer = studio.principal("designer")
    files = read_bundle(*PETITION_BUNDLE)
    xml = files["petition_review.bpmn"]
    xml = xml.replace(b'value="petition_review_form"', b'value="petition_register"')
    xml = xml.replace(b'route == "review"', b'route == "review" and share &gt; 0')
    xml = xml.replace(b"<bpmn:flowNodeRef>review_petition</bpmn:flowNodeRef>", b"")
    xml = xml.replace(
        b"<bpmn:flowNodeRef>end_filed</bpmn:flowNodeRef>",
        b"<bpmn:flowNodeRef>end_filed</bpmn:flowNodeRef><bpmn:flowNodeRef>review_petition</bpmn:flowNodeRef>",
    )
    xml = xml.replace(
        b'<bpmn:endEvent id="end_reviewed" name="\xe5\xb7\xb2\xe5\xae\xa1\xe6\x9f\xa5">',
        b'<bpmn:endEvent id="end_done" name="done">',
    )
    xml = xml.replace(b'targetRef="end_reviewed"', b'targetRef="end_done"').replace(
        b"<bpmn:flowNodeRef>end_reviewed</bpmn:flowNodeRef>", b"<bpmn:flowNodeRef>end_done</bpmn:flowNodeRef>"
    )
    studio.deploy(files | {"petition_review.bpmn": xml}, by=designer)

    diff = studio.diff_versions("petition_review", 1, 2, designer)

    assert [e["id"] for e in diff["added"]] == ["end_done"]
    assert [e["id"] for e in diff["removed"]] == ["end_reviewed"]
    changes = {e["id"]: {c["field"]: (c["before"], c["after"]) for c in e["changes"]} for e in diff["changed"]}
    assert changes["review_petition"] == {
        "lane": ("subdistrict_office", "residents_committee"),
        "form": ("petition_review_form", "petition_register"),
    }
    assert changes["f_review"] == {"condition": ('route == "review"', 'route == "review" and share > 0')}
    assert changes["f5"] == {"target": ("end_reviewed", "end_done")}


def test_a_camunda_modeler_file_is_imported_with_what_was_converted_and_what_was_dropped(studio: Engine) -> None:
    designer = studio.principal("designer")
    draft = studio.import_draft(designer, "leave.bpmn", CAMUNDA)
    assert draft["process_key"] == "leave_request" and draft["title"] == "Leave request"
    warnings = {(w["code"], w["element_id"]) for w in draft["warnings"]}
    assert {
        ("import-converted", "leave_request"),
        ("import-converted", "approve"),
        ("import-converted", "classify"),
        ("import-converted", "yes"),
        ("import-ignored", "approve"),
        ("import-ignored", "notify"),
    } <= warnings
    xml = studio.draft_file(draft["id"], "leave.bpmn", designer).decode()
    assert "camunda:" not in xml and 'isExecutable="true"' in xml
    assert '<spiffworkflow:property name="formKey" value="approval_form"/>' in xml
    assert "<spiffworkflow:calledDecisionId>leave_class</spiffworkflow:calledDecisionId>" in xml
    assert "approved and days &lt; 10" in xml
    report = studio.validate_draft(draft["id"], designer)
    assert report["ok"] is False  # the form and the decision are not there yet: said, not crashed
    assert {e["code"] for e in report["errors"]} >= {"form-unknown", "decision-unknown"}
    with pytest.raises(RuleBroken, match="cannot be read"):
        studio.import_draft(designer, "broken.bpmn", b"<bpmn:definitions")


def test_a_version_downloads_as_its_files(studio: Engine) -> None:
    files = studio.version_files("petition_review", 1, studio.principal("designer"))
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as out:
        for name, content in files.items():
            out.writestr(name, content)
    assert sorted(files) == sorted(PETITION_BUNDLE)
    with pytest.raises(NotAllowed):
        studio.version_files("petition_review", 1, studio.principal("auditor"))


def test_a_timer_is_checked_as_the_designer_types_it(studio: Engine) -> None:
    designer = studio.principal("designer")
    assert studio.check_timer_text("timeDuration", "P7D", designer)["ok"] is True
    wrong = studio.check_timer_text("timeDuration", "P7X", designer)
    assert wrong["ok"] is False and wrong["problems"][0]["code"] == "timer-invalid"
    kind = studio.check_timer_text("timeDate", "P7D", designer)
    assert kind["ok"] is False and "timeDuration" in kind["problems"][0]["message"]
    rule = studio.check_timer_text("timeDuration", 'rule_period("deliberation.hearing_notice_days")', designer)
    assert rule["ok"] is True and rule["value"].startswith("P")
    unknown = studio.check_timer_text("timeDuration", 'rule_period("no.such.rule")', designer)
    assert unknown["ok"] is False and unknown["problems"][0]["code"] == "timer-rule"
    assert studio.check_timer_text("timeDuration", "working_days(15)", designer)["value"] == "15 working days"
    assert studio.check_timer_text("timeDuration", "working_days(-1)", designer)["ok"] is False
