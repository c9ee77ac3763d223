"""Run-time guards of the script sandbox: the names RestrictedPython's rewritten code calls.

Size checks on the operations that can build a huge object in one C call, which the time limit cannot
interrupt (`*`, `**`, `<<`, `%`, format widths, str padding/replace/join, round, sum, range, Decimal),
guarded attribute and item access, a `str.format` that resolves fields through those guards, in-place
operators, the restricted `__import__` C code needs, and `SAFE_BUILTINS`.  `GUARDS` is the namespace
the runner lays over every script's names; `DECIMAL_CONTEXT` is the decimal context scripts run under.
"""

from __future__ import annotations

import _string
import decimal
import functools
import operator
import re
import string
import types
from collections.abc import Callable, Iterable, Mapping
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

from RestrictedPython.Guards import full_write_guard, guarded_iter_unpack_sequence, guarded_unpack_sequence

from engine.spiff.sandbox_budget import CheckedType, check_text, checked_function
from engine.spiff.sandbox_policy import FORBIDDEN_ATTRIBUTES, refuse

__all__ = ["DECIMAL_CONTEXT", "GUARDS", "SAFE_BUILTINS"]

MAX_RANGE = 1_000_000  # items a range() may have
MAX_ITEMS = 1_000_000  # items a list/tuple repetition may produce
MAX_STRING = 10_000_000  # characters a string/bytes operation may produce
MAX_INT_BITS = 100_000  # bits of an int made by *, ** or << (big-int arithmetic runs in C, untraced)
MAX_DECIMAL_EXPONENT = 4_300  # int(Decimal("1e1000000")) takes half a minute in C; same bound as int/str
MAX_ROUND_DIGITS = 10_000  # round(5, -10**9) computes 10**(10**9)

_BIG_NUMBER = re.compile(r"\d{6,}")  # a width/precision of 100000 or more in a format spec
_BIG_PRINTF = re.compile(r"%(?:\([^)]*\))?[-#0 +]*(?:\d{6,}|\d*\.\d{6,})")  # same in a %-template

_SEQUENCES = (str, bytes, list, tuple)


def _check_repeat(seq: Any, times: Any) -> None:
    if isinstance(seq, _SEQUENCES) and isinstance(times, int):
        cap = MAX_STRING if isinstance(seq, (str, bytes)) else MAX_ITEMS
        if len(seq) * times > cap:
            refuse(f"the result of '*' would have more than {cap:,} items")


def _check_mul(a: Any, b: Any) -> None:
    if isinstance(a, int) and isinstance(b, int):
        if a.bit_length() + b.bit_length() > MAX_INT_BITS:
            refuse("the result of '*' would be too large a number")
    else:
        _check_repeat(a, b)
        _check_repeat(b, a)


def _mul(a: Any, b: Any) -> Any:
    _check_mul(a, b)
    return a * b


def _imul(a: Any, b: Any) -> Any:
    _check_mul(a, b)
    return operator.imul(a, b)


def _check_pow(base: Any, exp: Any) -> None:
    is_int = isinstance(base, int) and isinstance(exp, int)
    if is_int and exp > 0 and abs(base) > 1 and base.bit_length() * exp > MAX_INT_BITS:
        refuse("the result of '**' would be too large a number")


def _pow(base: Any, exp: Any) -> Any:
    _check_pow(base, exp)
    return base**exp


def _safe_pow(base: Any, exp: Any, mod: Any = None) -> Any:
    """The pow() builtin; the three-argument form stays small by construction."""
    return _pow(base, exp) if mod is None else pow(base, exp, mod)


def _lshift(a: Any, b: Any) -> Any:
    if isinstance(a, int) and isinstance(b, int) and a and b > 0 and a.bit_length() + b > MAX_INT_BITS:
        refuse("the result of '<<' would be too large a number")
    return a << b


def _check_format_spec(spec: Any) -> None:
    if isinstance(spec, (str, bytes)):
        text = spec if isinstance(spec, str) else spec.decode("latin-1")
        if _BIG_NUMBER.search(text):
            refuse("a format width or precision is too large")


def _mod(a: Any, b: Any) -> Any:
    # printf-style formatting: widths in the template or passed for '*' are padding done in C.
    if isinstance(a, (str, bytes)):
        for value in b.values() if isinstance(b, dict) else b if isinstance(b, tuple) else (b,):
            check_text(value, "the '%' formatting")
        template = a if isinstance(a, str) else a.decode("latin-1")
        if _BIG_PRINTF.search(template.replace("%%", "")):
            refuse("a format width or precision is too large")
        if (b"*" if isinstance(a, bytes) else "*") in a:
            values = b if isinstance(b, tuple) else (b,)
            if any(isinstance(v, int) and abs(v) > MAX_STRING for v in values):
                refuse("a format width or precision is too large")
    return a % b


_CONVERSIONS: dict[int, Callable[[Any], str]] = {115: str, 114: repr, 97: ascii}


def _format_value(value: Any, conversion: int, spec: str) -> str:
    """f-string field: check the text it makes, apply !s/!r/!a, check the spec, format."""
    check_text(value, "the f-string")
    convert = _CONVERSIONS.get(conversion)
    if convert is not None:
        value = convert(value)
    _check_format_spec(spec)
    return format(value, spec)


def _safe_round(number: Any, ndigits: Any = None) -> Any:
    if isinstance(ndigits, int) and abs(ndigits) > MAX_ROUND_DIGITS:
        refuse(f"round() takes at most {MAX_ROUND_DIGITS:,} digits")
    return round(number, ndigits)


def _check_decimal(value: Decimal) -> Decimal:
    if value.is_finite() and abs(value.adjusted()) > MAX_DECIMAL_EXPONENT:
        refuse(f"Decimal numbers may have at most {MAX_DECIMAL_EXPONENT:,} digits")
    return value


class _DecimalClass:
    """`Decimal` as scripts see it: construction checks the size, isinstance() sees the real class.

    Decimal arithmetic is bounded by the sandbox's decimal context (see SandboxedEnvironment._run in
    sandbox.py), but the constructor is exact and ignores the context, so it is checked here.
    """

    def __call__(self, value: Any = "0", context: Any = None) -> Decimal:
        return _check_decimal(Decimal(value, context))

    def __instancecheck__(self, instance: Any) -> bool:
        return isinstance(instance, Decimal)

    def __subclasscheck__(self, subclass: type) -> bool:
        return issubclass(subclass, Decimal)

    def __getattr__(self, name: str) -> Any:  # Decimal.from_float and friends
        return getattr(Decimal, name)

    def __repr__(self) -> str:
        return repr(Decimal)


# Exponents beyond MAX_DECIMAL_EXPONENT overflow instead of building numbers int() chokes on.
DECIMAL_CONTEXT = decimal.Context(
    prec=28,
    Emax=MAX_DECIMAL_EXPONENT,
    Emin=-MAX_DECIMAL_EXPONENT,
    traps=[decimal.InvalidOperation, decimal.DivisionByZero, decimal.Overflow],
)


def _safe_sum(iterable: Iterable[Any], /, start: Any = 0) -> Any:
    """sum(); with a list or tuple start, C's sum copies the whole result per item (quadratic, untraced)."""
    if not isinstance(start, (list, tuple)):
        return sum(iterable, start)
    result = list(start)
    for item in iterable:
        if not isinstance(item, type(start)):
            raise TypeError(f'can only concatenate {type(start).__name__} (not "{type(item).__name__}")')
        result.extend(item)
        if len(result) > MAX_ITEMS:
            refuse(f"sum() would produce more than {MAX_ITEMS:,} items")
    return result if isinstance(start, list) else tuple(result)


def _safe_range(*args: int) -> range:
    result = range(*args)
    try:
        size = len(result)
    except OverflowError:
        size = MAX_RANGE + 1
    if size > MAX_RANGE:
        refuse(f"range() may have at most {MAX_RANGE:,} items")
    return result


def _guarded_getattr(obj: Any, name: str) -> Any:
    """`a.b` in sandboxed code: no private/dunder names, no introspection, str.format made safe."""
    if type(name) is not str:
        raise TypeError("attribute name must be a string")
    if isinstance(obj, CheckedType):  # `str.join`, `dict.fromkeys`: the type's own attribute, guarded
        obj = obj.wrapped
    if name.startswith("_") or name in FORBIDDEN_ATTRIBUTES:
        refuse(f"name '{name}' is not allowed")
    if isinstance(obj, (str, bytes)) or obj is str:
        wrapper = _STR_METHOD_GUARDS.get(name)
        if wrapper is not None and (name not in _STR_ONLY_METHODS or not isinstance(obj, bytes)):
            return wrapper if obj is str else functools.partial(wrapper, obj)
    return getattr(obj, name)


def _guarded_getitem(obj: Any, key: Any) -> Any:
    return obj[key]


class _SafeFormatter(string.Formatter):
    """str.format that resolves `{0.attr}` / `{0[key]}` through the sandbox guards."""

    def get_field(self, field_name: str, args: Any, kwargs: Any) -> Any:
        first, rest = _string.formatter_field_name_split(field_name)
        obj = self.get_value(first, args, kwargs)
        for is_attr, index in rest:
            obj = _guarded_getattr(obj, index) if is_attr else _guarded_getitem(obj, index)
        return obj, first

    def format_field(self, value: Any, format_spec: str) -> Any:
        check_text(value, "str.format()")
        _check_format_spec(format_spec)
        return format(value, format_spec)


_FORMATTER = _SafeFormatter()


def _str_format(template: str, /, *args: Any, **kwargs: Any) -> str:
    return _FORMATTER.vformat(template, args, kwargs)


def _str_format_map(template: str, mapping: Mapping[str, Any], /) -> str:
    return _FORMATTER.vformat(template, (), mapping)


def _str_pad(method: str) -> Callable[..., str]:
    def pad(s: str, width: int, *args: Any) -> str:
        if isinstance(width, int) and width > MAX_STRING:
            refuse(f"str.{method}() would produce more than {MAX_STRING:,} characters")
        return getattr(s, method)(width, *args)

    return pad


def _str_expandtabs(s: str, tabsize: int = 8) -> str:
    if isinstance(tabsize, int) and len(s) * max(tabsize, 1) > MAX_STRING:
        refuse(f"str.expandtabs() would produce more than {MAX_STRING:,} characters")
    return s.expandtabs(tabsize)


def _str_replace(s: str, old: str, new: str, count: int = -1) -> str:
    if isinstance(old, (str, bytes)) and isinstance(new, (str, bytes)) and len(new) > len(old):
        hits = s.count(old) if old else len(s) + 1
        if count >= 0:
            hits = min(hits, count)
        if len(s) + hits * (len(new) - len(old)) > MAX_STRING:
            refuse(f"str.replace() would produce more than {MAX_STRING:,} characters")
    return s.replace(old, new, count)


def _str_join(s: str, iterable: Iterable[Any]) -> str:
    items = list(iterable)
    size = len(s) * max(len(items) - 1, 0) + sum(len(i) for i in items if isinstance(i, (str, bytes)))
    if size > MAX_STRING:
        refuse(f"str.join() would produce more than {MAX_STRING:,} characters")
    return s.join(items)


# Methods of str (and, except the format ones, of bytes) that can build huge results in one C call,
# or reach attributes through a format string.
_STR_ONLY_METHODS = frozenset({"format", "format_map"})
_STR_METHOD_GUARDS: dict[str, Callable[..., Any]] = {
    "format": _str_format,
    "format_map": _str_format_map,
    "ljust": _str_pad("ljust"),
    "rjust": _str_pad("rjust"),
    "center": _str_pad("center"),
    "zfill": _str_pad("zfill"),
    "expandtabs": _str_expandtabs,
    "replace": _str_replace,
    "join": _str_join,
}


class _DroppedPrint:
    """`print()` in scripts (RestrictedPython's `_print_`): there is no console, so output is dropped.

    RestrictedPython's own PrintCollector keeps every line, which a printing loop turns into a memory
    bomb, and honours `file=`, which calls `.write` on whatever object the script passes.
    """

    def __init__(self, _getattr_: Any = None) -> None:
        pass

    def __call__(self) -> str:  # the `printed` name
        return ""

    def _call_print(self, *objects: Any, **kwargs: Any) -> None:
        pass


def _apply(func: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    return func(*args, **kwargs)


_INPLACE_OPERATORS: dict[str, Callable[[Any, Any], Any]] = {
    "+=": operator.iadd,
    "-=": operator.isub,
    "*=": _imul,
    "/=": operator.itruediv,
    "//=": operator.ifloordiv,
    "%=": _mod,
    "**=": _pow,
    "<<=": _lshift,
    ">>=": operator.irshift,
    "&=": operator.iand,
    "|=": operator.ior,
    "^=": operator.ixor,
    "@=": operator.imatmul,
}


def _inplacevar(op: str, target: Any, value: Any) -> Any:
    """`x += y` and friends on plain names (RestrictedPython refuses them on attributes and items)."""
    operation = _INPLACE_OPERATORS.get(op)
    if operation is None:
        refuse(f"operator '{op}' is not allowed")
    return operation(target, value)


# Some C functions import a module through the *calling frame's* builtins: datetime.strftime imports
# `time`, datetime.strptime imports `_strptime`.  Scripts cannot name `__import__` (compile-time rule), so
# this is reachable from C code only, and then only for the modules those functions need.
_C_IMPORTS = frozenset({"time", "_strptime"})


def _internal_import(
    name: str, globals: Any = None, locals: Any = None, fromlist: Any = (), level: int = 0
) -> types.ModuleType:
    if level != 0 or name not in _C_IMPORTS:
        raise ImportError(f"importing '{name}' is not allowed in scripts")
    return __import__(name, globals, locals, fromlist, level)


_EXCEPTIONS = (
    ArithmeticError,
    AssertionError,
    AttributeError,
    Exception,
    IndexError,
    KeyError,
    LookupError,
    NameError,
    NotImplementedError,
    OverflowError,
    RecursionError,
    RuntimeError,
    StopIteration,
    TypeError,
    UnicodeError,
    ValueError,
    ZeroDivisionError,
)


def _check_str_argument(value: Any = "", *args: Any, **kwargs: Any) -> None:
    check_text(value, "str()")


SAFE_BUILTINS: Mapping[str, Any] = types.MappingProxyType(
    {
        "None": None,
        "True": True,
        "False": False,
        "abs": abs,
        "all": all,
        "any": any,
        "bool": bool,
        "callable": callable,
        "chr": chr,
        "dict": CheckedType(dict),
        "divmod": divmod,
        "enumerate": enumerate,
        "filter": filter,
        "float": float,
        "frozenset": CheckedType(frozenset),
        "int": int,
        "isinstance": isinstance,
        "len": len,
        "list": CheckedType(list),
        "map": map,
        "max": max,
        "min": min,
        "ord": ord,
        "pow": _safe_pow,
        "range": _safe_range,
        "repr": checked_function(repr, lambda value: check_text(value, "repr()")),
        "reversed": reversed,
        "round": _safe_round,
        "set": CheckedType(set),
        "slice": slice,
        "sorted": checked_function(sorted),
        "str": CheckedType(str, _check_str_argument),
        "sum": _safe_sum,
        "tuple": CheckedType(tuple),
        "zip": zip,
        "date": date,
        "datetime": datetime,
        "timedelta": timedelta,
        "timezone": timezone,
        "Decimal": _DecimalClass(),
        "__import__": _internal_import,
        **{exc.__name__: exc for exc in _EXCEPTIONS},
    }
)

# Applied last to every namespace, so task data can never replace a guard.
GUARDS: dict[str, Any] = {
    "__builtins__": dict(SAFE_BUILTINS),
    "__name__": "bpmn_script",
    "_getattr_": _guarded_getattr,
    "_getitem_": _guarded_getitem,
    "_getiter_": iter,
    "_iter_unpack_sequence_": guarded_iter_unpack_sequence,
    "_unpack_sequence_": guarded_unpack_sequence,
    "_write_": full_write_guard,
    "_inplacevar_": _inplacevar,
    "_apply_": _apply,
    "_print_": _DroppedPrint,
    "_mul_": _mul,
    "_pow_": _pow,
    "_lshift_": _lshift,
    "_mod_": _mod,
    "_format_": _format_value,
    "_tick_": None,  # loaded once per `while` iteration, see sandbox_policy._SandboxPolicy.visit_While
}
