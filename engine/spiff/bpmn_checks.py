"""The checks govflow makes on a bundle's BPMN and DMN XML, before and beside SpiffWorkflow's own parse.

Each check reads the lxml tree (so every finding has the element's id and line) and adds a Problem that
blocks the deployment or a warning that does not. The sentences are for process designers.
"""

from __future__ import annotations

import copy
from collections.abc import Collection
from dataclasses import dataclass, field

from lxml import etree

from engine.roles import role_of_lane
from engine.spiff.bpmn_parser import CAMUNDA_NS, SPIFF_NS, decision_ref, schema_validator
from engine.spiff.code_checks import (
    EXPRESSION_ELEMENTS,
    check_condition,
    check_other_expression,
    check_script_task,
    check_spiff_scripts,
    check_timer,
)
from engine.spiff.findings import FLOW_NODES, Checker, Findings, bpmn, label, text_of
from engine.spiff.safe_xml import BPMN_NS, local_name
from engine.spiff.spiff_errors import readable_schema_message

MAX_SCHEMA_PROBLEMS = 20  # per file: past a handful, more of the same helps nobody
# Camunda Modeler's form references: "camunda-forms:bpmn:ID", "camunda-forms:deployment:ID" or a plain id.
CAMUNDA_FORM_PREFIX = "camunda-forms:"


@dataclass
class UserTaskInfo:
    """A user task as the work queue needs it: who (role, from the lane) and which form."""

    element_id: str
    name: str
    role: str | None
    lane: str | None  # the lane's id
    form_key: str | None
    line: int | None


@dataclass
class ProcessOutline:
    """A top-level <process> element as read from the XML, before SpiffWorkflow parses it."""

    key: str
    name: str
    file: str
    element: etree._Element
    executable: bool
    has_flow_nodes: bool
    user_tasks: list[UserTaskInfo] = field(default_factory=list)


@dataclass
class Known:
    """What references may point to: the bundle's processes, decisions and forms plus earlier deployments."""

    processes: Collection[str]
    decisions: Collection[str]
    forms: Collection[str]


def element_index(root: etree._Element) -> tuple[dict[str, etree._Element], dict[str, list[etree._Element]]]:
    """Every element with an id, by id; and the ids used more than once."""
    index: dict[str, etree._Element] = {}
    repeated: dict[str, list[etree._Element]] = {}
    for element in root.iter():
        if not isinstance(element.tag, str):
            continue
        element_id = element.get("id")
        if not element_id:
            continue
        if element_id in index:
            repeated.setdefault(element_id, [index[element_id]]).append(element)
        else:
            index[element_id] = element
    return index, repeated


def check_unique_ids(file: str, root: etree._Element, findings: Findings) -> None:
    """Every id once per file: SpiffWorkflow would silently take one of the twins."""
    _, repeated = element_index(root)
    for element_id, elements in repeated.items():
        lines = ", ".join(str(e.sourceline) for e in elements)
        findings.problem(
            file,
            f"The id '{element_id}' is used by {len(elements)} elements (lines {lines}); every element needs "
            "its own id.",
            elements[1],
            element_id=element_id,
        )


def check_schema(file: str, root: etree._Element, findings: Findings) -> None:
    """The BPMN 2.0 XSD (with SpiffWorkflow's extensions), in messages a designer can read."""
    validator = schema_validator()
    tree = copy.deepcopy(root)  # preprocess() renames elements; the original stays as uploaded
    validator.preprocess(tree)
    if validator.validator.validate(tree):
        return
    by_line = {e.sourceline: e for e in root.iter() if isinstance(e.tag, str) and e.get("id")}
    for error in list(validator.validator.error_log)[:MAX_SCHEMA_PROBLEMS]:
        findings.problem(
            file,
            f"The file does not follow the BPMN 2.0 schema: {readable_schema_message(error.message)}",
            by_line.get(error.line),
            line=error.line or None,
        )


def check_data_stores(file: str, root: etree._Element, findings: Findings) -> None:
    """Data stores need an implementation SpiffWorkflow does not have."""
    for store in root.iter(bpmn("dataStore")):
        findings.problem(
            file,
            f"The data store {label(store)} is not supported: process data lives in the instance itself. "
            "Remove the data store and its references.",
            store,
        )


def process_outlines(file: str, root: etree._Element) -> list[ProcessOutline]:
    """The top-level processes of a BPMN document."""
    outlines = []
    for process in root.findall(bpmn("process")):
        key = process.get("id") or ""
        has_flow_nodes = any(local_name(e) in FLOW_NODES for e in process if isinstance(e.tag, str))
        outlines.append(
            ProcessOutline(
                key=key,
                name=(process.get("name") or "").strip() or key,
                file=file,
                element=process,
                executable=process.get("isExecutable") == "true",
                has_flow_nodes=has_flow_nodes,
            )
        )
    return outlines


def check_process(
    outline: ProcessOutline,
    known: Known,
    findings: Findings,
    check_expression: Checker,
    check_script: Checker,
) -> None:
    """Every rule govflow adds to SpiffWorkflow's, on one process; fills outline.user_tasks."""
    file, process = outline.file, outline.element
    if not outline.key:
        findings.problem(file, "A process has no id.", process)
    if outline.has_flow_nodes and not outline.executable:
        findings.problem(
            file,
            f'The process {label(process)} is not marked executable: set isExecutable="true" on it '
            "(in the modeler: the 'Executable' check box of the process or pool).",
            process,
        )
    lanes = lane_index(process)
    members: dict[etree._Element, set[str]] = {}  # (sub)process -> the ids of its flow nodes
    for element in process.iter():
        if not isinstance(element.tag, str) or not element.tag.startswith(f"{{{BPMN_NS}}}"):
            continue
        kind = local_name(element)
        if kind == "userTask":
            outline.user_tasks.append(check_user_task(file, element, lanes, known, findings))
        elif kind == "callActivity":
            check_call_activity(file, element, known, findings)
        elif kind == "businessRuleTask":
            check_business_rule_task(file, element, known, findings)
        elif kind == "scriptTask":
            check_script_task(file, element, findings, check_script)
        elif kind == "conditionExpression":
            check_condition(file, element, findings, check_expression)
        elif kind in EXPRESSION_ELEMENTS or (kind == "condition" and _in_conditional_event(element)):
            what = EXPRESSION_ELEMENTS.get(kind, "condition of the conditional event")
            check_other_expression(file, element, what, findings, check_expression)
        elif kind == "timerEventDefinition":
            check_timer(file, element, findings, check_expression)
        elif kind == "sequenceFlow":
            check_flow(file, element, members, findings)
        elif kind == "boundaryEvent":
            check_boundary_event(file, element, members, findings)
        if kind in FLOW_NODES:
            check_spiff_scripts(file, element, findings, check_script)


def _flow_nodes_of(container: etree._Element | None, members: dict[etree._Element, set[str]]) -> set[str]:
    if container is None:
        return set()
    if container not in members:
        members[container] = {
            e.get("id") for e in container if isinstance(e.tag, str) and local_name(e) in FLOW_NODES and e.get("id")
        }
    return members[container]


def check_flow(file: str, flow: etree._Element, members: dict[etree._Element, set[str]], findings: Findings) -> None:
    """Both ends of a sequence flow must be flow nodes of the same process or subprocess."""
    nodes = _flow_nodes_of(flow.getparent(), members)
    for attribute, words in (("sourceRef", "starts at"), ("targetRef", "leads to")):
        ref = flow.get(attribute)
        if ref and ref not in nodes:
            findings.problem(file, f"The flow {label(flow)} {words} {_elsewhere(flow, ref)}", flow)


def _elsewhere(element: etree._Element, ref: str) -> str:
    """How to say that `ref` is not where it should be (only reached when a check already failed)."""
    if element.getroottree().xpath("//*[@id=$ref]", ref=ref):
        return f"'{ref}', which is not in the same process or subprocess (flows cannot cross a subprocess's border)."
    return f"'{ref}', which does not exist in this file."


def check_boundary_event(
    file: str, event: etree._Element, members: dict[etree._Element, set[str]], findings: Findings
) -> None:
    """A boundary event must sit on an activity of its own (sub)process."""
    ref = event.get("attachedToRef")
    if ref and ref not in _flow_nodes_of(event.getparent(), members):
        findings.problem(file, f"The boundary event {label(event)} is attached to {_elsewhere(event, ref)}", event)


def _in_conditional_event(element: etree._Element) -> bool:
    parent = element.getparent()
    return parent is not None and parent.tag == bpmn("conditionalEventDefinition")


# --- user tasks, lanes and forms ---------------------------------------------------------------------


def lane_index(process: etree._Element) -> dict[str, etree._Element]:
    """The innermost lane of each flow node listed in the process's (nested) lane sets."""
    best: dict[str, tuple[int, etree._Element]] = {}
    for lane in process.iter(bpmn("lane")):
        depth = sum(1 for a in lane.iterancestors(bpmn("lane")))
        for ref in lane.findall(bpmn("flowNodeRef")):
            node_id = text_of(ref)
            if node_id and (node_id not in best or best[node_id][0] < depth):
                best[node_id] = (depth, lane)
    return {node_id: lane for node_id, (_, lane) in best.items()}


def lane_of(element: etree._Element, lanes: dict[str, etree._Element]) -> etree._Element | None:
    """The lane of a flow node; inside a subprocess that has no lanes of its own, the subprocess's lane."""
    node: etree._Element | None = element
    while node is not None and node.tag != bpmn("process"):
        lane = lanes.get(node.get("id") or "")
        if lane is not None:
            return lane
        node = node.getparent()
    return None


def form_key(task: etree._Element) -> str | None:
    """The form a user task names: the spiffworkflow formKey property, or Camunda's formKey/formRef."""
    for prop in task.iterfind(
        "bpmn:extensionElements/spiffworkflow:properties/spiffworkflow:property",
        namespaces={"bpmn": BPMN_NS, "spiffworkflow": SPIFF_NS},
    ):
        if prop.get("name") == "formKey" and (prop.get("value") or "").strip():
            return normalize_form_key(prop.get("value", ""))
    for attribute in ("formKey", "formRef"):
        value = (task.get(f"{{{CAMUNDA_NS}}}{attribute}") or "").strip()
        if value:
            return normalize_form_key(value)
    return None


def normalize_form_key(value: str) -> str:
    """A form key without Camunda's `camunda-forms:<where>:` prefix."""
    value = value.strip()
    if value.startswith(CAMUNDA_FORM_PREFIX):
        # camunda-forms:bpmn:ID, camunda-forms:deployment:ID -> ID
        return value[len(CAMUNDA_FORM_PREFIX) :].partition(":")[2] or value
    return value


def check_user_task(
    file: str, task: etree._Element, lanes: dict[str, etree._Element], known: Known, findings: Findings
) -> UserTaskInfo:
    """Lane, role and form of a user task; problems for unknown forms, warnings for the rest."""
    lane = lane_of(task, lanes)
    lane_id = lane.get("id") if lane is not None else None
    lane_name = ((lane.get("name") or "").strip() or None) if lane is not None else None
    role = role_of_lane(lane_id, lane_name)
    if lane is None:
        findings.warning(
            file,
            f"The user task {label(task)} is in no lane, so no role is named for it and nobody will be "
            "offered it; put it in a lane named after a role (for example subdistrict_office).",
            task,
            code="user-task-no-lane",
            params={"name": label(task)},
        )
    elif role is None:
        findings.warning(
            file,
            f"The user task {label(task)} is in the lane {label(lane)}, which names no known role; give the "
            "lane the id or name of a role (for example Lane_residents_committee or subdistrict_office).",
            task,
            code="user-task-no-role",
            params={"name": label(task), "lane": label(lane)},
        )
    key = form_key(task)
    if key is None:
        findings.warning(
            file,
            f"The user task {label(task)} names no form (formKey), so the official will have no fields to fill in.",
            task,
            code="user-task-no-form",
            params={"name": label(task)},
        )
    elif key not in known.forms:
        findings.problem(
            file,
            f"The user task {label(task)} uses the form '{key}', which is neither in this bundle nor "
            "deployed earlier; add the .form.json file with that id to the bundle.",
            task,
            code="form-unknown",
            params={"name": label(task), "form": key},
        )
    return UserTaskInfo(
        element_id=task.get("id") or "",
        name=(task.get("name") or "").strip() or task.get("id") or "",
        role=role,
        lane=lane_id,
        form_key=key,
        line=task.sourceline,
    )


# --- references: call activities and decisions -------------------------------------------------------


def check_call_activity(file: str, activity: etree._Element, known: Known, findings: Findings) -> None:
    """A call activity must call a process of the bundle or of an earlier deployment."""
    called = (activity.get("calledElement") or "").strip()
    if not called:
        findings.problem(
            file,
            f"The call activity {label(activity)} does not say which process it calls (calledElement).",
            activity,
        )
    elif called not in known.processes:
        findings.problem(
            file,
            f"The call activity {label(activity)} calls the process '{called}', which is neither in this "
            "bundle nor deployed earlier.",
            activity,
            code="call-unknown",
            params={"name": label(activity), "process": called},
        )


def check_business_rule_task(file: str, task: etree._Element, known: Known, findings: Findings) -> None:
    """A business-rule task must run a decision of the bundle or of an earlier deployment."""
    ref = decision_ref(task)
    if ref is None:
        findings.problem(
            file,
            f"The business-rule task {label(task)} does not name the decision it runs "
            "(spiffworkflow:calledDecisionId or camunda:decisionRef).",
            task,
        )
    elif ref not in known.decisions:
        findings.problem(
            file,
            f"The business-rule task {label(task)} runs the decision '{ref}', which is neither in this "
            "bundle's DMN files nor deployed earlier.",
            task,
            code="decision-unknown",
            params={"name": label(task), "decision": ref},
        )


# --- DMN ---------------------------------------------------------------------------------------------


def dmn_decisions(root: etree._Element) -> list[etree._Element]:
    """The <decision> elements of a DMN document."""
    ns = etree.QName(root).namespace
    return root.findall(f"{{{ns}}}decision")


def check_dmn(file: str, root: etree._Element, findings: Findings) -> None:
    """What SpiffWorkflow's DMN support needs: one decision per file, and that decision a table."""
    decisions = dmn_decisions(root)
    ns = etree.QName(root).namespace
    if not decisions:
        findings.problem(file, "The DMN file holds no decision.", root)
        return
    if len(decisions) > 1:
        ids = ", ".join(d.get("id") or "?" for d in decisions)
        findings.problem(
            file,
            f"The DMN file holds {len(decisions)} decisions ({ids}); the engine runs one decision per DMN "
            "file, so put each decision table in a file of its own.",
            decisions[1],
        )
    for decision in decisions:
        if not decision.get("id"):
            findings.problem(file, "A decision has no id.", decision)
        elif decision.find(f"{{{ns}}}decisionTable") is None:
            findings.problem(
                file,
                f"The decision {label(decision)} is not a decision table; the engine runs decision tables only.",
                decision,
            )
