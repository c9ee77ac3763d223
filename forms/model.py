"""The compiled shape of a form: public field descriptions and the internal component tree."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from forms.feel import Expr
from forms.fields import FormJsField


@dataclass(frozen=True)
class Option:
    """One static choice of a select, radio, checklist or taglist."""

    value: Any
    label: str


@dataclass(frozen=True)
class FormField:
    """One value-carrying field of a form, as the UI and "what does this form ask" need it.

    `key` is the dotted path from the form's root; inside a dynamic list the entry index is
    written "*" ("attachments.*.name"). A dynamic list is itself a field of type "dynamiclist".
    """

    key: str
    type: str
    label: str = ""
    required: bool = False
    id: str | None = None
    subtype: str | None = None  # datetime: "date", "time" or "datetime"
    description: str = ""
    options: tuple[Option, ...] | None = None  # static choices; None if dynamic or not a choice
    options_source: str | None = None  # the valuesKey / valuesExpression of dynamic choices
    readonly: bool | str = False  # True, False or the FEEL text form-js evaluates
    disabled: bool | str = False
    hide_condition: str | None = None  # the FEEL text of conditional.hide
    validate: Mapping[str, Any] = dataclasses.field(default_factory=dict, compare=False)


class Unsupported:
    """Marks a readonly/disabled expression beyond the FEEL subset (treated as read-only)."""

    def __repr__(self) -> str:
        return "UNSUPPORTED"


UNSUPPORTED = Unsupported()

# How a flag such as readonly is known at compile time: fixed, an expression, or not evaluable.
Flag = bool | Expr | Unsupported


@dataclass
class Node:
    """One component of the compiled tree (display-only components are left out).

    kind is "input" (a leaf with a marshmallow field), "group", "list" (dynamiclist) or
    "expression". `segments` is the key or path relative to the enclosing group / list entry.
    """

    kind: str
    segments: tuple[str, ...]
    describe: str
    field: FormField | None = None
    loader: FormJsField | None = None
    required: bool = False
    hide: Expr | None = None
    readonly: Flag = False
    disabled: Flag = False
    dynamic_rules: dict[str, Expr] = dataclasses.field(default_factory=dict)  # FEEL-valued min/max/...
    children: list[Node] = dataclasses.field(default_factory=list)


@dataclass
class Slot:
    """What a name at one level of the submitted data holds; used for unknown-key checks."""

    kind: str  # "leaf", "free" (expression result), "container" (group path) or "list"
    owner: str  # the component that claimed it, for duplicate-key messages
    shape: Shape | None = None


@dataclass
class Shape:
    """The names allowed at one level of submitted data."""

    slots: dict[str, Slot] = dataclasses.field(default_factory=dict)
