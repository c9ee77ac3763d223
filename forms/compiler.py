"""Read form-js JSON (`*.form.json`) and compile it into a `CompiledForm` validator.

Everything wrong with a definition is collected and raised at once as `FormDefinitionInvalid`,
with one sentence per problem naming the component, so an author can fix a form in one go.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from forms import feel
from forms import fields as f
from forms.compiled import CompiledForm
from forms.errors import FormDefinitionInvalid
from forms.loading import json_kind, root_problems
from forms.model import UNSUPPORTED, Flag, FormField, Node, Option, Shape, Slot

INPUT_TYPES = {"textfield", "textarea", "number", "checkbox", "checklist", "radio", "select", "taglist"}
INPUT_TYPES |= {"datetime"}
CHOICE_TYPES = {"checklist", "radio", "select", "taglist"}
DISPLAY_TYPES = {"text", "html", "spacer", "separator", "image", "button", "iframe", "table"}
DISPLAY_TYPES |= {"documentPreview"}
KNOWN_TYPES = INPUT_TYPES | DISPLAY_TYPES | {"group", "dynamiclist", "expression"}

TEXT_RULES = {"required", "minLength", "maxLength", "pattern", "validationType"}
RULES_BY_TYPE = {t: {"required"} for t in INPUT_TYPES}
RULES_BY_TYPE |= {"textfield": TEXT_RULES, "textarea": TEXT_RULES, "number": {"required", "min", "max"}}
KNOWN_RULES = TEXT_RULES | {"min", "max"}
FEEL_RULES = {"min", "max", "minLength", "maxLength"}  # form-js evaluates "=..." in these
TEMPLATE_PLACEHOLDER = re.compile(r"\{\{\s*([^{}]*?)\s*\}\}")  # form-js text templates: {{ name }}
TEMPLATE_BLOCKS = {"#if", "#loop", "#with"}
VALIDATION_TYPES = {"email", "phone", "", "custom"}  # "" / "custom" mean "use pattern"
SUBTYPES = {"date", "time", "datetime"}


def compile_form(schema: Mapping[str, Any]) -> CompiledForm:
    """Check a parsed form-js schema and build its validator; raise FormDefinitionInvalid if broken."""
    if not isinstance(schema, Mapping):
        raise FormDefinitionInvalid([f"The form definition must be a JSON object, not {json_kind(schema)}."])
    problems = root_problems(schema, "The form definition")
    if problems:
        raise FormDefinitionInvalid(problems)
    compiler = _Compiler()
    try:
        nodes = compiler.components(schema["components"], _Scope("components", compiler.root, "", False))
    except RecursionError:
        raise FormDefinitionInvalid(["The form definition nests groups too deeply."]) from None
    if compiler.problems:
        raise FormDefinitionInvalid(compiler.problems)
    return CompiledForm(
        id=schema["id"],
        fields=compiler.fields,
        schema=copy.deepcopy(dict(schema)),
        warnings=compiler.warnings,
        nodes=nodes,
        shape=compiler.root,
        reads=compiler.reads,
    )


@dataclass(frozen=True)
class _Scope:
    """Where a components list sits: its locator, its level of the data, its key prefix, and
    whether it is inside a group path or dynamic list (FEEL names then resolve locally first)."""

    where: str
    shape: Shape
    prefix: str
    scoped: bool


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float | Decimal) and not isinstance(value, bool)


class _Compiler:
    """Walks the component tree once, collecting nodes, public fields and every problem found."""

    def __init__(self) -> None:
        self.problems: list[str] = []
        self.warnings: list[str] = []
        self.fields: list[FormField] = []
        self.root = Shape()
        self.reads: set[tuple[str, ...]] = set()  # extra root variables the form shows or reads
        self.ids: dict[str, str] = {}

    # --- tree walking ------------------------------------------------------------------------

    def components(self, items: list, scope: _Scope) -> list[Node]:
        """Compile one components list; display-only components yield no node."""
        nodes = []
        for index, comp in enumerate(items):
            node = self.component(comp, f"{scope.where}[{index}]", scope)
            if node is not None:
                nodes.append(node)
        return nodes

    def component(self, comp: Any, where: str, scope: _Scope) -> Node | None:
        if not isinstance(comp, dict):
            self.problems.append(f"The component at {where} must be a JSON object, not {json_kind(comp)}.")
            return None
        ctype = comp.get("type")
        desc = _describe(comp, where)
        self._check_id(comp, desc)
        if not isinstance(ctype, str) or ctype not in KNOWN_TYPES:
            shown = f"type {ctype!r}" if isinstance(ctype, str) else "no type"
            self.problems.append(f"The component at {where} has {shown}, which this server cannot validate.")
            return None
        if ctype in DISPLAY_TYPES:
            if ctype == "table" and isinstance(comp.get("dataSource"), str):
                self._note_reads(comp["dataSource"], scope.scoped)
            self._note_display_reads(comp, scope.scoped)
            return None
        hide = self._condition(comp, desc, scope.scoped)
        if ctype in ("group", "dynamiclist"):
            return self.container(comp, ctype, desc, where, scope, hide)
        segments = self._segments(comp.get("key"), desc, "key")
        if segments is None:
            return None
        if ctype == "expression":
            self._claim(scope.shape, segments, desc, "free")
            return Node("expression", segments, desc, hide=hide)
        return self.input(comp, ctype, desc, scope, segments, hide)

    def container(self, comp: dict, ctype: str, desc: str, where: str, scope: _Scope, hide: feel.Expr | None) -> Node:
        is_list = ctype == "dynamiclist"
        raw_path = comp.get("path")
        segments = self._segments(raw_path, desc, "path") if is_list or raw_path not in (None, "") else ()
        segments = segments or ()
        shape: Shape | None = scope.shape
        if segments:
            shape = self._claim(scope.shape, segments, desc, "list" if is_list else "container")
        children = comp.get("components", [])
        if not isinstance(children, list):
            self.problems.append(f'The {desc} needs "components" to be a list.')
            children = []
        key = scope.prefix + ".".join(segments)
        node = Node("list" if is_list else "group", segments, desc, hide=hide)
        if is_list:
            node.field = FormField(
                key=key,
                type=ctype,
                label=_text(comp.get("label")),
                id=_id(comp),
                hide_condition=_hide_text(comp),
            )
            self.fields.append(node.field)
        inner_prefix = key + (".*." if is_list else ".") if segments else scope.prefix
        inner = _Scope(f"{where}.components", shape or Shape(), inner_prefix, scope.scoped or bool(segments))
        node.children = self.components(children, inner)
        return node

    def input(
        self,
        comp: dict,
        ctype: str,
        desc: str,
        scope: _Scope,
        segments: tuple[str, ...],
        hide: feel.Expr | None,
    ) -> Node:
        self._claim(scope.shape, segments, desc, "leaf")
        rules = self._rules(comp, ctype, desc, scope.scoped)
        options, source = (None, None)
        if ctype in CHOICE_TYPES:
            options, source = self._options(comp, desc, scope.scoped)
        subtype = comp.get("subtype") if ctype == "datetime" else None
        if ctype == "datetime" and (not isinstance(subtype, str) or subtype not in SUBTYPES):
            self.problems.append(f'The {desc} needs "subtype" to be one of date, time or datetime.')
        node = Node("input", segments, desc, required=rules.pop("required", False) is True, hide=hide)
        node.readonly = self._flag(comp, "readonly", desc, scope.scoped)
        node.disabled = self._flag(comp, "disabled", desc, scope.scoped)
        node.dynamic_rules = rules.pop("dynamic")
        node.loader = f.build_field(ctype, rules, options, subtype, comp.get("serializeToString") is True)
        node.field = FormField(
            key=scope.prefix + ".".join(segments),
            type=ctype,
            label=_text(comp.get("label")),
            required=node.required,
            id=_id(comp),
            subtype=subtype if isinstance(subtype, str) else None,
            description=_text(comp.get("description")),
            options=tuple(Option(v, label) for v, label in options) if options is not None else None,
            options_source=source,
            readonly=_flag_text(comp.get("readonly")),
            disabled=_flag_text(comp.get("disabled")),
            hide_condition=_hide_text(comp),
            validate=dict(comp["validate"]) if isinstance(comp.get("validate"), dict) else {},
        )
        self.fields.append(node.field)
        return node

    # --- component properties ----------------------------------------------------------------

    def _check_id(self, comp: dict, desc: str) -> None:
        cid = comp.get("id")
        if isinstance(cid, str) and cid:
            if cid in self.ids:
                self.problems.append(f"The {desc} reuses the id {cid!r} of the {self.ids[cid]}.")
            else:
                self.ids[cid] = desc

    def _segments(self, value: Any, desc: str, what: str) -> tuple[str, ...] | None:
        if not isinstance(value, str) or not value.strip():
            self.problems.append(f"The {desc} has no {what}; it needs one to carry a value.")
            return None
        parts = tuple(value.split("."))
        if any(not p or re.search(r"\s", p) for p in parts):
            self.problems.append(
                f"The {desc} has the {what} {value!r}; use names without spaces, separated by single dots."
            )
            return None
        return parts

    def _claim(self, shape: Shape, segments: tuple[str, ...], desc: str, kind: str) -> Shape | None:
        """Reserve a place in the submitted data; two components must not own the same name."""
        for depth, name in enumerate(segments):
            last = depth == len(segments) - 1
            slot = shape.slots.get(name)
            here = ".".join(segments[: depth + 1])
            if slot is None:
                slot_kind = kind if last else "container"
                slot = Slot(slot_kind, desc, Shape() if slot_kind in ("container", "list") else None)
                shape.slots[name] = slot
            elif slot.kind != "container" or (last and kind != "container"):
                if slot.kind == kind or (slot.kind in ("leaf", "free") and kind in ("leaf", "free")):
                    self.problems.append(f"The {desc} uses the key {here!r}, which the {slot.owner} already uses.")
                else:
                    self.problems.append(
                        f"The {desc} needs {here!r} for its value, but the {slot.owner} uses it differently."
                    )
                return None
            shape = slot.shape
        return shape

    def _condition(self, comp: dict, desc: str, scoped: bool) -> feel.Expr | None:
        conditional = comp.get("conditional")
        hide = conditional.get("hide") if isinstance(conditional, dict) else None
        if hide in (None, ""):
            return None
        expr = self._feel(hide, scoped)
        if expr is None:
            self.warnings.append(
                f"The hide condition of the {desc} is beyond the FEEL this server evaluates; "
                "the field is always validated as visible."
            )
        return expr

    def _flag(self, comp: dict, name: str, desc: str, scoped: bool) -> Flag:
        value = comp.get(name)
        if value in (None, False, ""):
            return False
        if value is True:
            return True
        if isinstance(value, str) and value.startswith("="):
            expr = self._feel(value, scoped)
            if expr is None:
                self.warnings.append(
                    f"The {name} expression of the {desc} is beyond the FEEL this server evaluates; "
                    f"submitted values for it are ignored."
                )
                return UNSUPPORTED
            return expr
        self.problems.append(f'The {desc} needs "{name}" to be true, false or a FEEL expression.')
        return False

    def _feel(self, text: Any, scoped: bool) -> feel.Expr | None:
        if not isinstance(text, str) or not text.startswith("="):
            return None  # form-js only evaluates "=..." strings, so nothing else hides a field
        try:
            expr = feel.parse(text[1:])
        except (ValueError, RecursionError):  # FeelUnsupported is a ValueError
            return None
        if not scoped:
            self.reads |= feel.names(expr)
        return expr

    def _note_display_reads(self, comp: dict, scoped: bool) -> None:
        """What a text or html component shows: its hide condition, a FEEL text ("=...") and the names in
        the {{ }} placeholders of a template; prefill hands them over so the viewer can show them."""
        conditional = comp.get("conditional")
        hide = conditional.get("hide") if isinstance(conditional, dict) else None
        sources = [hide] if isinstance(hide, str) else []
        for name in ("text", "content"):
            value = comp.get(name)
            if not isinstance(value, str):
                continue
            if value.startswith("="):
                sources.append(value)
                continue
            for inner in TEMPLATE_PLACEHOLDER.findall(value):
                words = inner.split(None, 1)
                if words and words[0] in TEMPLATE_BLOCKS:  # {{#if x}}, {{#loop x}}: the name after it
                    inner = words[1] if len(words) > 1 else ""
                if inner and not inner.startswith(("/", "else", "this")):
                    sources.append("=" + inner)
        for source in sources:
            self._feel(source, scoped)  # records the names it reads; FEEL beyond the subset reads nothing

    def _note_reads(self, source: str, scoped: bool) -> None:
        # A table's dataSource names the variable it shows; prefill must hand it over.
        text = source[1:] if source.startswith("=") else source
        try:
            expr = feel.parse(text)
        except feel.FeelUnsupported:
            return
        if expr[0] == "path" and not scoped:
            self.reads.add(expr[1])

    def _rules(self, comp: dict, ctype: str, desc: str, scoped: bool) -> dict[str, Any]:
        """Check `validate`; return static rules (Python values) plus FEEL ones under "dynamic"."""
        rules: dict[str, Any] = {"dynamic": {}}
        validate = comp.get("validate")
        if validate is None:
            return rules
        if not isinstance(validate, dict):
            self.problems.append(f'The {desc} needs "validate" to be an object of rules.')
            return rules
        for name, value in validate.items():
            if value is None:
                continue  # an editor may leave a cleared rule as null
            if name not in KNOWN_RULES:
                self.problems.append(f"The {desc} has the unknown validation rule {name!r}.")
            elif name not in RULES_BY_TYPE[ctype]:
                self.problems.append(f"The validation rule {name!r} does not apply to the {desc}.")
            elif name in FEEL_RULES and isinstance(value, str) and value.startswith("="):
                expr = self._feel(value, scoped)
                if expr is None:
                    self.warnings.append(f"The {name} rule of the {desc} is beyond the FEEL this server evaluates.")
                else:
                    rules["dynamic"][name] = expr
            else:
                self._static_rule(name, value, desc, rules)
        for low, high in (("min", "max"), ("minLength", "maxLength")):
            if _is_number(rules.get(low)) and _is_number(rules.get(high)) and rules[low] > rules[high]:
                self.problems.append(f"The {desc} has {low} {rules[low]} above {high} {rules[high]}.")
        return rules

    def _static_rule(self, name: str, value: Any, desc: str, rules: dict[str, Any]) -> None:
        if name == "required":
            if not isinstance(value, bool):
                self.problems.append(f"The {desc} needs validate.required to be true or false.")
            rules[name] = value is True
        elif name in ("minLength", "maxLength"):
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                self.problems.append(f"The {desc} needs validate.{name} to be a whole number of 0 or more.")
            else:
                rules[name] = value
        elif name in ("min", "max"):
            number = f.parse_number(value)
            if number is None:
                self.problems.append(f"The {desc} needs validate.{name} to be a number.")
            else:
                rules[name] = number
        elif name == "pattern":
            if not isinstance(value, str):
                self.problems.append(f"The {desc} needs validate.pattern to be a regular expression text.")
            elif value:
                try:
                    # ASCII: \d, \w and \s then mean what they mean in the browser's JavaScript.
                    rules[name] = re.compile(value, re.ASCII)
                except (re.error, RecursionError, OverflowError) as err:
                    self.problems.append(
                        f"The {desc} has the pattern {value!r}, which is not a valid regular expression ({err})."
                    )
        elif name == "validationType":
            if not isinstance(value, str) or value not in VALIDATION_TYPES:
                self.problems.append(f"The {desc} has validationType {value!r}; use email, phone or none.")
            else:
                rules[name] = value

    def _options(self, comp: dict, desc: str, scoped: bool) -> tuple[list | None, str | None]:
        """Static options as [(value, label)], or None plus the source text when they are dynamic."""
        for name in ("valuesExpression", "valuesKey"):
            source = comp.get(name)
            if isinstance(source, str) and source.strip():
                if name == "valuesKey" and not scoped:
                    self.reads.add((source,))  # form-js reads the options from this root variable
                return None, source
        values = comp.get("values")
        if not isinstance(values, list) or not values:
            self.problems.append(f'The {desc} offers no options; give it "values", "valuesKey" or "valuesExpression".')
            return [], None
        options: list[tuple[Any, str]] = []
        for index, entry in enumerate(values):
            value, label = (entry.get("value"), entry.get("label")) if isinstance(entry, dict) else (entry, None)
            if not isinstance(value, str | int | float | bool) or value == "":
                self.problems.append(f"Option {index + 1} of the {desc} needs a text, number or boolean value.")
            elif any(f.same_value(value, seen) for seen, _ in options):
                self.problems.append(f"The {desc} lists the option value {value!r} twice.")
            else:
                options.append((value, _text(label) or str(value)))
        return options, None


def _describe(comp: dict, where: str) -> str:
    ctype = comp.get("type") if isinstance(comp.get("type"), str) else "component"
    cid = comp.get("id") if isinstance(comp.get("id"), str) and comp["id"] else None
    for name in ("key", "path"):
        if isinstance(comp.get(name), str) and comp[name]:
            return f"{ctype} {comp[name]!r}" + (f" (id {cid!r})" if cid else "")
    return f"{ctype} with id {cid!r}" if cid else f"{ctype} at {where}"


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _id(comp: dict) -> str | None:
    return comp["id"] if isinstance(comp.get("id"), str) else None


def _flag_text(value: Any) -> bool | str:
    return value if isinstance(value, str) and value.startswith("=") else value is True


def _hide_text(comp: dict) -> str | None:
    conditional = comp.get("conditional")
    hide = conditional.get("hide") if isinstance(conditional, dict) else None
    return hide if isinstance(hide, str) and hide else None
