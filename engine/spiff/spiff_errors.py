"""SpiffWorkflow's (and lxml's) exceptions, turned into problems a process designer can act on.

SpiffWorkflow reports parse errors as ValidationException with the element's id but, for lxml trees, no
line; other exceptions it wraps as the repr of the original. Here the element's line comes from the
bundle's own index, and the messages that designers meet most get a sentence of their own.
"""

from __future__ import annotations

import re
from typing import Any

from lxml import etree
from SpiffWorkflow.bpmn.parser.ValidationException import ValidationException

from engine.errors import Problem
from engine.spiff.bpmn_parser import SPIFF_NS
from engine.spiff.safe_xml import BPMN_NS, local_name

# SpiffWorkflow errors the checks in bpmn_checks always report first, on the right element.
_REPORTED_BY_CHECKS = (
    "Data Store with name",  # check_data_stores
    "When looking for a task spec",  # check_flow: a flow to an element outside its (sub)process
)
_KNOWN_MESSAGES = [
    (
        "Multiple outgoing flows are not supported",
        "This element has more than one outgoing flow; only gateways and events may split the flow, so "
        "put a gateway after it.",
    ),
    ("No start event found", "The process has no start event."),
    (
        "Non-default exclusive outgoing sequence flow without condition",
        "A flow leaving this gateway has no condition and is not the gateway's default flow: give it a "
        "condition or make it the default.",
    ),
    ("There is no support implemented for this task type", "The engine cannot run elements of this type."),
    ("Unknown Time Specification", "The timer says neither when, after how long nor how often it fires."),
    (
        "Cannot resolve dataInputAssociation",
        "A data input of this element refers to a data object that is not defined in its process.",
    ),
    (
        "Cannot resolve dataOutputAssociation",
        "A data output of this element refers to a data object that is not defined in its process.",
    ),
    (
        "Cancel Events may only be used with transactions",
        "Cancel events may only be attached to transactions.",
    ),
]


def reported_by_checks(exc: Exception) -> bool:
    """True for SpiffWorkflow errors that govflow's own checks have already reported better."""
    message = str(exc.args[0]) if isinstance(exc, ValidationException) and exc.args else ""
    return message.startswith(_REPORTED_BY_CHECKS)


def problem_from_exception(exc: Exception, file: str, indexes: dict[str, dict[str, etree._Element]]) -> Problem:
    """The problem for an exception SpiffWorkflow (or anything under it) raised."""
    element_id = getattr(exc, "id", None) or None
    file_name = getattr(exc, "file_name", None) or file
    if file_name not in indexes:
        file_name = file
    element = indexes.get(file_name, {}).get(element_id) if element_id else None
    line = element.sourceline if element is not None else _as_line(getattr(exc, "line_number", None))
    return Problem(file_name, _sentence(exc, element), element_id, line)


def _sentence(exc: Exception, element: etree._Element | None) -> str:
    cause = _underlying(exc)
    if isinstance(cause, RecursionError):
        return (
            "This element is part of a chain of elements too long for the engine to parse (it reached "
            "its depth limit here); shorten the chain or split the process into smaller processes joined "
            "by call activities."
        )
    if isinstance(exc, ValidationException):
        message = str(exc.args[0]) if exc.args else ""
        for start, sentence in _KNOWN_MESSAGES:
            if message.startswith(start):
                return sentence
        if message.startswith("The process '") and "was not found" in message:
            return message.split(" Did you mean")[0]
        if cause is not None and message == repr(cause):
            return _describe(cause, element)
        return f"The engine cannot use this element: {' '.join(message.split()).rstrip('. ')}."
    return _describe(exc, element)


def _underlying(exc: BaseException) -> BaseException | None:
    """The first non-SpiffWorkflow exception behind this one (SpiffWorkflow wraps others in its own)."""
    seen = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if not isinstance(current, ValidationException):
            return current
        current = current.__cause__ or current.__context__
    return None


def _describe(exc: BaseException, element: etree._Element | None) -> str:
    what = f"<{local_name(element)}>" if element is not None else "this element"
    if isinstance(exc, KeyError):
        return f"The engine could not read {what}: something it needs is missing ({exc.args[0]!r})."
    if isinstance(exc, NotImplementedError):
        return f"The engine cannot run {what} as it is drawn (for example a boundary event without a type)."
    detail = str(exc).strip()
    detail = re.sub(r"\s+", " ", detail)[:200]
    return f"The engine could not read {what} ({exc.__class__.__name__}{': ' + detail if detail else ''})."


def _as_line(value: Any) -> int | None:
    return int(value) if isinstance(value, int | str) and str(value).isdigit() and int(value) > 0 else None


def readable_schema_message(message: str) -> str:
    """lxml's XSD messages with `bpmn:` instead of the namespace in braces."""
    message = message.replace(f"{{{BPMN_NS}}}", "bpmn:").replace(f"{{{SPIFF_NS}}}", "spiffworkflow:")
    return re.sub(r"\{[^}]+\}", "", message).strip()
