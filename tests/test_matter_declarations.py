"""Work pushed to committees must say what matter it is: refused at deployment and at start otherwise.

A process whose user tasks fall to committee level declares `matterKind=self_governance`, an
`assistedMatter` on the admission list, or `matterKind=statutory_duty` with its `legalBasis`
(engine/admission.py). Through the REST API with the demo designer and officials.
"""

from __future__ import annotations

import io

from sqlalchemy import select

from engine.deployments import store_blob
from engine.models import ProcessDefinition
from tests.conftest import DATA, problem_of
from tests.procedure_desk import Desk

LEDGER = (DATA / "procedures" / "garbage_ledger.bpmn").read_text(encoding="utf-8")
ADMITTED = '<spiffworkflow:property name="assistedMatter" value="garbage_sorting_ledger"/>'
STEP = "填报垃圾分类台账 (fill_ledger)"


def survey(key: str, properties: str) -> bytes:
    """The ledger process under another key, declaring `properties` instead of its assisted matter."""
    xml = LEDGER.replace("garbage_ledger", key).replace(ADMITTED, properties)
    if not properties:
        xml = xml.replace("<bpmn:extensionElements><spiffworkflow:properties></spiffworkflow:properties>", "")
        xml = xml.replace("</bpmn:extensionElements>\n    <bpmn:laneSet", "\n    <bpmn:laneSet", 1)
    return xml.encode()


def deploy(desk: Desk, xml: bytes, path: str = "/deployments"):  # noqa: ANN201
    return desk.post(path, "designer", data={"files": [(io.BytesIO(xml), "survey.bpmn")]})


def kind(value: str) -> str:
    return f'<spiffworkflow:property name="matterKind" value="{value}"/>'


def test_a_process_giving_committees_work_without_saying_what_matter_it_is_is_refused(demo_desk: Desk) -> None:
    desk = demo_desk
    undeclared = survey("household_survey", "")
    assert "matterKind" not in undeclared.decode() and "assistedMatter" not in undeclared.decode()
    refused = deploy(desk, undeclared)
    assert refused.status_code == 422
    [error] = problem_of(refused)["errors"]
    assert "household_survey" in error["message"] and STEP in error["message"]
    assert "declares no matter" in error["message"] and error["element_id"] == "household_survey"
    checked = deploy(desk, undeclared, "/deployments/validate").json
    assert checked["ok"] is False and STEP in checked["errors"][0]["message"]

    unknown = deploy(desk, survey("household_survey", kind("own_affairs")))
    assert unknown.status_code == 422 and "matterKind=own_affairs" in problem_of(unknown)["errors"][0]["message"]
    no_basis = deploy(desk, survey("household_survey", kind("statutory_duty")))
    assert no_basis.status_code == 422 and "names no legalBasis" in problem_of(no_basis)["errors"][0]["message"]
    assert desk.get("/process-definitions?key=household_survey", "designer").json["items"] == []

    # Declared, each kind deploys and the committee can start it.
    statutory = kind("statutory_duty") + '<spiffworkflow:property name="legalBasis" value="统计法第七条"/>'
    assert deploy(desk, survey("household_survey", statutory)).status_code == 201
    assert desk.start("rc_qiaoyi", "household_survey", "qiaoyi")["status"] == "running"
    assert deploy(desk, survey("stairwell_cleanup", kind("self_governance"))).status_code == 201


def test_an_undeclared_process_an_earlier_release_deployed_no_longer_starts(demo_desk: Desk) -> None:
    desk = demo_desk
    assert deploy(desk, survey("old_survey", kind("self_governance"))).status_code == 201
    engine = desk.http.application.config["GOVFLOW_ENGINE"]
    with engine.transaction() as session:  # as a release that only warned about it stored the process
        old = select(ProcessDefinition).where(ProcessDefinition.key == "old_survey")
        definition = session.execute(old).scalar_one()
        definition.bpmn_sha256 = store_blob(session, survey("old_survey", ""))
    refused = desk.post("/process-instances", "rc_qiaoyi", json={"process_key": "old_survey", "org_unit": "qiaoyi"})
    assert refused.status_code == 422
    detail = problem_of(refused)["detail"]
    assert "old_survey" in detail and STEP in detail and "declares no matter" in detail


def test_the_shipped_procedures_say_what_matter_they_give_committees(demo_desk: Desk) -> None:
    desk = demo_desk
    verification = '<spiffworkflow:property name="assistedMatter" value="household_verification_assist"/>'
    basis = '<spiffworkflow:property name="legalBasis" value="上海市居民委员会工作条例'
    for key, declared in {
        "deliberation": [kind("self_governance")],
        "service_item_delegation": [verification],
        "committee_change": [kind("statutory_duty"), basis + "第九条"],  # the article giving the work
        "access_review": [kind("statutory_duty"), basis + "第二十七条"],
    }.items():
        xml = desk.get(f"/process-definitions/{key}/xml", "designer").get_data(as_text=True)
        assert all(text in xml for text in declared), key
