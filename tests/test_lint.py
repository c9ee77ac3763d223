"""The studio's lint rules: what deploys but will likely go wrong, each finding on its element with a code."""

from __future__ import annotations

import io

from engine import Engine
from engine.demo import library_files
from engine.lint import LONG_CHAIN, lint_bundle
from tests.conftest import PETITION_BUNDLE, ApiClient, read_bundle

HEAD = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    '<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" '
    'xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core" id="d" targetNamespace="t">'
)


def process(body: str, lanes: str = "") -> bytes:
    return (
        f'{HEAD}<bpmn:process id="p" name="测试流程" isExecutable="true">{lanes}{body}</bpmn:process>'
        "</bpmn:definitions>"
    ).encode()


def flow(flow_id: str, source: str, target: str, condition: str | None = None) -> str:
    inner = f"<bpmn:conditionExpression>{condition}</bpmn:conditionExpression>" if condition else ""
    return f'<bpmn:sequenceFlow id="{flow_id}" sourceRef="{source}" targetRef="{target}">{inner}</bpmn:sequenceFlow>'


def findings(xml: bytes) -> list[tuple[str, str | None]]:
    """(code, element id) of every finding except the missing diagram (these snippets have none)."""
    return [(p.code, p.element_id) for p in lint_bundle({"p.bpmn": xml}) if p.code not in {"no-diagram"}]


START_END = '<bpmn:startEvent id="start" name="开始"/><bpmn:endEvent id="end" name="结束"/>'


def test_a_task_connected_to_nothing_is_reported_once_as_disconnected() -> None:
    xml = process(START_END + '<bpmn:task id="lonely" name="孤立"/>' + flow("f1", "start", "end"))
    assert findings(xml) == [("no-disconnected", "lonely")]


def test_a_task_without_an_outgoing_flow_is_an_implicit_end_and_one_without_incoming_an_implicit_start() -> None:
    body = START_END + '<bpmn:task id="dead_end" name="死路"/><bpmn:task id="orphan" name="无来路"/>'
    body += flow("f1", "start", "dead_end") + flow("f2", "orphan", "end")
    assert sorted(findings(process(body))) == [("no-implicit-end", "dead_end"), ("no-implicit-start", "orphan")]


def test_a_loop_no_start_event_leads_to_is_unreachable() -> None:
    body = START_END + '<bpmn:task id="a" name="甲"/><bpmn:task id="b" name="乙"/>'
    body += flow("f1", "start", "end") + flow("f2", "a", "b") + flow("f3", "b", "a")
    assert sorted(findings(process(body))) == [("unreachable", "a"), ("unreachable", "b")]


def test_a_gateway_with_conditions_and_no_default_is_reported_and_so_is_its_plain_flow() -> None:
    body = START_END + '<bpmn:exclusiveGateway id="choose" name="选择？"/><bpmn:task id="t" name="办理"/>'
    body += flow("f1", "start", "choose") + flow("yes", "choose", "t", "ok == True") + flow("no", "choose", "end")
    body += flow("f2", "t", "end")
    assert sorted(findings(process(body))) == [("conditional-flows", "no"), ("gateway-default", "choose")]
    with_default = body.replace('name="选择？"', 'name="选择？" default="no"')
    assert findings(process(with_default)) == []


def test_two_plain_flows_out_of_a_task_are_an_implicit_split_and_twins_are_duplicates() -> None:
    body = START_END + '<bpmn:task id="t" name="办理"/>' + flow("f1", "start", "t")
    body += flow("f2", "t", "end") + flow("f3", "t", "end")
    assert sorted(findings(process(body))) == [("no-duplicate-sequence-flows", "f3"), ("no-implicit-split", "t")]


def test_gateways_that_do_nothing_or_join_and_fork_at_once_are_reported() -> None:
    body = START_END + '<bpmn:parallelGateway id="pass"/><bpmn:parallelGateway id="split"/>'
    body += '<bpmn:parallelGateway id="both"/><bpmn:task id="a" name="甲"/><bpmn:task id="b" name="乙"/>'
    body += flow("f1", "start", "pass") + flow("f2", "pass", "split") + flow("f3", "split", "a")
    body += flow("f4", "split", "b") + flow("f5", "a", "both") + flow("f6", "b", "both")
    body += '<bpmn:task id="c" name="丙"/><bpmn:task id="d" name="丁"/>'
    body += flow("f7", "both", "c") + flow("f8", "both", "d") + flow("f9", "c", "end") + flow("f10", "d", "end")
    assert sorted(findings(process(body))) == [("no-gateway-join-fork", "both"), ("superfluous-gateway", "pass")]


def test_unnamed_activities_and_a_process_without_start_or_end_event_are_reported() -> None:
    body = '<bpmn:task id="unnamed"/><bpmn:task id="named" name="有名"/>' + flow("f1", "unnamed", "named")
    found = findings(process(body))
    assert ("label-required", "unnamed") in found
    assert ("start-event-required", "p") in found and ("end-event-required", "p") in found
    assert ("unreachable", "named") not in found  # without a start event, nothing is "unreachable"


def test_a_lane_with_a_misspelt_role_is_reported_with_the_role_it_probably_means() -> None:
    lanes = (
        '<bpmn:laneSet id="ls"><bpmn:lane id="Lane_subdistric_ofice" name="街道">'
        "<bpmn:flowNodeRef>review</bpmn:flowNodeRef></bpmn:lane></bpmn:laneSet>"
    )
    body = START_END + '<bpmn:userTask id="review" name="审核"/>' + flow("f1", "start", "review")
    body += flow("f2", "review", "end")
    problems = [p for p in lint_bundle({"p.bpmn": process(body, lanes)}) if p.code == "unknown-role"]
    assert [p.element_id for p in problems] == ["Lane_subdistric_ofice"]
    assert "subdistrict_office" in problems[0].message
    assert dict(problems[0].params)["name"] == "'街道'"


def test_a_long_run_of_tasks_without_a_decision_is_reported_at_its_head() -> None:
    tasks = [f"t{n}" for n in range(LONG_CHAIN)]
    body = START_END + "".join(f'<bpmn:task id="{t}" name="步骤{n}"/>' for n, t in enumerate(tasks))
    chain = ["start", *tasks, "end"]
    body += "".join(flow(f"f{n}", a, b) for n, (a, b) in enumerate(zip(chain, chain[1:], strict=False)))
    assert findings(process(body)) == [("long-chain", "t0")]
    shorter = body.replace(flow(f"f{LONG_CHAIN}", tasks[-1], "end"), "")
    assert ("long-chain", "t0") not in findings(process(shorter))


def test_elements_missing_from_the_diagram_are_reported() -> None:
    xml = process(START_END + flow("f1", "start", "end")).replace(
        b"</bpmn:definitions>",
        b'<bpmndi:BPMNDiagram xmlns:bpmndi="http://www.omg.org/spec/BPMN/20100524/DI" id="dia">'
        b'<bpmndi:BPMNPlane id="plane" bpmnElement="p"><bpmndi:BPMNShape id="s" bpmnElement="start"/>'
        b"</bpmndi:BPMNPlane></bpmndi:BPMNDiagram></bpmn:definitions>",
    )
    found = [(p.code, p.element_id) for p in lint_bundle({"p.bpmn": xml})]
    assert sorted(found) == [("no-bpmndi", "end"), ("no-bpmndi", "f1")]


def test_the_shipped_process_library_passes_every_lint_rule() -> None:
    assert lint_bundle(library_files()) == []


def without_default(files: dict[str, bytes]) -> dict[str, bytes]:
    """The petition bundle whose gateway chooses by two conditions and has no default flow."""
    xml = files["petition_review.bpmn"].replace(b'default="f_file"', b"")
    xml = xml.replace(
        b'targetRef="end_filed"/>',
        b'targetRef="end_filed"><bpmn:conditionExpression>route == "file"</bpmn:conditionExpression>'
        b"</bpmn:sequenceFlow>",
    )
    return dict(files, **{"petition_review.bpmn": xml})


def test_validation_lists_lint_warnings_with_codes_beside_the_deploy_checks(org: Engine) -> None:
    files = without_default(read_bundle(*PETITION_BUNDLE))
    report = org.validate_bundle(files, by=org.principal("designer"))
    assert report["ok"] is True and report["errors"] == []
    lint = [(w["code"], w["element_id"]) for w in report["warnings"] if w["code"] in {"gateway-default"}]
    assert lint == [("gateway-default", "route_by_share")]
    broken = dict(
        files,
        **{
            "petition_review.bpmn": files["petition_review.bpmn"].replace(b'value="petition_register"', b'value="nope"')
        },
    )
    report = org.validate_bundle(broken, by=org.principal("designer"))
    assert report["ok"] is False
    assert [(e["code"], e["element_id"], e["params"]["form"]) for e in report["errors"]] == [
        ("form-unknown", "register_issue", "nope")
    ]
    assert any(w["code"] == "gateway-default" for w in report["warnings"])  # lint runs on a refused bundle too


def test_the_validate_endpoint_answers_codes_and_params_for_every_finding(api: ApiClient) -> None:
    files = without_default(read_bundle(*PETITION_BUNDLE))
    data = {"files": [(io.BytesIO(body), name) for name, body in files.items()]}
    report = api.post("/deployments/validate", "designer", data=data, content_type="multipart/form-data").json
    warning = next(w for w in report["warnings"] if w["code"] == "gateway-default")
    assert warning["element_id"] == "route_by_share" and warning["file"] == "petition_review.bpmn"
    assert warning["params"] == {"name": "'须审查？'"} and "default flow" in warning["message"]


def test_a_flow_the_deploy_checks_refuse_is_not_reported_again_as_a_lint_warning(org: Engine) -> None:
    files = read_bundle(*PETITION_BUNDLE)
    files["petition_review.bpmn"] = files["petition_review.bpmn"].replace(b'default="f_file"', b"")
    report = org.validate_bundle(files, by=org.principal("designer"))
    assert [e["element_id"] for e in report["errors"]] == ["f_file"]
    assert all(w["element_id"] != "f_file" for w in report["warnings"])
