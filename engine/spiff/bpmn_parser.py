"""govflow's SpiffWorkflow parser: SpiffBpmnParser with the few changes deployment needs.

- Business-rule tasks drawn in Camunda Modeler name their decision with `camunda:decisionRef`;
  SpiffWorkflow only reads `spiffworkflow:calledDecisionId`.
- SpiffWorkflow parses a flow recursively, several Python frames per element, so a long chain of tasks
  hits Python's recursion limit. Parsing the elements after the start events first, last ones first, lets
  each element find its successors already parsed; the recursion then stays shallow.
- DMN files whose DMN namespace is bound to a prefix other than `dmn` (or to none) are read as well.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator

from lxml import etree
from SpiffWorkflow.bpmn.parser.BpmnParser import BpmnValidator
from SpiffWorkflow.bpmn.parser.util import full_tag
from SpiffWorkflow.dmn.parser.DMNParser import DMNParser
from SpiffWorkflow.spiff.parser.process import SPIFF_XSD, SpiffBpmnParser, SpiffProcessParser
from SpiffWorkflow.spiff.parser.task_spec import BusinessRuleTaskParser
from SpiffWorkflow.spiff.specs.defaults import BusinessRuleTask

CAMUNDA_NS = "http://camunda.org/schema/1.0/bpmn"
SPIFF_NS = "http://spiffworkflow.org/bpmn/schema/1.0/core"


def decision_ref(node: etree._Element) -> str | None:
    """The decision a business-rule task calls: spiffworkflow:calledDecisionId or camunda:decisionRef."""
    ref = BusinessRuleTaskParser.get_decision_ref(node)
    if ref is None:
        ref = node.get(f"{{{CAMUNDA_NS}}}decisionRef")
    return ref.strip() if isinstance(ref, str) and ref.strip() else None


class GovflowBusinessRuleTaskParser(BusinessRuleTaskParser):
    """Business-rule tasks that name their decision either way."""

    @staticmethod
    def get_decision_ref(node: etree._Element) -> str | None:
        """spiffworkflow:calledDecisionId or camunda:decisionRef."""
        return decision_ref(node)


class GovflowProcessParser(SpiffProcessParser):
    """A process parser that keeps SpiffWorkflow's recursion shallow."""

    def add_tasks(self) -> None:
        """Parse the flow bottom-up, then let SpiffWorkflow connect the start events."""
        for node in self._bottom_up():
            self.parse_node(node)
        super().add_tasks()

    def _bottom_up(self) -> list[etree._Element]:
        """The elements reachable from the start events, each after everything it leads to (DFS post-order).

        Start events stay for SpiffWorkflow's own start handling; boundary events are parsed with the
        activity they are attached to, as SpiffWorkflow expects.
        """
        children = {node.get("id"): node for node in self.node if isinstance(node.tag, str) and node.get("id")}
        starts = [node_id for node_id, node in children.items() if node.tag == full_tag("startEvent")]
        order: list[etree._Element] = []
        seen: set[str] = set(starts)
        for start in starts:
            stack: list[tuple[str, Iterator[str]]] = [(start, self._successors(start))]
            while stack:
                node_id, successors = stack[-1]
                following = next(successors, None)
                if following is None:
                    stack.pop()
                    node = children[node_id]
                    if node.tag not in (full_tag("startEvent"), full_tag("boundaryEvent")):
                        order.append(node)
                elif following not in seen and following in children:
                    seen.add(following)
                    stack.append((following, self._successors(following)))
        return [node for node in order if self.parser._get_parser_class(node.tag)[0] is not None]

    def _successors(self, node_id: str) -> Iterator[str]:
        for flow in self.get_outgoing_sequence_flows(node_id):
            target = flow.get("targetRef")
            if target:
                yield target
        for event in self.get_boundary_events(node_id):
            if event.get("id"):
                yield event.get("id")


class GovflowBpmnParser(SpiffBpmnParser):
    """SpiffBpmnParser plus Camunda decision references, shallow recursion and any DMN prefix."""

    PROCESS_PARSER_CLASS = GovflowProcessParser
    OVERRIDE_PARSER_CLASSES = {
        **SpiffBpmnParser.OVERRIDE_PARSER_CLASSES,
        full_tag("businessRuleTask"): (GovflowBusinessRuleTaskParser, BusinessRuleTask),
    }

    def add_dmn_xml(self, node: etree._Element, filename: str | None = None) -> None:
        """As SpiffWorkflow's own, except that `dmn:` in its XPath expressions means the root's namespace.

        Files bind the DMN namespace to `dmn`, to another prefix or to none; SpiffWorkflow's XPath always says
        `dmn:`. (No XSD validation here: SpiffWorkflow only ships DMN 1.1-1.3 schemas.)
        """
        namespaces = {**self.namespaces, **{prefix: uri for prefix, uri in node.nsmap.items() if prefix}}
        namespaces["dmn"] = etree.QName(node).namespace
        dmn_parser = DMNParser(self, node, namespaces, filename=filename)
        self.dmn_parsers[dmn_parser.bpmn_id] = dmn_parser
        self.dmn_parsers_by_name[dmn_parser.get_name()] = dmn_parser


_local = threading.local()


def schema_validator() -> BpmnValidator:
    """SpiffWorkflow's BPMN 2.0 + spiffworkflow XSD validator, one per thread (lxml validators keep state)."""
    validator = getattr(_local, "validator", None)
    if validator is None:
        validator = BpmnValidator(imports={"spiffworkflow": SPIFF_XSD})
        _local.validator = validator
    return validator
