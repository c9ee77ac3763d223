"""Lint rules for a bundle's BPMN: what deploys but will likely go wrong or confuse the next reader.

The deploy checks (engine/spiff/bpmn_checks.py) refuse what cannot run; these rules only warn. They follow
bpmnlint's recommended set where it makes sense for govflow (start and end events, disconnected elements,
implicit starts, ends and splits, conditional flows, superfluous gateways, gateways that join and fork,
duplicate flows, missing labels, elements without a diagram) and add govflow's own: unreachable elements,
exclusive and inclusive gateways with conditions but no default flow, lanes that name no known role and
long linear chains. bpmnlint's fake-join is left out: the library loops back into tasks on purpose.

Every finding carries its rule's code and the values of its sentence (`Problem.code`, `Problem.params`), so
the studio can say it in Chinese or English; the English sentence is the engine's own.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from lxml import etree

from engine.errors import Problem
from engine.roles import LANE_ROLES, role_of_lane
from engine.spiff.bpmn_checks import lane_index
from engine.spiff.findings import FLOW_NODES, Findings, bpmn, label
from engine.spiff.safe_xml import BPMN_NS, XmlRefused, is_bpmn, local_name, read_xml

# A run of this many activities, one after the other with nothing between, reads better as a subprocess.
LONG_CHAIN = 12
BPMNDI_NS = "http://www.omg.org/spec/BPMN/20100524/DI"

CONTAINERS = frozenset({"process", "subProcess", "transaction", "adHocSubProcess"})
GATEWAYS = frozenset({"exclusiveGateway", "inclusiveGateway", "parallelGateway", "eventBasedGateway", "complexGateway"})
CHOOSING_GATEWAYS = frozenset({"exclusiveGateway", "inclusiveGateway"})
ACTIVITIES = frozenset(
    {
        "task", "userTask", "manualTask", "scriptTask", "serviceTask", "sendTask", "receiveTask",
        "businessRuleTask", "callActivity", "subProcess", "transaction", "adHocSubProcess",
    }
)  # fmt: skip

# code -> the English sentence, filled from the finding's params (the studio's catalogues have the same).
MESSAGES = {
    "start-event-required": "The {what} {name} has no start event, so nothing in it can begin.",
    "end-event-required": "The {what} {name} has no end event; end each path with one so it is clear where cases end.",
    "single-blank-start-event": "The {what} {name} has {count} start events without a trigger; keep one.",
    "no-disconnected": "The element {name} is connected to nothing; connect it with sequence flows or remove it.",
    "no-implicit-start": "The element {name} has no incoming sequence flow, so no case ever reaches it.",
    "no-implicit-end": "The element {name} has no outgoing sequence flow; a case ends there without an end event. "
    "Connect it to the next step or to an end event.",
    "unreachable": "The element {name} cannot be reached from any start event.",
    "no-implicit-split": "The element {name} has {count} outgoing flows without conditions: they all run at once. "
    "Use a parallel gateway for that, or an exclusive gateway to choose.",
    "gateway-default": "The gateway {name} chooses by conditions but has no default flow; when no condition holds "
    "the case stops with an error. Mark one outgoing flow as the default.",
    "conditional-flows": "The flow {name} leaves the gateway {gateway} without a condition and is not its default "
    "flow; give it a condition or make it the default.",
    "superfluous-gateway": "The gateway {name} has only one incoming and one outgoing flow; it does nothing.",
    "no-gateway-join-fork": "The gateway {name} both joins and splits; use one gateway to join and another to split.",
    "no-complex-gateway": "The complex gateway {name} is not supported by the engine.",
    "no-duplicate-sequence-flows": "The flows {name} and {other} both lead from {source} to {target}; remove one.",
    "label-required": "The element {name} has no name; officials and auditors see elements by their names.",
    "no-bpmndi": "The element {name} is not drawn in the diagram.",
    "no-diagram": "The file has no diagram: the studio cannot show it.",
    "unknown-role": "The lane {name} names no known role, so nobody is offered its user tasks{suggestion}.",
    "long-chain": "{count} activities follow one another from {name} with no decision or event between them; "
    "consider grouping them into a subprocess.",
}

WHAT = {"process": "process", "subProcess": "subprocess", "transaction": "transaction"}


def lint_bundle(files: Mapping[str, bytes]) -> list[Problem]:
    """The lint findings (all warnings) of every .bpmn file of a bundle; files that do not parse are skipped
    (the deploy checks say why)."""
    found: list[Problem] = []
    for filename, data in files.items():
        if not str(filename).lower().endswith(".bpmn"):
            continue
        try:
            root = read_xml(data)
        except (XmlRefused, ValueError, TypeError):
            continue
        if is_bpmn(root):
            found.extend(lint_document(str(filename), root))
    return found


def lint_document(file: str, root: etree._Element) -> list[Problem]:
    findings = Findings()
    for process in root.findall(bpmn("process")):
        if any(local_name(e) in FLOW_NODES for e in process if isinstance(e.tag, str)):
            _Linter(file, findings).process(process)
    _check_diagram(file, root, findings)
    return findings.warnings


def _say(findings: Findings, file: str, code: str, element: etree._Element, **params: object) -> None:
    findings.warning(file, MESSAGES[code].format(**params), element, code=code, params=params)


@dataclass
class _Graph:
    """The flow nodes and sequence flows directly inside one process or subprocess."""

    nodes: dict[str, etree._Element] = field(default_factory=dict)
    flows: list[etree._Element] = field(default_factory=list)
    incoming: dict[str, list[etree._Element]] = field(default_factory=dict)
    outgoing: dict[str, list[etree._Element]] = field(default_factory=dict)
    boundaries: dict[str, list[str]] = field(default_factory=dict)  # activity id -> boundary event ids

    @classmethod
    def of(cls, container: etree._Element) -> _Graph:
        graph = cls()
        for child in container:
            if not isinstance(child.tag, str) or not child.tag.startswith(f"{{{BPMN_NS}}}"):
                continue
            kind = local_name(child)
            if kind in FLOW_NODES and child.get("id"):
                graph.nodes[child.get("id")] = child
                if kind == "boundaryEvent" and child.get("attachedToRef"):
                    graph.boundaries.setdefault(child.get("attachedToRef"), []).append(child.get("id"))
            elif kind == "sequenceFlow":
                graph.flows.append(child)
        for flow in graph.flows:
            source, target = flow.get("sourceRef"), flow.get("targetRef")
            if source in graph.nodes:
                graph.outgoing.setdefault(source, []).append(flow)
            if target in graph.nodes:
                graph.incoming.setdefault(target, []).append(flow)
        return graph


def _has_definition(event: etree._Element, kind: str) -> bool:
    return event.find(bpmn(kind)) is not None


def _is_event_subprocess(element: etree._Element) -> bool:
    return local_name(element) in {"subProcess", "transaction", "adHocSubProcess"} and (
        element.get("triggeredByEvent") == "true"
    )


def _needs_incoming(element: etree._Element) -> bool:
    kind = local_name(element)
    if kind in {"startEvent", "boundaryEvent"} or _is_event_subprocess(element):
        return False
    if element.get("isForCompensation") == "true":
        return False
    return not (kind == "intermediateCatchEvent" and _has_definition(element, "linkEventDefinition"))


def _needs_outgoing(element: etree._Element) -> bool:
    kind = local_name(element)
    if kind == "endEvent" or _is_event_subprocess(element) or element.get("isForCompensation") == "true":
        return False
    if kind == "boundaryEvent" and _has_definition(element, "compensateEventDefinition"):
        return False
    return not (kind == "intermediateThrowEvent" and _has_definition(element, "linkEventDefinition"))


def _has_condition(flow: etree._Element) -> bool:
    condition = flow.find(bpmn("conditionExpression"))
    return condition is not None and bool((condition.text or "").strip())


class _Linter:
    def __init__(self, file: str, findings: Findings) -> None:
        self.file = file
        self.findings = findings

    def say(self, code: str, element: etree._Element, **params: object) -> None:
        _say(self.findings, self.file, code, element, **params)

    def process(self, process: etree._Element) -> None:
        self.container(process)
        self.lanes(process)

    def container(self, container: etree._Element) -> None:
        graph = _Graph.of(container)
        kind = local_name(container)
        for node in graph.nodes.values():
            if local_name(node) in CONTAINERS:
                self.container(node)
        if kind == "adHocSubProcess":
            return  # its activities run in any order: no flows expected
        self.starts_and_ends(container, graph)
        self.connections(container, graph)
        self.gateways(graph)
        self.splits_and_duplicates(graph)
        self.labels(graph)
        self.chains(graph)

    def starts_and_ends(self, container: etree._Element, graph: _Graph) -> None:
        if not graph.nodes:
            return
        kinds = [local_name(n) for n in graph.nodes.values()]
        what = "event subprocess" if _is_event_subprocess(container) else WHAT.get(local_name(container), "subprocess")
        if "startEvent" not in kinds:
            self.say("start-event-required", container, what=what, name=label(container))
        if "endEvent" not in kinds and not _is_event_subprocess(container):
            self.say("end-event-required", container, what=what, name=label(container))
        blank = [n for n in graph.nodes.values() if local_name(n) == "startEvent" and not _event_definitions(n)]
        if len(blank) > 1:
            self.say("single-blank-start-event", container, what=what, name=label(container), count=len(blank))

    def connections(self, container: etree._Element, graph: _Graph) -> None:
        reached = _reachable(graph)
        has_start = any(local_name(n) == "startEvent" for n in graph.nodes.values())
        for node_id, node in graph.nodes.items():
            ins, outs = graph.incoming.get(node_id, []), graph.outgoing.get(node_id, [])
            needs_in, needs_out = _needs_incoming(node), _needs_outgoing(node)
            if not ins and not outs and (needs_in or needs_out) and local_name(node) != "boundaryEvent":
                self.say("no-disconnected", node, name=label(node))
            elif needs_in and not ins:
                self.say("no-implicit-start", node, name=label(node))
            elif needs_out and not outs:
                self.say("no-implicit-end", node, name=label(node))
            elif has_start and node_id not in reached and needs_in:
                self.say("unreachable", node, name=label(node))

    def gateways(self, graph: _Graph) -> None:
        for node_id, node in graph.nodes.items():
            kind = local_name(node)
            if kind not in GATEWAYS:
                continue
            ins, outs = graph.incoming.get(node_id, []), graph.outgoing.get(node_id, [])
            if kind == "complexGateway":
                self.say("no-complex-gateway", node, name=label(node))
            if len(ins) == 1 and len(outs) == 1:
                self.say("superfluous-gateway", node, name=label(node))
            if len(ins) > 1 and len(outs) > 1:
                self.say("no-gateway-join-fork", node, name=label(node))
            if kind not in CHOOSING_GATEWAYS or len(outs) < 2:
                continue
            default = node.get("default")
            conditional = [f for f in outs if _has_condition(f)]
            if conditional and not default:
                self.say("gateway-default", node, name=label(node))
            for flow in outs:
                if not _has_condition(flow) and flow.get("id") != default:
                    self.say("conditional-flows", flow, name=label(flow), gateway=label(node))

    def splits_and_duplicates(self, graph: _Graph) -> None:
        for node_id, node in graph.nodes.items():
            if local_name(node) in GATEWAYS:
                continue
            plain = [f for f in graph.outgoing.get(node_id, []) if not _has_condition(f)]
            if len(plain) > 1:
                self.say("no-implicit-split", node, name=label(node), count=len(plain))
        seen: dict[tuple[str, str], etree._Element] = {}
        for flow in graph.flows:
            ends = (flow.get("sourceRef") or "", flow.get("targetRef") or "")
            if ends in seen:
                source, target = graph.nodes.get(ends[0]), graph.nodes.get(ends[1])
                self.say(
                    "no-duplicate-sequence-flows",
                    flow,
                    name=label(flow),
                    other=label(seen[ends]),
                    source=label(source) if source is not None else ends[0],
                    target=label(target) if target is not None else ends[1],
                )
            else:
                seen[ends] = flow

    def labels(self, graph: _Graph) -> None:
        for node_id, node in graph.nodes.items():
            if (node.get("name") or "").strip():
                continue
            kind = local_name(node)
            splits = kind in CHOOSING_GATEWAYS and len(graph.outgoing.get(node_id, [])) > 1
            if kind in ACTIVITIES or kind in {"intermediateCatchEvent", "boundaryEvent"} or splits:
                self.say("label-required", node, name=label(node))

    def chains(self, graph: _Graph) -> None:
        def plain_activity(node_id: str) -> bool:
            node = graph.nodes.get(node_id)
            return (
                node is not None
                and local_name(node) in ACTIVITIES
                and len(graph.incoming.get(node_id, [])) == 1
                and len(graph.outgoing.get(node_id, [])) == 1
                and not graph.boundaries.get(node_id)
            )

        def previous(node_id: str) -> str | None:
            flow = graph.incoming[node_id][0]
            return flow.get("sourceRef")

        for node_id in graph.nodes:
            if not plain_activity(node_id):
                continue
            before = previous(node_id)
            if before is not None and plain_activity(before):
                continue  # not the head of its chain
            length, current = 1, node_id
            while True:
                following = graph.outgoing[current][0].get("targetRef")
                if following is None or following == node_id or not plain_activity(following):
                    break
                length, current = length + 1, following
                if length > len(graph.nodes):
                    break
            if length >= LONG_CHAIN:
                self.say("long-chain", graph.nodes[node_id], name=label(graph.nodes[node_id]), count=length)

    def lanes(self, process: etree._Element) -> None:
        user_tasks = {task.get("id") for task in process.iter(bpmn("userTask"))}
        lanes = {id(lane): lane for node_id, lane in lane_index(process).items() if node_id in user_tasks}
        for lane in lanes.values():
            name = (lane.get("name") or "").strip() or None
            if role_of_lane(lane.get("id"), name) is not None:
                continue
            guess = _closest_role([lane.get("id") or "", name or ""])
            suggestion = f" (did you mean {guess}?)" if guess else ""
            self.say("unknown-role", lane, name=label(lane), suggestion=suggestion, role=guess or "")


def _event_definitions(event: etree._Element) -> list[etree._Element]:
    return [c for c in event if isinstance(c.tag, str) and local_name(c).endswith("EventDefinition")]


def _reachable(graph: _Graph) -> set[str]:
    """Flow nodes a case can get to: from start events (and entries that need no flow), along sequence flows
    and onto the boundary events of activities it reaches."""

    # Elements without incoming flows are reported as such; what follows them is not reported again.
    todo = [
        node_id
        for node_id, node in graph.nodes.items()
        if (not _needs_incoming(node) or not graph.incoming.get(node_id)) and not _boundary(node)
    ]
    reached: set[str] = set()
    while todo:
        node_id = todo.pop()
        if node_id in reached:
            continue
        reached.add(node_id)
        todo.extend(f.get("targetRef") for f in graph.outgoing.get(node_id, []) if f.get("targetRef"))
        todo.extend(graph.boundaries.get(node_id, []))
    return reached


def _boundary(node: etree._Element) -> bool:
    return local_name(node) == "boundaryEvent"


def _closest_role(candidates: Iterable[str]) -> str | None:
    for candidate in candidates:
        word = candidate.removeprefix("Lane_").strip()
        if word:
            found = difflib.get_close_matches(word, LANE_ROLES.keys(), n=1, cutoff=0.75)
            if found:
                return found[0]
    return None


def _check_diagram(file: str, root: etree._Element, findings: Findings) -> None:
    diagrams = root.findall(f"{{{BPMNDI_NS}}}BPMNDiagram")
    if not diagrams:
        _say(findings, file, "no-diagram", root)
        return
    drawn = {
        e.get("bpmnElement")
        for d in diagrams
        for e in d.iter(f"{{{BPMNDI_NS}}}BPMNShape", f"{{{BPMNDI_NS}}}BPMNEdge")
        if e.get("bpmnElement")
    }
    for process in root.findall(bpmn("process")):
        for element in process.iter():
            if not isinstance(element.tag, str) or not element.get("id"):
                continue
            kind = local_name(element)
            if (kind in FLOW_NODES or kind == "sequenceFlow") and element.get("id") not in drawn:
                if _inside_subprocess(element):
                    continue
                _say(findings, file, "no-bpmndi", element, name=label(element))


def _inside_subprocess(element: etree._Element) -> bool:
    """Elements of a subprocess may be drawn on a plane of their own (collapsed), or not at all."""
    parent = element.getparent()
    while parent is not None and local_name(parent) != "process":
        if local_name(parent) in CONTAINERS:
            return True
        parent = parent.getparent()
    return False
