"""A compiled form: validates submissions and picks the variables a form shows."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from marshmallow import ValidationError

from forms import feel
from forms import fields as f
from forms.errors import FieldError, SubmissionInvalid
from forms.model import UNSUPPORTED, Flag, FormField, Node, Shape

Path = tuple[str | int, ...]


class _Missing:
    def __repr__(self) -> str:
        return "MISSING"


MISSING: Any = _Missing()  # "not submitted", as opposed to an explicit null
TEXT_TYPES = {"textfield", "textarea"}


def get_path(root: Any, path: Path) -> Any:
    """The value at `path` inside nested dicts and lists, or MISSING."""
    node = root
    for seg in path:
        in_list = isinstance(seg, int) and isinstance(node, list) and 0 <= seg < len(node)
        in_dict = isinstance(seg, str) and isinstance(node, dict) and seg in node
        if not (in_list or in_dict):
            return MISSING
        node = node[seg]
    return node


def set_path(root: dict, path: Path, value: Any) -> None:
    """Store `value` at `path`, creating dicts on the way; give up where something else is in the way."""
    node: Any = root
    for seg in path[:-1]:
        if isinstance(seg, int):
            node = node[seg] if isinstance(node, list) and 0 <= seg < len(node) else None
        elif isinstance(node, dict):
            if not isinstance(node.get(seg), dict | list):
                node[seg] = {}
            node = node[seg]
        else:
            node = None
        if node is None:
            return
    if isinstance(node, dict) and isinstance(path[-1], str):
        node[path[-1]] = value


def del_path(root: dict, path: Path) -> None:
    """Remove the value at `path`, if there is one."""
    parent = get_path(root, path[:-1])
    if isinstance(parent, dict):
        parent.pop(path[-1], None)


def show_path(path: Path) -> str:
    """The dotted form of a path, as FieldError.field shows it ("attachments.0.name")."""
    return ".".join(str(seg) for seg in path)


def _deep_merge(base: Any, top: Any) -> Any:
    if isinstance(base, dict) and isinstance(top, dict):
        merged = dict(base)
        for key, value in top.items():
            merged[key] = _deep_merge(base.get(key, MISSING), value)
        return merged
    return top


@dataclass(eq=False)
class _Instance:
    """One component at one concrete place of the submission (dynamic lists repeat their children)."""

    node: Node
    path: Path
    scopes: tuple[Path, ...]  # where FEEL names are looked up, innermost first, root last
    parent: _Instance | None
    raw: Any
    cleaned: Any = MISSING
    errors: list[FieldError] = field(default_factory=list)
    hidden: bool = False
    editable: bool = True


class CompiledForm:
    """A form-js form turned into a server-side validator (build it with `compile_form`).

    `id` is the form's id (what a user task's formKey names), `fields` its value-carrying fields
    in form order, `schema` the form JSON it was compiled from, and `warnings` sentences about
    parts the server cannot check exactly (FEEL beyond the supported subset).
    """

    def __init__(
        self,
        *,
        id: str,
        fields: list[FormField],
        schema: dict,
        warnings: list[str],
        nodes: list[Node],
        shape: Shape,
        reads: set[tuple[str, ...]],
    ) -> None:
        self.id = id
        self.fields = fields
        self.schema = schema
        self.warnings = warnings
        self._nodes = nodes
        self._shape = shape
        self._reads = reads  # root variables the form reads beyond its fields (options, conditions)

    def __repr__(self) -> str:
        return f"CompiledForm(id={self.id!r}, fields={[field.key for field in self.fields]!r})"

    def validate(self, data: Mapping[str, Any], variables: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """Check a submission and return the cleaned values; raise SubmissionInvalid with all errors.

        `variables` (optional) are the instance variables the form was shown with: hide
        conditions may read them, as in the browser, and read-only fields are judged by them
        rather than by what was submitted.
        """
        if not isinstance(data, Mapping):
            message = f.MESSAGES["type_form"]
            raise SubmissionInvalid([FieldError("", message, "type")])
        variables = variables if isinstance(variables, Mapping) else {}
        try:
            cleaned, errors = self._check(data, variables)
        except RecursionError:
            cleaned, errors = {}, [FieldError("", f.MESSAGES["too_deep"], "type")]
        if errors:
            raise SubmissionInvalid(errors)
        return cleaned

    def _check(self, data: Mapping[str, Any], variables: Mapping[str, Any]) -> tuple[dict, list[FieldError]]:
        instances: list[_Instance] = []
        self._expand(self._nodes, data, (), ((),), None, instances)
        context = _deep_merge(copy.deepcopy(dict(variables)), copy.deepcopy(dict(data)))
        for inst in instances:
            if inst.cleaned is not MISSING:
                set_path(context, inst.path, inst.cleaned)
        self._decide_editable(instances, context, variables)
        self._decide_hidden(instances, context)
        cleaned: dict[str, Any] = {}
        errors: list[FieldError] = []
        for inst in instances:
            self._assemble(inst, context, cleaned, errors)
        _check_shape(self._shape, data, (), errors)
        return cleaned, errors

    def prefill(self, variables: Mapping[str, Any]) -> dict[str, Any]:
        """The instance variables this form shows (its fields, option lists, referenced names)."""
        result: dict[str, Any] = {}
        source = variables if isinstance(variables, Mapping) else {}
        for path in sorted(self._reads):
            value = get_path(source, path)
            if value is not MISSING:
                set_path(result, path, copy.deepcopy(value))
        _prefill(self._nodes, source, (), result)
        return result

    # --- validation steps --------------------------------------------------------------------

    def _expand(
        self,
        nodes: list[Node],
        data: Any,
        prefix: Path,
        scopes: tuple[Path, ...],
        parent: _Instance | None,
        out: list[_Instance],
    ) -> None:
        """List every component instance in form order; coerce each submitted input value."""
        for node in nodes:
            path = prefix + node.segments
            inst = _Instance(node, path, scopes, parent, get_path(data, path))
            out.append(inst)
            if node.kind == "input" and not _is_empty(inst.raw):
                try:
                    inst.cleaned = node.loader.deserialize(inst.raw)
                except ValidationError as err:
                    inst.errors = _field_errors(path, err)
            elif node.kind == "group":
                inner = (path, *scopes) if node.segments else scopes
                self._expand(node.children, data, path, inner, inst, out)
            elif node.kind == "list" and isinstance(inst.raw, list):
                for index, entry in enumerate(inst.raw):
                    if isinstance(entry, dict):  # other entries are reported by _check_shape
                        item = (*path, index)
                        self._expand(node.children, data, item, (item, *scopes), inst, out)

    def _decide_editable(self, instances: list[_Instance], context: dict, variables: Mapping) -> None:
        # Read-only values belong to the instance, not the submitter: conditions see the stored one.
        # Fixed flags go first, so readonly expressions never read a value the submitter forged.
        inputs = [inst for inst in instances if inst.node.kind == "input"]
        inputs.sort(key=lambda inst: not (_is_fixed(inst.node.readonly) and _is_fixed(inst.node.disabled)))
        for inst in inputs:
            node = inst.node
            inst.editable = not (_flag(node.readonly, inst, context) or _flag(node.disabled, inst, context))
            if not inst.editable:
                stored = get_path(variables, inst.path)
                if stored is MISSING:
                    del_path(context, inst.path)
                else:
                    set_path(context, inst.path, copy.deepcopy(stored))

    def _decide_hidden(self, instances: list[_Instance], context: dict) -> None:
        # Like form-js: in form order, and a hidden field's value is gone for later conditions.
        for inst in instances:
            hidden = inst.parent is not None and inst.parent.hidden
            if not hidden and inst.node.hide is not None:
                hidden = _evaluate(inst.node.hide, inst, context) is True
            inst.hidden = hidden
            if hidden and inst.node.kind != "group":
                del_path(context, inst.path)

    def _assemble(self, inst: _Instance, context: dict, cleaned: dict, errors: list[FieldError]) -> None:
        node = inst.node
        if inst.hidden:
            return
        if node.kind == "list" and isinstance(inst.raw, list):
            set_path(cleaned, inst.path, [{} for _ in inst.raw])
        elif node.kind == "expression" and inst.raw is not MISSING:
            # Computed in the browser; the server cannot recompute FEEL, so it passes unchanged.
            if f.is_json_value(inst.raw):
                set_path(cleaned, inst.path, copy.deepcopy(inst.raw))
            else:
                errors.append(FieldError(show_path(inst.path), f.MESSAGES["type_json"], "type"))
        if node.kind != "input" or not inst.editable:
            return
        where = show_path(inst.path)
        if _is_empty(inst.raw) or _blank_required_text(node, inst.raw):
            if node.required:
                errors.append(_required(where))
            elif inst.raw is not MISSING:
                set_path(cleaned, inst.path, _empty_value(node, inst.raw))
            return
        if inst.errors:
            errors.extend(inst.errors)
            return
        if node.required and node.field.type == "checkbox" and inst.cleaned is False:
            errors.append(_required(where))
            return
        problems = _dynamic_rule_errors(inst, context)
        if problems:
            errors.extend(problems)
        else:
            set_path(cleaned, inst.path, inst.cleaned)


def _is_empty(value: Any) -> bool:
    return value is MISSING or value is None or value == "" or value == []


def _blank_required_text(node: Node, value: Any) -> bool:
    return node.required and node.field.type in TEXT_TYPES and isinstance(value, str) and not value.strip()


def _empty_value(node: Node, raw: Any) -> Any:
    if node.field.type in TEXT_TYPES and isinstance(raw, str):
        return raw
    if node.field.type in ("checklist", "taglist"):
        return []
    return None


def _required(where: str) -> FieldError:
    return FieldError(where, f.MESSAGES["required"], "required")


def _field_errors(path: Path, err: ValidationError) -> list[FieldError]:
    messages = err.messages if isinstance(err.messages, list) else [err.messages]
    where = show_path(path)
    return [FieldError(where, str(m), getattr(m, "code", "invalid"), getattr(m, "params", {})) for m in messages]


def _lookup(inst: _Instance, context: dict) -> feel.Lookup:
    def lookup(name: tuple[str, ...]) -> Any:
        for scope in inst.scopes:
            base = get_path(context, scope)
            if isinstance(base, dict) and name[0] in base:
                value = get_path(base, name)
                return None if value is MISSING else value
        return None

    return lookup


def _evaluate(expr: feel.Expr, inst: _Instance, context: dict) -> Any:
    try:
        return feel.evaluate(expr, _lookup(inst, context))
    except Exception:  # a condition must never break a submission
        return None


def _is_fixed(flag: Flag) -> bool:
    return isinstance(flag, bool) or flag is UNSUPPORTED


def _flag(flag: Flag, inst: _Instance, context: dict) -> bool:
    if flag is UNSUPPORTED:
        return True  # cannot tell, so the submitter does not get to change the value
    if isinstance(flag, bool):
        return flag
    return _evaluate(flag, inst, context) is True


def _dynamic_rule_errors(inst: _Instance, context: dict) -> list[FieldError]:
    """Apply min/max/minLength/maxLength rules whose bounds are FEEL expressions."""
    rules = {}
    for name, expr in inst.node.dynamic_rules.items():
        bound = f.parse_number(_evaluate(expr, inst, context))
        if bound is not None:  # a bound that does not evaluate to a number is not enforced
            rules[name] = bound
    # Compilation allows min/max only on numbers and the lengths only on text, never both.
    value = inst.cleaned
    validators: list[Any] = []
    if "min" in rules or "max" in rules:
        validators.append(f.Range(rules.get("min"), rules.get("max")))
        value = f.parse_number(value)
    if ("minLength" in rules or "maxLength" in rules) and isinstance(value, str):
        validators.append(f.Length(rules.get("minLength"), rules.get("maxLength")))
    errors = []
    for validator in validators:
        try:
            validator(value)
        except ValidationError as err:
            errors.extend(_field_errors(inst.path, err))
    return errors


def _check_shape(shape: Shape, data: Mapping, path: Path, errors: list[FieldError]) -> None:
    """Report names the form does not have, and groups or lists submitted as the wrong kind."""
    for key, value in data.items():
        slot = shape.slots.get(key) if isinstance(key, str) else None
        here = (*path, key)
        if slot is None:
            errors.append(FieldError(show_path(here), f.MESSAGES["unknown"], "unknown"))
        elif slot.kind == "container":
            if isinstance(value, dict):
                _check_shape(slot.shape, value, here, errors)
            elif value is not None:
                errors.append(FieldError(show_path(here), f.MESSAGES["type_group"], "type"))
        elif slot.kind == "list":
            if isinstance(value, list):
                for index, item in enumerate(value):
                    if isinstance(item, dict):
                        _check_shape(slot.shape, item, (*here, index), errors)
                    else:
                        errors.append(FieldError(show_path((*here, index)), f.MESSAGES["type_entry"], "type"))
            elif value is not None:
                errors.append(FieldError(show_path(here), f.MESSAGES["type_list"], "type"))


def _prefill(nodes: list[Node], source: Mapping, prefix: Path, result: dict) -> None:
    for node in nodes:
        path = prefix + node.segments
        value = get_path(source, path)
        if node.kind == "input" and value is not MISSING:
            set_path(result, path, copy.deepcopy(value))
        elif node.kind == "group":
            _prefill(node.children, source, path, result)
        elif node.kind == "list" and isinstance(value, list):
            set_path(result, path, [{} for _ in value])
            for index in range(len(value)):
                _prefill(node.children, source, (*path, index), result)
