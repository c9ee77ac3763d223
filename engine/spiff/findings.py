"""Where a bundle check puts what it finds: problems and warnings placed on an element of a file."""

from __future__ import annotations

from collections.abc import Callable

from lxml import etree

from engine.errors import Problem
from engine.spiff.safe_xml import BPMN_NS, local_name

FLOW_NODES = frozenset(
    {
        "startEvent", "endEvent", "intermediateCatchEvent", "intermediateThrowEvent", "boundaryEvent",
        "task", "userTask", "manualTask", "scriptTask", "serviceTask", "sendTask", "receiveTask",
        "businessRuleTask", "callActivity", "subProcess", "transaction", "adHocSubProcess",
        "exclusiveGateway", "inclusiveGateway", "parallelGateway", "eventBasedGateway", "complexGateway",
    }
)  # fmt: skip

# A sandbox check: None if the source compiles under the sandbox rules, else the reason.
Checker = Callable[[str], "str | None"]


def bpmn(tag: str) -> str:
    """The qualified tag of a BPMN element."""
    return f"{{{BPMN_NS}}}{tag}"


class Findings:
    """Problems (the bundle is refused) and warnings (it is deployed), each placed on an element."""

    def __init__(self) -> None:
        self.problems: list[Problem] = []
        self.warnings: list[Problem] = []

    def problem(self, file: str, message: str, element: etree._Element | None = None, **where: object) -> None:
        """Something that blocks the deployment."""
        self.problems.append(_placed(file, message, element, where))

    def warning(self, file: str, message: str, element: etree._Element | None = None, **where: object) -> None:
        """Something the designer should know; the bundle still deploys."""
        self.warnings.append(_placed(file, message, element, where))

    def has_problem_at(self, file: str, element_id: str | None) -> bool:
        """Whether a problem already names this element."""
        return any(p.file == file and p.element_id == element_id for p in self.problems)


def _placed(file: str, message: str, element: etree._Element | None, where: dict) -> Problem:
    """`where` may say element_id, line, and the check's code with the params of its sentence."""
    element_id, line = where.get("element_id"), where.get("line")
    code, params = where.get("code"), where.get("params") or {}
    if element is not None:
        line = line or element.sourceline
        # A <conditionExpression> or <timeDuration> has no id: name the element it belongs to.
        holder = element
        while element_id is None and holder is not None:
            element_id = holder.get("id") if isinstance(holder.tag, str) else None
            holder = holder.getparent()
    return Problem(file, message, element_id, line, code, tuple((k, str(v)) for k, v in params.items()))


def label(element: etree._Element) -> str:
    """How a message names an element: its name if it has one, else its id."""
    name = " ".join((element.get("name") or "").split())
    return f"'{name}'" if name else f"'{element.get('id') or local_name(element)}'"


def text_of(element: etree._Element | None) -> str:
    """The stripped text of an element ('' for none)."""
    return (element.text or "").strip() if element is not None else ""
