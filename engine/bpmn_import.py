"""A .bpmn drawn in Camunda Modeler (7 or 8) or another tool, made into what govflow's engine reads.

What has a govflow counterpart is converted: form keys (camunda:formKey / formRef, zeebe:formDefinition) to
the `formKey` property, called decisions (camunda:decisionRef, zeebe:calledDecision) to
`spiffworkflow:calledDecisionId`, zeebe:calledElement to `calledElement`, JUEL conditions `${a == 'b'}` to
Python expressions. What has none (Java delegates, listeners, input/output mappings, assignees) is
removed, each with a warning a designer reads; nothing is dropped silently.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from lxml import etree

from engine.errors import Problem
from engine.roles import LANE_ROLES
from engine.spiff.bpmn_checks import CAMUNDA_NS, lane_index, lane_of, normalize_form_key
from engine.spiff.bpmn_parser import SPIFF_NS
from engine.spiff.findings import FLOW_NODES, bpmn, label
from engine.spiff.safe_xml import BPMN_NS, is_bpmn, local_name, read_xml

ZEEBE_NS = "http://camunda.org/schema/zeebe/1.0"
MODELER_NS = "http://camunda.org/schema/modeler/1.0"
FOREIGN = (CAMUNDA_NS, ZEEBE_NS)
SPIFF = f"{{{SPIFF_NS}}}"
# Camunda attributes that only tune its own job executor or history: removed without a word each.
HARMLESS = {"asyncBefore", "asyncAfter", "exclusive", "jobPriority", "historyTimeToLive", "versionTag"}
DELEGATES = ("class", "expression", "delegateExpression", "type", "topic")
_JUEL = re.compile(r"^\s*[#$]\{(.*)\}\s*$", re.DOTALL)


@dataclass
class Imported:
    xml: bytes
    warnings: list[Problem] = field(default_factory=list)
    process_key: str | None = None
    process_name: str | None = None


def import_bpmn(filename: str, data: bytes) -> Imported:
    """The file with foreign extensions converted or removed, and a warning for each change.

    Raises XmlRefused (engine.spiff.safe_xml) when the file cannot be read as XML; ValueError when it is not
    BPMN 2.0.
    """
    root = read_xml(data)
    if not is_bpmn(root):
        raise ValueError(f"{filename} is not a BPMN 2.0 file: its root element is not bpmn:definitions.")
    converter = _Converter(filename)
    for process in root.iter(bpmn("process")):
        converter.process(process)
    converter.strip_foreign(root)
    etree.cleanup_namespaces(root, top_nsmap={"spiffworkflow": SPIFF_NS}, keep_ns_prefixes=["spiffworkflow"])
    first = next((p for p in root.iter(bpmn("process")) if p.get("isExecutable") == "true"), None)
    xml = etree.tostring(root.getroottree(), xml_declaration=True, encoding="UTF-8")
    return Imported(
        xml=xml,
        warnings=converter.warnings,
        process_key=first.get("id") if first is not None else None,
        process_name=((first.get("name") or "").strip() or first.get("id")) if first is not None else None,
    )


class _Converter:
    def __init__(self, filename: str) -> None:
        self.file = filename
        self.warnings: list[Problem] = []

    def warn(self, code: str, element: etree._Element, message: str, **params: str) -> None:
        holder = element
        while holder is not None and not holder.get("id"):
            holder = holder.getparent()
        element_id = holder.get("id") if holder is not None else None
        self.warnings.append(Problem(self.file, message, element_id, element.sourceline, code, tuple(params.items())))

    def process(self, process: etree._Element) -> None:
        has_nodes = any(isinstance(e.tag, str) and local_name(e) in FLOW_NODES for e in process)
        if has_nodes and process.get("isExecutable") != "true":
            process.set("isExecutable", "true")
            self.warn(
                "import-converted",
                process,
                f"The process {label(process)} was not marked executable; it now is.",
                name=label(process),
            )
        lanes = lane_index(process)
        for element in list(process.iter()):
            if not isinstance(element.tag, str):
                continue
            kind = local_name(element)
            if kind == "userTask":
                self.user_task(element, lanes)
            elif kind == "businessRuleTask":
                self.decision(element)
            elif kind == "callActivity":
                self.call(element)
            elif kind == "conditionExpression":
                self.condition(element)
            elif kind in {"serviceTask", "sendTask"} and _foreign_attributes(
                element, ("class", "expression", "delegateExpression", "type", "topic")
            ):
                self.warn(
                    "import-ignored",
                    element,
                    f"The {kind} {label(element)} called Java or an external worker in Camunda; govflow runs "
                    "no such code: use a script task instead.",
                    name=label(element),
                )

    def user_task(self, task: etree._Element, lanes: dict[str, etree._Element]) -> None:
        foreign = task.get(f"{{{CAMUNDA_NS}}}formKey") or task.get(f"{{{CAMUNDA_NS}}}formRef")
        zeebe = task.find(f"{bpmn('extensionElements')}/{{{ZEEBE_NS}}}formDefinition")
        if zeebe is not None:
            foreign = foreign or zeebe.get("formKey") or zeebe.get("formId")
        if foreign and not _spiff_form_key(task):
            key = normalize_form_key(foreign)
            _set_property(task, "formKey", key)
            self.warn(
                "import-converted",
                task,
                f"The form of the user task {label(task)} ({foreign}) is now its formKey '{key}'.",
                name=label(task),
                form=key,
            )
        groups = task.get(f"{{{CAMUNDA_NS}}}candidateGroups") or ""
        assignment = task.find(f"{bpmn('extensionElements')}/{{{ZEEBE_NS}}}assignmentDefinition")
        if assignment is not None:
            groups = groups or assignment.get("candidateGroups") or ""
        if groups or task.get(f"{{{CAMUNDA_NS}}}assignee") or task.get(f"{{{CAMUNDA_NS}}}candidateUsers"):
            roles = [g.strip() for g in groups.split(",") if g.strip() in LANE_ROLES]
            lane = lane_of(task, lanes)
            hint = f" Put it in a lane named {roles[0]}." if roles and lane is None else ""
            self.warn(
                "import-ignored",
                task,
                f"The user task {label(task)} named its assignee or candidate groups; in govflow the lane of a "
                f"task names the role that works it, so these were removed.{hint}",
                name=label(task),
            )

    def decision(self, task: etree._Element) -> None:
        ref = task.get(f"{{{CAMUNDA_NS}}}decisionRef")
        called = task.find(f"{bpmn('extensionElements')}/{{{ZEEBE_NS}}}calledDecision")
        if called is not None:
            ref = ref or called.get("decisionId")
        existing = task.find(f"{bpmn('extensionElements')}/{SPIFF}calledDecisionId")
        if ref and existing is None:
            extensions = _extensions(task)
            element = etree.SubElement(extensions, f"{SPIFF}calledDecisionId")
            element.text = ref
            self.warn(
                "import-converted",
                task,
                f"The business-rule task {label(task)} now runs the decision '{ref}' (calledDecisionId).",
                name=label(task),
                decision=ref,
            )

    def call(self, activity: etree._Element) -> None:
        called = activity.find(f"{bpmn('extensionElements')}/{{{ZEEBE_NS}}}calledElement")
        if called is not None and called.get("processId") and not activity.get("calledElement"):
            activity.set("calledElement", called.get("processId"))
            self.warn(
                "import-converted",
                activity,
                f"The call activity {label(activity)} now calls '{called.get('processId')}' (calledElement).",
                name=label(activity),
            )

    def condition(self, condition: etree._Element) -> None:
        text = condition.text or ""
        found = _JUEL.match(text)
        if not found:
            return
        python = juel_to_python(found.group(1))
        condition.text = python
        for attribute in ("language",):
            condition.attrib.pop(attribute, None)
        flow = condition.getparent()
        self.warn(
            "import-converted",
            flow if flow is not None else condition,
            f"The condition {text.strip()} was written for Camunda (JUEL) and is now the Python expression "
            f"{python}; check that it still says what was meant.",
            name=label(flow) if flow is not None else "",
            condition=python,
        )

    def strip_foreign(self, root: etree._Element) -> None:
        """Remove every Camunda/Zeebe attribute and extension element, with one warning per element."""
        for element in list(root.iter()):
            if not isinstance(element.tag, str):
                continue
            names = [a for a in element.attrib if etree.QName(a).namespace in FOREIGN]
            dropped = [etree.QName(a).localname for a in names]
            for attribute in names:
                del element.attrib[attribute]
            if local_name(element) == "extensionElements":
                for child in list(element):
                    if isinstance(child.tag, str) and etree.QName(child).namespace in FOREIGN:
                        dropped.append(etree.QName(child).localname)
                        element.remove(child)
                if len(element) == 0 and element.getparent() is not None:
                    element.getparent().remove(element)
                    continue
            for attribute in [a for a in element.attrib if etree.QName(a).namespace == MODELER_NS]:
                del element.attrib[attribute]
            handled = {"formKey", "formRef", "decisionRef", "formDefinition", "calledDecision", "calledElement"}
            handled |= {"candidateGroups", "candidateUsers", "assignee", "assignmentDefinition"}
            handled |= {"class", "expression", "delegateExpression", "taskDefinition", "type", "topic"}
            reported = sorted(set(dropped) - HARMLESS - handled)
            if reported and element.get("id"):
                self.warn(
                    "import-ignored",
                    element,
                    f"{label(element)}: the Camunda settings {', '.join(reported)} have no meaning in govflow and "
                    "were removed.",
                    name=label(element),
                    settings=", ".join(reported),
                )


def juel_to_python(expression: str) -> str:
    """`a == 'x' && !b` -> `a == 'x' and not b` (the common operators only; a designer checks the rest)."""
    text = expression.strip()
    text = re.sub(r"\s*&&\s*", " and ", text)
    text = re.sub(r"\s*\|\|\s*", " or ", text)
    text = re.sub(r"!(?!=)\s*", "not ", text)
    text = re.sub(r"\btrue\b", "True", text)
    text = re.sub(r"\bfalse\b", "False", text)
    return re.sub(r"\bnull\b", "None", text)


def _foreign_attributes(element: etree._Element, names: tuple[str, ...]) -> bool:
    return any(element.get(f"{{{ns}}}{name}") for ns in FOREIGN for name in names) or (
        element.find(f"{bpmn('extensionElements')}/{{{ZEEBE_NS}}}taskDefinition") is not None
    )


def _spiff_form_key(task: etree._Element) -> str | None:
    for prop in task.iterfind(
        "bpmn:extensionElements/spiffworkflow:properties/spiffworkflow:property",
        namespaces={"bpmn": BPMN_NS, "spiffworkflow": SPIFF_NS},
    ):
        if prop.get("name") == "formKey" and (prop.get("value") or "").strip():
            return prop.get("value")
    return None


def _extensions(element: etree._Element) -> etree._Element:
    """The element's bpmn:extensionElements, created as its first child when missing (BPMN's order)."""
    found = element.find(bpmn("extensionElements"))
    if found is None:
        found = etree.Element(bpmn("extensionElements"))
        documentation = element.find(bpmn("documentation"))
        element.insert(1 if documentation is not None else 0, found)
    return found


def _set_property(element: etree._Element, name: str, value: str) -> None:
    extensions = _extensions(element)
    properties = extensions.find(f"{SPIFF}properties")
    if properties is None:
        properties = etree.SubElement(extensions, f"{SPIFF}properties")
    for prop in properties.findall(f"{SPIFF}property"):
        if prop.get("name") == name:
            prop.set("value", value)
            return
    etree.SubElement(properties, f"{SPIFF}property", name=name, value=value)
