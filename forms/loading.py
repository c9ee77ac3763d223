"""Reading form-js files: bytes or text in, a checked JSON object out."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from forms.errors import FormDefinitionInvalid


def load_form(text: bytes | str, filename: str = "") -> dict:
    """Parse a form-js file; refuse anything that is not a JSON object with an id and components."""
    name = f"The form file {filename!r}" if filename else "The form definition"
    if not isinstance(text, str | bytes):
        raise FormDefinitionInvalid([f"{name} must be JSON text, not {type(text).__name__}."])
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8-sig")
        except UnicodeDecodeError as err:
            raise FormDefinitionInvalid([f"{name} is not UTF-8 text ({err.reason})."]) from None
    try:
        schema = json.loads(text, object_pairs_hook=_no_duplicate_names, parse_constant=_no_constant)
    except json.JSONDecodeError as err:
        raise FormDefinitionInvalid(
            [f"{name} is not valid JSON: {err.msg} at line {err.lineno}, column {err.colno}."]
        ) from None
    except ValueError as err:
        raise FormDefinitionInvalid([f"{name} is not valid JSON: {err}."]) from None
    except RecursionError:
        raise FormDefinitionInvalid([f"{name} is nested too deeply to be a form."]) from None
    if not isinstance(schema, dict):
        raise FormDefinitionInvalid([f"{name} must be a JSON object, not {json_kind(schema)}."])
    problems = root_problems(schema, name)
    if problems:
        raise FormDefinitionInvalid(problems)
    return schema


def root_problems(schema: Mapping[str, Any], name: str) -> list[str]:
    """Problems with the top level of a form: its id and its components list."""
    problems = []
    form_id = schema.get("id")
    if not isinstance(form_id, str) or not form_id.strip():
        problems.append(f'{name} has no "id"; a BPMN user task names the form by this id (its formKey).')
    if not isinstance(schema.get("components"), list):
        problems.append(f'{name} needs "components" to be a list of form components.')
    return problems


def _no_duplicate_names(pairs: list[tuple[str, Any]]) -> dict:
    # json.loads would silently keep the last of two equal names; an editor never writes that.
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise ValueError(f"the name {key!r} appears twice in one object")
        result[key] = value
    return result


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON value")


def json_kind(value: Any) -> str:
    """What a JSON value is, in words for a problem sentence."""
    if isinstance(value, list):
        return "a list"
    if isinstance(value, str):
        return "a string"
    if value is None:
        return "null"
    if isinstance(value, bool | int | float):
        return "a number" if not isinstance(value, bool) else "a boolean"
    return "a " + type(value).__name__
