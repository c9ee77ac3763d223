"""Marshmallow fields and validators for the value-carrying form-js components.

Each field turns one submitted, non-empty value into its clean form or raises a marshmallow
`ValidationError` whose messages are `Coded` strings: plain English sentences that also carry the
stable error code. Emptiness, `required`, visibility and read-only handling are decided by the
form (see `compiled.py`), because they depend on the rest of the submission.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Iterable, Sequence
from decimal import Decimal, InvalidOperation
from typing import Any

from marshmallow import ValidationError
from marshmallow import fields as mf
from marshmallow.validate import Validator

# One sentence per code, so messages stay consistent and the web layer can translate by code.
MESSAGES = {
    "required": "This field is required.",
    "min": "The value must be at least {min}.",
    "max": "The value must be at most {max}.",
    "min_length": "Enter at least {min} characters.",
    "max_length": "Enter at most {max} characters.",
    "pattern": "The value does not have the expected format.",
    "email": "Enter a valid email address.",
    "phone": "Enter a valid international phone number, e.g. +8613812345678.",
    "choice": "Choose one of the offered options.",
    "choices": "Choose only from the offered options.",
    "unknown": "This field is not on the form.",
    "date": "Enter a date as YYYY-MM-DD.",
    "time": "Enter a time as HH:MM.",
    "datetime": "Enter a date and time as YYYY-MM-DDTHH:MM.",
    "type_text": "Enter text.",
    "type_number": "Enter a number.",
    "type_checkbox": "This field must be true or false.",
    "type_choice": "Choose a single option.",
    "type_choices": "Choose a list of options.",
    "type_group": "This group must be an object of fields.",
    "type_list": "This list must be a list of entries.",
    "type_entry": "Each entry must be an object of fields.",
    "type_form": "The submission must be a JSON object of fields.",
    "type_json": "This value cannot be stored as JSON.",
    "too_deep": "The submission is nested too deeply.",
}

# The WHATWG "valid e-mail address" grammar, which is also what form-js checks in the browser.
_EMAIL = re.compile(
    r"[a-zA-Z0-9.!#$%&'*+/=?^_`{|}~-]+@[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?"
    r"(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)*"
)
# International format as form-js asks for it: "+" or "00", then country code and number.
_PHONE = re.compile(r"(?:\+|00)[1-9][0-9]{6,19}")
_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")
_TIME = r"(?P<h>\d{2}):(?P<m>\d{2})(?::(?P<s>\d{2})(?:\.\d{1,6})?)?(?P<tz>Z|[+-]\d{2}:\d{2})?"
_DATE = r"(?P<date>\d{4}-\d{2}-\d{2})"
_DATETIME_FORMATS = {
    "date": re.compile(_DATE, re.ASCII),
    "time": re.compile(_TIME, re.ASCII),
    "datetime": re.compile(_DATE + "T" + _TIME, re.ASCII),
}
_TRUE = {"true", "on", "1"}
_FALSE = {"false", "off", "0"}
MAX_NUMBER_TEXT = 100  # longer numeric strings are refused before Decimal works on them
MAX_EXPONENT = 300  # keeps int() and float() conversions cheap and finite


class Coded(str):
    """A message string that also carries its stable error code (and the numbers it names)."""

    code: str
    params: dict[str, Any]

    def __new__(cls, message: str, code: str, params: dict[str, Any] | None = None) -> Coded:
        obj = super().__new__(cls, message)
        obj.code = code
        obj.params = params or {}
        return obj


def invalid(code: str, message_key: str | None = None, **params: Any) -> ValidationError:
    """A ValidationError with one coded message; `message_key` picks a more specific sentence."""
    shown = {k: show_number(v) for k, v in params.items()}
    return ValidationError(Coded(MESSAGES[message_key or code].format(**shown), code, shown))


def show_number(value: Any) -> Any:
    """Numbers as a person writes them: 10, 2.5, never 1E+1."""
    if isinstance(value, Decimal):
        return format(value.normalize(), "f")
    return value


def parse_number(value: Any) -> Decimal | None:
    """A JSON number or numeric string as Decimal; None if it is not a sensible finite number."""
    if isinstance(value, bool):
        return None  # JSON true/false is not a number, even though Python says bool is an int
    if isinstance(value, int):
        number = Decimal(value)
    elif isinstance(value, float):
        number = Decimal(repr(value))
    elif isinstance(value, Decimal):
        number = value
    elif isinstance(value, str):
        text = value.strip()
        if len(text) > MAX_NUMBER_TEXT or not _NUMBER.fullmatch(text):
            return None
        try:
            number = Decimal(text)
        except InvalidOperation:
            return None
    else:
        return None
    if not number.is_finite() or (number and abs(number.adjusted()) > MAX_EXPONENT):
        return None
    return number


def json_number(number: Decimal) -> int | float:
    """The plain JSON number for a Decimal: int when whole, float otherwise."""
    if number == number.to_integral_value():
        return int(number)
    return float(number)


# --- validators ------------------------------------------------------------------------------


class Length(Validator):
    """minLength / maxLength, counted on the trimmed text as form-js does in the browser."""

    def __init__(self, min: int | None = None, max: int | None = None) -> None:
        self.min, self.max = min, max

    def __call__(self, value: str) -> str:
        length = len(value.strip())
        if self.min is not None and length < self.min:
            raise invalid("min_length", min=self.min)
        if self.max is not None and length > self.max:
            raise invalid("max_length", max=self.max)
        return value


class Range(Validator):
    """min / max for numbers, inclusive."""

    def __init__(self, min: Decimal | None = None, max: Decimal | None = None) -> None:
        self.min, self.max = min, max

    def __call__(self, value: Decimal) -> Decimal:
        if self.min is not None and value < self.min:
            raise invalid("min", min=self.min)
        if self.max is not None and value > self.max:
            raise invalid("max", max=self.max)
        return value


class Pattern(Validator):
    """validate.pattern; like JavaScript's RegExp.test it searches, so anchors are the author's job."""

    def __init__(self, regex: re.Pattern[str]) -> None:
        self.regex = regex

    def __call__(self, value: str) -> str:
        if not self.regex.search(value):
            raise invalid("pattern")
        return value


class Email(Validator):
    def __call__(self, value: str) -> str:
        if not _EMAIL.fullmatch(value):
            raise invalid("email")
        return value


class Phone(Validator):
    def __call__(self, value: str) -> str:
        if not _PHONE.fullmatch(value):
            raise invalid("phone")
        return value


# --- fields ----------------------------------------------------------------------------------


class FormJsField(mf.Field):
    """Base of the form-js fields; the form only hands them non-empty values."""

    def __init__(self, validators: Iterable[Validator] = ()) -> None:
        super().__init__(validate=list(validators))


class Text(FormJsField):
    """textfield and textarea: a string, kept as submitted."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        if not isinstance(value, str):
            raise invalid("type", "type_text")
        return value


class Number(FormJsField):
    """number: JSON numbers and numeric strings; the result is a JSON number (or string, if asked)."""

    def __init__(self, validators: Iterable[Validator] = (), as_string: bool = False) -> None:
        super().__init__(validators)
        self.as_string = as_string  # form-js `serializeToString`: keep digits exact as text

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Decimal:
        number = parse_number(value)
        if number is None:
            raise invalid("type", "type_number")
        return number

    def deserialize(self, value: Any, attr: str | None = None, data: Any = None, **kwargs: Any) -> Any:
        # Validators compare Decimals; the caller gets a JSON-safe value.
        number = super().deserialize(value, attr, data, **kwargs)
        if self.as_string:
            return value.strip() if isinstance(value, str) else show_number(number)
        return json_number(number)


class Checkbox(FormJsField):
    """checkbox: a boolean; "true"/"false" strings (as HTML posts send them) are accepted too."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
            return value.strip().lower() in _TRUE
        raise invalid("type", "type_checkbox")


def _is_scalar(value: Any) -> bool:
    if isinstance(value, float):
        return math.isfinite(value)  # Python's json accepts NaN and Infinity; JSON columns do not
    return isinstance(value, str | int | bool)


def is_json_value(value: Any) -> bool:
    """Whether a value can be stored as strict JSON (finite numbers, string keys)."""
    if value is None or _is_scalar(value):
        return True
    if isinstance(value, list):
        return all(is_json_value(v) for v in value)
    if isinstance(value, dict):
        return all(isinstance(k, str) and is_json_value(v) for k, v in value.items())
    return False


def same_value(a: Any, b: Any) -> bool:
    # 1 and True are equal in Python but not in JSON; keep them apart.
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if isinstance(a, str) != isinstance(b, str):
        return False
    return a == b


def _pick(options: Sequence[Any] | None, value: Any) -> tuple[bool, Any]:
    if options is None:  # dynamic options (valuesKey / valuesExpression): any scalar goes
        return True, value
    for option in options:
        if same_value(option, value):
            return True, option
    return False, None


class Choice(FormJsField):
    """select and radio: one scalar, one of the static options when the form lists them."""

    def __init__(self, options: Sequence[Any] | None) -> None:
        super().__init__()
        self.options = options

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        if not _is_scalar(value):
            raise invalid("type", "type_choice")
        found, option = _pick(self.options, value)
        if not found:
            raise invalid("choice")
        return option


class MultiChoice(FormJsField):
    """checklist and taglist: a list of scalars, each one of the static options if listed."""

    def __init__(self, options: Sequence[Any] | None) -> None:
        super().__init__()
        self.options = options

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> list[Any]:
        if not isinstance(value, list) or not all(_is_scalar(v) for v in value):
            raise invalid("type", "type_choices")
        chosen: list[Any] = []
        for item in value:
            found, option = _pick(self.options, item)
            if not found:
                raise invalid("choice", "choices")
            if not any(same_value(option, c) for c in chosen):  # a double tick means the same thing
                chosen.append(option)
        return chosen


class DateTime(FormJsField):
    """datetime: an ISO 8601 string as form-js writes it for the subtype; kept as submitted."""

    def __init__(self, subtype: str) -> None:
        super().__init__()
        self.subtype = subtype

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        match = _DATETIME_FORMATS[self.subtype].fullmatch(value) if isinstance(value, str) else None
        if match is None or not _real_datetime(match):
            raise invalid(self.subtype)
        return value


def _real_datetime(match: re.Match[str]) -> bool:
    """Reject well-shaped but impossible values such as 2024-02-30 or 25:00."""
    parts = match.groupdict()
    try:
        if parts.get("date"):
            dt.date.fromisoformat(parts["date"])
        if parts.get("h") is not None:
            dt.time(int(parts["h"]), int(parts["m"]), int(parts["s"] or 0))
        tz = parts.get("tz")
        if tz and tz != "Z" and (int(tz[1:3]) > 23 or int(tz[4:6]) > 59):
            return False
    except ValueError:
        return False
    return True


def build_field(
    ctype: str, rules: dict[str, Any], options: list | None, subtype: Any, as_string: bool = False
) -> FormJsField:
    """The marshmallow field for one form-js input type, its static rules and static options."""
    if ctype in ("textfield", "textarea"):
        validators: list[Any] = []
        if "minLength" in rules or "maxLength" in rules:
            validators.append(Length(rules.get("minLength"), rules.get("maxLength")))
        if "pattern" in rules:
            validators.append(Pattern(rules["pattern"]))
        if rules.get("validationType") == "email":
            validators.append(Email())
        elif rules.get("validationType") == "phone":
            validators.append(Phone())
        return Text(validators)
    if ctype == "number":
        ranges = [Range(rules.get("min"), rules.get("max"))] if "min" in rules or "max" in rules else []
        return Number(ranges, as_string=as_string)
    if ctype == "checkbox":
        return Checkbox()
    values = [v for v, _ in options] if options is not None else None
    if ctype in ("select", "radio"):
        return Choice(values)
    if ctype in ("checklist", "taglist"):
        return MultiChoice(values)
    return DateTime(subtype if isinstance(subtype, str) and subtype in _DATETIME_FORMATS else "datetime")
