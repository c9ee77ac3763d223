"""What changed between two versions of a process, element by element: added, removed and changed (name,
type, lane, form, timer, condition, default flow, script, called process or decision, message, properties).

Elements are matched by id, as SpiffWorkflow matches them when it migrates an instance; the comparison reads
the BPMN XML only, so it works for any two stored versions without parsing either.
"""

from __future__ import annotations

from dataclasses import dataclass

from lxml import etree

from engine.roles import role_of_lane
from engine.spiff.bpmn_checks import form_key, lane_index, lane_of
from engine.spiff.bpmn_parser import SPIFF_NS, decision_ref
from engine.spiff.code_checks import timer_parts
from engine.spiff.findings import FLOW_NODES, bpmn, text_of
from engine.spiff.safe_xml import BPMN_NS, local_name, read_xml

# The fields compared, in the order a designer reads them.
FIELDS = (
    "type",
    "name",
    "lane",
    "form",
    "timer",
    "condition",
    "source",
    "target",
    "default",
    "script",
    "called_element",
    "decision",
    "message",
    "attached_to",
    "properties",
)


@dataclass(frozen=True)
class ElementFacts:
    element_id: str
    facts: dict[str, str]

    def summary(self) -> dict:
        return {"id": self.element_id, "type": self.facts.get("type", ""), "name": self.facts.get("name", "")}


def process_facts(xml: bytes, process_key: str) -> dict[str, ElementFacts]:
    """Every flow node and sequence flow of the process (subprocesses included), and the process itself."""
    root = read_xml(xml)
    process = next((p for p in root.iter(bpmn("process")) if p.get("id") == process_key), None)
    if process is None:
        return {}
    messages = {m.get("id"): (m.get("name") or m.get("id") or "") for m in root.iter(bpmn("message"))}
    lanes = lane_index(process)
    found = {process_key: ElementFacts(process_key, _facts(process, lanes, messages) | {"type": "process"})}
    for element in process.iter():
        if not isinstance(element.tag, str) or not element.get("id"):
            continue
        if local_name(element) in FLOW_NODES or local_name(element) == "sequenceFlow":
            found[element.get("id")] = ElementFacts(element.get("id"), _facts(element, lanes, messages))
    return found


def _facts(element: etree._Element, lanes: dict[str, etree._Element], messages: dict[str, str]) -> dict[str, str]:
    kind = local_name(element)
    facts = {"type": kind, "name": " ".join((element.get("name") or "").split())}
    if kind in FLOW_NODES:
        lane = lane_of(element, lanes)
        if lane is not None:
            facts["lane"] = role_of_lane(lane.get("id"), (lane.get("name") or "").strip() or None) or (
                lane.get("name") or lane.get("id") or ""
            )
    if kind == "userTask":
        facts["form"] = form_key(element) or ""
    definition = element.find(bpmn("timerEventDefinition"))
    if definition is not None:
        tag, value = timer_parts(definition)
        facts["timer"] = f"{tag}: {text_of(value)}" if tag else ""
    if kind == "sequenceFlow":
        facts["condition"] = text_of(element.find(bpmn("conditionExpression")))
        facts["source"] = element.get("sourceRef") or ""
        facts["target"] = element.get("targetRef") or ""
    if element.get("default"):
        facts["default"] = element.get("default")
    if kind == "scriptTask":
        facts["script"] = text_of(element.find(bpmn("script")))
    if kind == "callActivity":
        facts["called_element"] = element.get("calledElement") or ""
    if kind == "businessRuleTask":
        facts["decision"] = decision_ref(element) or ""
    message = element.find(bpmn("messageEventDefinition"))
    ref = message.get("messageRef") if message is not None else element.get("messageRef")
    if ref:
        facts["message"] = messages.get(ref, ref)
    if element.get("attachedToRef"):
        facts["attached_to"] = element.get("attachedToRef")
    properties = _properties(element)
    properties.pop("formKey", None)  # shown as the form
    if properties:
        facts["properties"] = ", ".join(f"{k}={v}" for k, v in sorted(properties.items()))
    return facts


def _properties(element: etree._Element) -> dict[str, str]:
    found = {}
    for prop in element.iterfind(
        "bpmn:extensionElements/spiffworkflow:properties/spiffworkflow:property",
        namespaces={"bpmn": BPMN_NS, "spiffworkflow": SPIFF_NS},
    ):
        found[prop.get("name") or ""] = (prop.get("value") or "").strip()
    return found


def diff_process(before_xml: bytes, after_xml: bytes, process_key: str) -> dict:
    """{added, removed, changed} between two versions of one process; changed lists each field's before/after."""
    before, after = process_facts(before_xml, process_key), process_facts(after_xml, process_key)
    added = [after[i].summary() for i in after if i not in before]
    removed = [before[i].summary() for i in before if i not in after]
    changed = []
    for element_id, old in before.items():
        new = after.get(element_id)
        if new is None:
            continue
        changes = [
            {"field": name, "before": old.facts.get(name, ""), "after": new.facts.get(name, "")}
            for name in FIELDS
            if old.facts.get(name, "") != new.facts.get(name, "")
        ]
        if changes:
            changed.append(new.summary() | {"changes": changes})
    return {"added": added, "removed": removed, "changed": changed}
