"""Messages of a live workflow: what it waits for, and what a run threw outward."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from SpiffWorkflow.bpmn.specs.event_definitions.message import MessageEventDefinition
from SpiffWorkflow.bpmn.specs.event_definitions.multiple import MultipleEventDefinition

from engine.spiff.elements import element_of, waiting_event_tasks


@dataclass(frozen=True)
class WaitingMessage:
    name: str
    element_id: str


@dataclass(frozen=True)
class ThrownMessage:
    """A message a run threw that nothing in the instance caught: it goes to other instances."""

    name: str
    element_id: str | None
    payload: Any
    correlations: dict = field(default_factory=dict)


def _message_names(task: Any) -> list[str]:
    definition = getattr(task.task_spec, "event_definition", None)
    candidates = definition.event_definitions if isinstance(definition, MultipleEventDefinition) else [definition]
    return [d.name for d in candidates if isinstance(d, MessageEventDefinition)]


def waiting_messages(workflow: Any) -> list[WaitingMessage]:
    """The messages the workflow waits for (catch, boundary and start events, event-based gateways)."""
    found: dict[str, WaitingMessage] = {}
    for task in waiting_event_tasks(workflow):
        for name in _message_names(task):
            found.setdefault(name, WaitingMessage(name, element_of(task)[0] or ""))
    return list(found.values())


def thrown_messages(workflow: Any) -> list[ThrownMessage]:
    """Take the messages the run threw outward (SpiffWorkflow keeps them until asked)."""
    thrown = []
    for event in workflow.get_events():
        definition = event.event_definition
        if isinstance(definition, MessageEventDefinition):
            thrown.append(ThrownMessage(definition.name, None, event.payload, dict(event.correlations or {})))
    return thrown
