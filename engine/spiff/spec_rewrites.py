"""What govflow changes on SpiffWorkflow's parsed specs so that they run as designers expect.

- A timer whose text is a plain ISO 8601 value (`P3D`) becomes the Python string SpiffWorkflow evaluates
  (`'P3D'`): designers need no quotes.
- A user task whose form is named Camunda's way (`camunda:formKey="camunda-forms:bpmn:ID"`) gets the
  spiffworkflow `formKey` property the runtime reads.

The changes are made on the specs, never on the XML the designer uploaded, and are idempotent.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from lxml import etree
from SpiffWorkflow.bpmn.specs.event_definitions.multiple import MultipleEventDefinition
from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition
from SpiffWorkflow.bpmn.specs.mixins.user_task import UserTask

from engine.spiff import timers
from engine.spiff.bpmn_checks import form_key


def rewrite_specs(specs: Iterable[Any], elements: Mapping[tuple[str, str], etree._Element]) -> None:
    """Rewrite the timers and form keys of these process specs; `elements` maps (file, id) to the XML."""
    for spec in specs:
        if spec is None:
            continue
        for task_spec in spec.task_specs.values():
            for definition in _timer_definitions(task_spec):
                _quote_iso_timer(definition)
            if isinstance(task_spec, UserTask):
                element = elements.get((spec.file, getattr(task_spec, "bpmn_id", None) or ""))
                key = form_key(element) if element is not None else None
                if key:
                    extensions = getattr(task_spec, "extensions", None) or {}
                    extensions.setdefault("properties", {})["formKey"] = key
                    task_spec.extensions = extensions


def _timer_definitions(task_spec: Any) -> Iterator[TimerEventDefinition]:
    definition = getattr(task_spec, "event_definition", None)
    pending = [definition]
    while pending:
        definition = pending.pop()
        if isinstance(definition, TimerEventDefinition):
            yield definition
        elif isinstance(definition, MultipleEventDefinition):
            pending.extend(definition.event_definitions)


def _quote_iso_timer(definition: TimerEventDefinition) -> None:
    """Turn a plain ISO value (P3D) into the Python string SpiffWorkflow evaluates ('P3D')."""
    expression = definition.expression
    if not isinstance(expression, str) or not expression.strip():
        return
    try:
        timers.parse_iso_timer(expression)
    except ValueError:
        return  # an expression, or already quoted
    definition.expression = timers.quoted(expression)
