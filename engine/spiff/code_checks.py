"""Checks on the code inside a process: scripts, conditions, other expressions and timer values.

Scripts and expressions go through the sandbox's deploy-time checks; timer values must be ISO 8601 (plain or
quoted) or an expression the sandbox accepts.
"""

from __future__ import annotations

import ast
import re

from lxml import etree

from engine.calendar import MAX_WORKING_DAYS
from engine.spiff import timers
from engine.spiff.bpmn_parser import SPIFF_NS
from engine.spiff.findings import FLOW_NODES, Checker, Findings, bpmn, label, text_of
from engine.spiff.safe_xml import local_name
from engine.spiff.timers import TimerKind

# Expressions SpiffWorkflow evaluates, besides gateway conditions and timers.
EXPRESSION_ELEMENTS = {
    "loopCondition": "loop condition",
    "completionCondition": "completion condition",
    "loopCardinality": "number of instances",
}


def check_script_task(file: str, task: etree._Element, findings: Findings, check_script: Checker) -> None:
    """A script task needs a script the sandbox compiles."""
    script = task.find(bpmn("script"))
    source = script.text if script is not None else None
    if not (source or "").strip():
        findings.problem(file, f"The script task {label(task)} has no script.", task)
        return
    _sandboxed(file, script, source, f"The script of {label(task)}", findings, check_script, task)


def check_spiff_scripts(file: str, node: etree._Element, findings: Findings, check_script: Checker) -> None:
    """spiffworkflow:preScript / postScript: run before and after a task, in the same sandbox."""
    extensions = node.find(bpmn("extensionElements"))
    if extensions is None:
        return
    for which, words in (("preScript", "pre-script"), ("postScript", "post-script")):
        for script in extensions.findall(f"{{{SPIFF_NS}}}{which}"):
            if (script.text or "").strip():
                what = f"The {words} of {label(node)}"
                _sandboxed(file, script, script.text, what, findings, check_script, node)


def check_condition(file: str, condition: etree._Element, findings: Findings, check_expression: Checker) -> None:
    """A sequence flow's condition must be an expression the sandbox compiles."""
    flow = condition.getparent()
    source = condition.text
    what = f"The condition of the flow {label(flow)}" if flow is not None else "A condition"
    if not (source or "").strip():
        findings.problem(file, f"{what} is empty; write a condition or remove it.", condition)
        return
    _sandboxed(file, condition, source.strip(), f"{what} ({_quote(source)})", findings, check_expression, flow)


def check_other_expression(
    file: str, element: etree._Element, what: str, findings: Findings, check_expression: Checker
) -> None:
    """Loop, completion and conditional-event expressions go through the sandbox too."""
    source = (element.text or "").strip()
    if source:
        owner = next((a for a in element.iterancestors() if local_name(a) in FLOW_NODES), None)
        name = label(owner) if owner is not None else "an element"
        _sandboxed(file, element, source, f"The {what} of {name}", findings, check_expression, owner)


def _quote(source: str) -> str:
    text = " ".join(source.split())
    return text if len(text) <= 80 else text[:77] + "..."


def _sandboxed(
    file: str,
    element: etree._Element,
    source: str,
    what: str,
    findings: Findings,
    checker: Checker,
    owner: etree._Element | None = None,
) -> None:
    try:
        refusal = checker(source)
    except Exception as exc:  # the sandbox must never take the parser down with it
        refusal = f"it could not be checked ({exc.__class__.__name__})"
    if not refusal:
        return
    line = element.sourceline
    found = _SCRIPT_LINE.search(refusal)
    if found and line and "\n" in source:
        # A script's text starts on the line of its element: point at the offending line of the file.
        line += int(found.group(1)) - 1
    owner_id = owner.get("id") if owner is not None else None
    reason = refusal.strip().rstrip(".")
    reason = reason[:1].upper() + reason[1:]
    findings.problem(file, f"{what} cannot run. {reason}.", element, line=line, element_id=owner_id)


_SCRIPT_LINE = re.compile(r"\(line (\d+)\)")


# --- timers ------------------------------------------------------------------------------------------


def timer_parts(definition: etree._Element) -> tuple[str | None, etree._Element | None]:
    """Which of timeDate/timeDuration/timeCycle a timer uses (SpiffWorkflow's order) and its element."""
    for tag in ("timeDate", "timeDuration", "timeCycle"):
        found = next(definition.iter(bpmn(tag)), None)
        if found is not None:
            return tag, found
    return None, None


def check_timer(file: str, definition: etree._Element, findings: Findings, check_expression: Checker) -> None:
    """A timer's value: plain or quoted ISO 8601 of the timer's kind, or a sandboxed expression."""
    event = definition.getparent() if definition.getparent() is not None else definition
    what = f"The timer {label(event)}"

    def refuse(message: str, element: etree._Element) -> None:
        where = {"element_id": event.get("id"), "code": "timer-invalid", "params": {"name": label(event)}}
        findings.problem(file, message, element, **where)

    tag, value_element = timer_parts(definition)
    if tag is None or value_element is None:
        refuse(
            f"{what} says neither when (timeDate), after how long (timeDuration) nor how often (timeCycle) it fires.",
            event,
        )
        return
    wanted = timers.ELEMENT_KIND[tag]
    text = text_of(value_element)
    if not text:
        refuse(
            f"{what} has an empty {tag}; write for example {timers.EXAMPLES[wanted]}.",
            value_element,
        )
        return
    literal = timers.string_literal(text)
    if literal is None and not timers.looks_like_iso_timer(text):
        other = timers.literal_of_other_type(text)
        if other is not None:
            refuse(
                f"{what} has the {other} {text}, but a timer needs an ISO 8601 text such as {timers.EXAMPLES[wanted]}.",
                value_element,
            )
            return
        # An expression the engine evaluates when the timer starts (working_days(15), due_date).
        what = f"The expression of the timer {label(event)}"
        _sandboxed(file, value_element, text, what, findings, check_expression, event)
        problem = _working_days_problem(text, tag)
        if problem:
            refuse(
                f"{what} {problem}",
                value_element,
            )
        return
    value = literal if literal is not None else text
    try:
        kind = timers.parse_iso_timer(value)
    except ValueError as exc:
        refuse(
            f"{what} cannot be read: {exc}. Examples of a {wanted}: {timers.EXAMPLES[wanted]}.",
            value_element,
        )
        return
    if kind != wanted:
        refuse(
            f"{what} is a {_TIMER_WORDS[tag]}, but '{value}' is a {kind}; write for example "
            f"{timers.EXAMPLES[wanted]} (or change the timer's type to {_KIND_TAG[kind]}).",
            value_element,
        )
        return
    if timers.without_offset(value):
        findings.warning(
            file,
            f"{what} has the time '{value}' without a UTC offset, so it is read in the server's time "
            "zone; add +08:00 for Beijing time.",
            value_element,
            element_id=event.get("id"),
            code="timer-no-offset",
            params={"name": label(event), "value": value},
        )


_TIMER_WORDS = {"timeDate": "date timer", "timeDuration": "duration timer", "timeCycle": "cycle timer"}
_KIND_TAG = {TimerKind.DATE: "timeDate", TimerKind.DURATION: "timeDuration", TimerKind.CYCLE: "timeCycle"}


def _working_days_problem(text: str, tag: str) -> str | None:
    """`working_days(n)` gives a duration (P21D): only a timeDuration takes it, with a whole n from 0."""
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except (SyntaxError, ValueError, MemoryError, RecursionError):
        return None
    calls = [
        node
        for node in ast.walk(tree)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "working_days"
    ]
    if not calls:
        return None
    if tag != "timeDuration":
        return (
            f"uses working_days(...), which gives a duration (such as P21D); use it in a timeDuration, "
            f"not a {_TIMER_WORDS[tag]}."
        )
    for call in calls:
        args = call.args
        if call.keywords or len(args) != 1:
            return "calls working_days with one whole number of working days, for example working_days(15)."
        try:
            count = ast.literal_eval(args[0])
        except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
            continue  # a variable: checked when the timer starts
        else:
            if isinstance(count, bool) or not isinstance(count, int) or not 0 <= count <= MAX_WORKING_DAYS:
                return (
                    f"calls working_days({count!r}): give a whole number of working days from 0 to {MAX_WORKING_DAYS}."
                )
    return None
