"""Hostile form data: Hypothesis throws generated submissions at every form the library ships.

For each form (forms/*.form.json and the test forms with groups, lists and conditions), submissions mix values
of the right kind, values just outside the rules and arbitrary JSON. Whatever comes in, the validator either
returns cleaned values or raises `SubmissionInvalid` with a message per field: never another exception. And
every value it accepts is valid by the form's own JSON, checked here independently of forms/: the right type
for its component, within min/max and the length limits, matching its pattern, one of the offered options,
a date or time in the component's format; no name the form does not have; every required field there.

Derandomized (the same submissions every run), GOVFLOW_FORM_EXAMPLES per form (default 40).
"""

from __future__ import annotations

import json
import math
import os
import re
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from forms import SubmissionInvalid, compile_form, load_form
from tests.conftest import DATA, ROOT

EXAMPLES = int(os.environ.get("GOVFLOW_FORM_EXAMPLES", "40"))
FORM_FILES = sorted((ROOT / "forms").glob("*.form.json")) + sorted((DATA / "forms").glob("*.json"))
TEXT = {"textfield", "textarea"}
CHOICE = {"select", "radio"}
CHOICES = {"checklist", "taglist"}
FORMATS = {
    "date": r"\d{4}-\d{2}-\d{2}",
    "time": r"\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?(Z|[+-]\d{2}:\d{2})?",
    "datetime": r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?(Z|[+-]\d{2}:\d{2})?",
}
EMAIL = r"[^@\s]+@[^@\s]+"
PHONE = r"(\+|00)[1-9][0-9]{6,19}"

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=30),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=8,
)


def components(schema: dict, prefix: tuple = (), in_list: bool = False, guarded: bool = False) -> Iterator[tuple]:
    """(path, component, inside a dynamic list, under a condition or read-only) for every input of the form."""
    for comp in schema.get("components", []):
        kind = comp.get("type")
        hidden = guarded or bool(comp.get("conditional")) or bool(comp.get("readonly")) or bool(comp.get("disabled"))
        if kind == "group":
            path = prefix + tuple(comp["path"].split(".")) if comp.get("path") else prefix
            yield from components(comp, path, in_list, hidden)
        elif kind == "dynamiclist":
            yield prefix + tuple(comp["path"].split(".")), comp, in_list, hidden
        elif comp.get("key") and kind not in {"button", "text", "html", "spacer", "separator", "image", "table"}:
            yield prefix + tuple(comp["key"].split(".")), comp, in_list, hidden


def good_value(comp: dict) -> st.SearchStrategy:
    """Values of the right kind for a component, often at or just beyond its rules."""
    kind, rules = comp.get("type"), comp.get("validate") or {}
    options = [v["value"] for v in comp.get("values") or []]
    if kind in TEXT:
        return st.text(min_size=0, max_size=(rules.get("maxLength") or 40) + 3)
    if kind == "number":
        low, high = bound(rules, "min", -1000), bound(rules, "max", 10**6)
        return st.integers(low - 2, high + 2) | st.floats(low - 1, high + 1) | st.integers(low, high).map(str)
    if kind == "checkbox":
        return st.booleans() | st.sampled_from(["true", "false", "on", "yes", 1, 0])
    if kind in CHOICE:
        return st.sampled_from(options) if options else st.text(max_size=10)
    if kind in CHOICES:
        return st.lists(st.sampled_from(options) if options else st.text(max_size=5), max_size=4)
    if kind == "datetime":
        return st.sampled_from(
            ["2026-12-05", "2026-02-30", "12:30", "25:61", "2026-12-05T09:30", "2026-12-05T09:30:00+08:00", "昨天"]
        )
    return JSON


def bound(rules: dict, name: str, otherwise: float) -> Any:
    """A numeric min/max; a FEEL one (`=votesTotal`) reads other fields, so it is not checked here."""
    value = rules.get(name)
    return value if isinstance(value, int | float) and not isinstance(value, bool) else otherwise


def submissions(schema: dict) -> st.SearchStrategy:
    fields = {".".join(map(str, path)): comp for path, comp, in_list, _ in components(schema) if not in_list}
    right = {key: good_value(comp) | JSON for key, comp in fields.items()}
    return (
        st.fixed_dictionaries({}, optional={k: v for k, v in right.items()}).map(nest)
        | st.dictionaries(st.sampled_from([*fields, "unknown", "__proto__"]), JSON, max_size=6).map(nest)
        | JSON
    )


def nest(flat: dict) -> dict:
    """{"a.b": 1} as {"a": {"b": 1}} (group paths), leaving clashes as they fall."""
    result: dict = {}
    for key, value in flat.items():
        *parents, last = key.split(".")
        node = result
        for part in parents:
            node = node.setdefault(part, {}) if isinstance(node.get(part, {}), dict) else {}
        node[last] = value
    return result


def lookup(data: Any, path: tuple) -> Any:
    for part in path:
        if not isinstance(data, dict) or part not in data:
            return KeyError
        data = data[part]
    return data


def number_of(value: Any) -> Decimal:
    if isinstance(value, str):
        value = value.strip()
    assert not isinstance(value, bool)
    number = Decimal(str(value))
    assert number.is_finite()
    return number


def check_accepted(schema: dict, cleaned: dict) -> None:
    """Every accepted value satisfies the form's JSON (independently of forms/)."""
    assert isinstance(cleaned, dict)
    json.dumps(cleaned)  # storable as task data
    known = {path[0] for path, *_ in components(schema)} | {
        c["key"] for c in schema.get("components", []) if c.get("type") == "expression" and c.get("key")
    }
    assert set(cleaned) <= known, f"names the form does not have: {set(cleaned) - known}"
    for path, comp, in_list, guarded in components(schema):
        if in_list:
            continue
        value = lookup(cleaned, path)
        rules = comp.get("validate") or {}
        if value is KeyError:
            assert not (rules.get("required") and not guarded), f"required {path} missing from {cleaned}"
            continue
        check_value(comp, rules, value, path)


def check_value(comp: dict, rules: dict, value: Any, path: tuple) -> None:
    kind = comp.get("type")
    options = [v["value"] for v in comp.get("values") or []]
    empty = value is None or value == "" or value == []
    assert not (empty and rules.get("required")), f"required {path} accepted empty"
    if empty:
        return
    if kind in TEXT:
        assert isinstance(value, str), (path, value)
        assert bound(rules, "minLength", 0) <= len(value) <= bound(rules, "maxLength", math.inf), (path, value)
        if rules.get("pattern"):
            assert re.search(rules["pattern"], value), (path, value)
        if rules.get("validationType") == "email":
            assert re.fullmatch(EMAIL, value), (path, value)
        if rules.get("validationType") == "phone":
            assert re.fullmatch(PHONE, value), (path, value)
    elif kind == "number":
        assert isinstance(value, str) if comp.get("serializeToString") else isinstance(value, int | float), value
        number = number_of(value)
        assert bound(rules, "min", -math.inf) <= number <= bound(rules, "max", math.inf), (path, value)
    elif kind == "checkbox":
        assert isinstance(value, bool), (path, value)
    elif kind in CHOICE and options:
        assert value in options, (path, value)
    elif kind in CHOICES and options:
        assert isinstance(value, list) and all(v in options for v in value) and len(set(map(str, value))) == len(value)
    elif kind == "datetime":
        assert isinstance(value, str) and re.fullmatch(FORMATS[comp.get("subtype", "datetime")], value), (path, value)
    elif kind == "dynamiclist":
        assert isinstance(value, list) and all(isinstance(entry, dict) for entry in value), (path, value)
        for entry in value:
            for inner_path, inner, _, guarded in components(comp):
                inner_value = lookup(entry, inner_path)
                inner_rules = inner.get("validate") or {}
                if inner_value is KeyError:
                    assert not (inner_rules.get("required") and not guarded), (path, inner_path, entry)
                else:
                    check_value(inner, inner_rules, inner_value, path + inner_path)


@pytest.mark.parametrize("form_file", FORM_FILES, ids=lambda p: p.name.removesuffix(".json").removesuffix(".form"))
def test_a_generated_submission_is_cleaned_into_valid_values_or_refused_field_by_field(form_file: Path) -> None:
    schema = json.loads(form_file.read_text(encoding="utf-8"))
    form = compile_form(load_form(form_file.read_bytes()))

    @settings(
        max_examples=EXAMPLES,
        derandomize=True,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(data=submissions(schema))
    def validate(data: Any) -> None:
        try:
            cleaned = form.validate(data)
        except SubmissionInvalid as refused:
            assert refused.errors
            assert all(isinstance(e.field, str) and isinstance(e.message, str) and e.message for e in refused.errors)
            return
        check_accepted(schema, cleaned)

    validate()
