"""The one restricted script engine govflow gives SpiffWorkflow.

Every script task, pre/post-script, gateway condition, DMN cell and timer expression of a deployed
procedure runs through `SandboxedScriptEngine`.  SpiffWorkflow's own `PythonScriptEngine` hands the text
to `eval`/`exec` with full builtins, which would let any procedure designer run arbitrary code on the
server; here the text is compiled by RestrictedPython under a stricter policy and runs with a small set
of builtins, guarded attribute/item access, size caps on the cheap memory bombs and a wall-clock limit.

Semantics follow SpiffWorkflow's `TaskDataEnvironment`: task data variables are names, assignments become
task data, `external_context` (DMN's `dmninputexpr`, data objects) is visible but never written back.

Not covered: memory a script piles up step by step inside its time budget (e.g. appending 1 MB strings
in a loop); the caps only stop single operations that would build a huge object in one C call.
"""

from __future__ import annotations

import _string
import ast
import copy
import decimal
import functools
import operator
import re
import string
import sys
import textwrap
import time
import types
from collections.abc import Callable, Iterable, Mapping
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any, NoReturn

from RestrictedPython import RestrictingNodeTransformer, compile_restricted_eval, compile_restricted_exec
from RestrictedPython.Guards import full_write_guard, guarded_iter_unpack_sequence, guarded_unpack_sequence
from RestrictedPython.transformer import INSPECT_ATTRIBUTES, copy_locations
from SpiffWorkflow.bpmn.exceptions import WorkflowTaskException
from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine, TaskDataEnvironment
from SpiffWorkflow.exceptions import SpiffWorkflowException

__all__ = [
    "SandboxedScriptEngine",
    "SandboxedEnvironment",
    "ScriptRefusedError",
    "check_expression",
    "check_script",
]

# Sandboxed code objects carry this file name: the tracer recognises their frames by it and error line
# numbers are taken from the innermost frame that has it.
SCRIPT_FILENAME = "<bpmn-script>"

MAX_RANGE = 1_000_000  # items a range() may have
MAX_ITEMS = 1_000_000  # items a list/tuple repetition may produce
MAX_STRING = 10_000_000  # characters a string/bytes operation may produce
MAX_INT_BITS = 100_000  # bits of an int made by *, ** or << (big-int arithmetic runs in C, untraced)
MAX_DECIMAL_EXPONENT = 4_300  # int(Decimal("1e1000000")) takes half a minute in C; same bound as int/str
MAX_ROUND_DIGITS = 10_000  # round(5, -10**9) computes 10**(10**9)
MAX_DEPTH = 100  # nested calls of sandboxed functions (see _Tracer for why this is not left to Python)

# Names refused wherever they appear: they open the interpreter (code, namespaces, attribute access by
# string) and are never sensible task-data names.
_FORBIDDEN_NAMES = frozenset(
    {
        "exec",
        "eval",
        "compile",
        "globals",
        "locals",
        "vars",
        "getattr",
        "setattr",
        "delattr",
        "hasattr",
        "breakpoint",
        "memoryview",
        "super",
        "object",
        "classmethod",
        "staticmethod",
        "property",
        "exit",
        "quit",
        "BaseException",  # catching it would swallow the time-limit stop
        "SystemExit",
        "KeyboardInterrupt",
        "GeneratorExit",
    }
)
# Builtins refused only when called: designers legitimately name task data `type`, `id`, `input`, `open`
# (e.g. `type == "complaint"`), and reading such a variable is harmless.
_FORBIDDEN_CALLS = frozenset({"open", "type", "input", "help", "dir", "id", "iter", "next", "format"})
# Attributes without a leading underscore that still lead out of the sandbox.
_FORBIDDEN_ATTRIBUTES = INSPECT_ATTRIBUTES | {"mro"}

_LINE_PREFIX = re.compile(r"^Line (\d+|None): (.*)$", re.DOTALL)
_BIG_NUMBER = re.compile(r"\d{6,}")  # a width/precision of 100000 or more in a format spec
_BIG_PRINTF = re.compile(r"%(?:\([^)]*\))?[-#0 +]*(?:\d{6,}|\d*\.\d{6,})")  # same in a %-template


class ScriptRefusedError(Exception):
    """The sandbox refused a script or expression: compile-time rule, size cap or time limit.

    `message` is the full sentence shown to users ("Script refused: imports are not allowed (line 1)"),
    `reason` the part after "refused:" with the line ("imports are not allowed (line 1)"), `line` the
    1-based line in the source (None if unknown).
    """

    def __init__(self, message: str, line: int | None = None, reason: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.line = line
        self.reason = reason or message

    def __str__(self) -> str:
        return self.message


class _Stop(BaseException):
    """Raised inside sandboxed code to stop it.

    A BaseException, and the sandbox refuses bare `except:` and the BaseException name, so a script
    cannot catch it and carry on.  Converted to `ScriptRefusedError` once out of the sandbox.
    """

    def __init__(self, reason: str, timed_out: bool = False, line: int | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.timed_out = timed_out
        self.line = line


def _refuse(reason: str) -> NoReturn:
    raise _Stop(reason)


# --------------------------------------------------------------------------------------------------
# Compile-time policy
# --------------------------------------------------------------------------------------------------


class _SandboxPolicy(RestrictingNodeTransformer):
    """RestrictedPython's policy plus govflow's rules, with messages written for procedure designers."""

    def check_name(self, node: Any, name: str | None, allow_magic_methods: bool = False) -> None:
        if name is None:
            return
        if (name.startswith("_") and name != "_") or name in _FORBIDDEN_NAMES:
            self.error(node, f"name '{name}' is not allowed")
            return
        super().check_name(node, name, allow_magic_methods)

    def visit_Attribute(self, node: ast.Attribute) -> Any:
        if (node.attr.startswith("_") and node.attr != "_") or node.attr in _FORBIDDEN_ATTRIBUTES:
            self.visit(node.value)  # so that `().__class__.__base__` reports `__class__`, which comes first
            self.error(node, f"name '{node.attr}' is not allowed")
            return node
        return super().visit_Attribute(node)

    def visit_Call(self, node: ast.Call) -> Any:
        func = node.func
        if isinstance(func, ast.Name) and (func.id in _FORBIDDEN_CALLS or func.id in _FORBIDDEN_NAMES):
            self.error(node, f"calling '{func.id}' is not allowed")
            return node
        return super().visit_Call(node)

    def visit_Import(self, node: ast.Import) -> Any:
        self.error(node, "imports are not allowed")
        return node

    def visit_ImportFrom(self, node: ast.ImportFrom) -> Any:
        self.error(node, "imports are not allowed")
        return node

    # The next three would let code run after the time-limit stop was raised (tracing is off by then):
    # a `finally` block, a bare `except:` and a context manager's __exit__.
    def visit_Try(self, node: ast.Try) -> Any:
        if node.finalbody:
            self.error(node, "'try ... finally' is not allowed")
        for handler in node.handlers:
            if handler.type is None:
                self.error(handler, "a bare 'except:' is not allowed, name the exception class")
        return super().visit_Try(node)

    def visit_With(self, node: ast.With) -> Any:
        self.error(node, "'with' statements are not allowed")
        return node

    def visit_ClassDef(self, node: ast.ClassDef) -> Any:
        self.error(node, "class definitions are not allowed")
        return node

    def visit_Global(self, node: ast.Global) -> Any:
        for name in node.names:
            self.check_name(node, name)
        return super().visit_Global(node)

    def visit_While(self, node: ast.While) -> Any:
        # `while True: pass` compiles to a jump onto itself, for which CPython emits no 'line' trace
        # event, so the time limit would never fire.  A name load at the top of every loop body gives
        # each iteration a real backward jump (and `continue` lands on it too).
        node = super().visit_While(node)
        tick = ast.Expr(ast.Name("_tick_", ast.Load()))
        copy_locations(tick, node)
        node.body.insert(0, tick)
        return node

    # Operators that can build huge objects in one C call (which the tracer cannot interrupt) are routed
    # through guards that check the result size first.
    _GUARDED_BINOPS: dict[type, str] = {
        ast.Mult: "_mul_",
        ast.Pow: "_pow_",
        ast.LShift: "_lshift_",
        ast.Mod: "_mod_",
    }

    def visit_BinOp(self, node: ast.BinOp) -> Any:
        node = super().visit_BinOp(node)
        guard = self._GUARDED_BINOPS.get(type(node.op))
        if guard is None:
            return node
        call = ast.Call(func=ast.Name(guard, ast.Load()), args=[node.left, node.right], keywords=[])
        copy_locations(call, node)
        return call

    def visit_FormattedValue(self, node: ast.FormattedValue) -> Any:
        # f"{x:>{n}}" pads in C; route values with a format spec through _format_, which checks the spec.
        node = super().visit_FormattedValue(node)
        if node.format_spec is None:
            return node
        call = ast.Call(
            func=ast.Name("_format_", ast.Load()),
            args=[node.value, ast.Constant(node.conversion), node.format_spec],
            keywords=[],
        )
        copy_locations(call, node.value)
        node.value, node.conversion, node.format_spec = call, -1, None
        return node


@functools.lru_cache(maxsize=4096)
def _compile(source: str, mode: str) -> types.CodeType | ScriptRefusedError:
    """Compile once per distinct source text; refusals are cached as well (returned, not raised)."""
    kind = "Script" if mode == "exec" else "Expression"
    try:
        tree = ast.parse(source, SCRIPT_FILENAME, mode)
    except SyntaxError as err:
        reason = f"syntax error: {err.msg} (line {err.lineno})"
        return ScriptRefusedError(f"{kind} has a {reason}", err.lineno, reason)
    compiler = compile_restricted_exec if mode == "exec" else compile_restricted_eval
    result = compiler(tree, filename=SCRIPT_FILENAME, policy=_SandboxPolicy)
    if result.errors:
        match = _LINE_PREFIX.match(result.errors[0])
        line_text, reason = match.groups() if match else ("None", result.errors[0])
        line = int(line_text) if line_text.isdigit() else None
        reason = reason.rstrip(".")
        reason += f" (line {line})" if line else ""
        return ScriptRefusedError(f"{kind} refused: {reason}", line, reason)
    assert result.code is not None
    return result.code


def _script_source(script: str | None) -> str:
    # BPMN editors and pretty-printed XML indent script bodies; dedenting keeps line numbers.
    return textwrap.dedent(script or "")


def _expression_source(expression: str) -> str:
    # `eval` ignores surrounding blanks; conditions in XML often come with newlines around them.
    return expression.strip()


def _compile_or_raise(source: str, mode: str) -> types.CodeType:
    compiled = _compile(source, mode)
    if isinstance(compiled, ScriptRefusedError):
        # A fresh exception each time: the cached one must not collect tracebacks across calls.
        raise ScriptRefusedError(compiled.message, compiled.line, compiled.reason)
    return compiled


def check_expression(source: str) -> str | None:
    """Deploy-time check: None if `source` compiles as a sandboxed expression, else why not.

    The answer reads after "... is refused: ", e.g. "name '__class__' is not allowed (line 1)".
    """
    compiled = _compile(_expression_source(source or ""), "eval")
    return compiled.reason if isinstance(compiled, ScriptRefusedError) else None


def check_script(source: str) -> str | None:
    """Deploy-time check: None if `source` compiles as a sandboxed script, else why not (as above)."""
    compiled = _compile(_script_source(source), "exec")
    return compiled.reason if isinstance(compiled, ScriptRefusedError) else None


# --------------------------------------------------------------------------------------------------
# Run-time guards (the names RestrictedPython's rewritten code calls)
# --------------------------------------------------------------------------------------------------

_SEQUENCES = (str, bytes, list, tuple)


def _check_repeat(seq: Any, times: Any) -> None:
    if isinstance(seq, _SEQUENCES) and isinstance(times, int):
        cap = MAX_STRING if isinstance(seq, (str, bytes)) else MAX_ITEMS
        if len(seq) * times > cap:
            _refuse(f"the result of '*' would have more than {cap:,} items")


def _check_mul(a: Any, b: Any) -> None:
    if isinstance(a, int) and isinstance(b, int):
        if a.bit_length() + b.bit_length() > MAX_INT_BITS:
            _refuse("the result of '*' would be too large a number")
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
        _refuse("the result of '**' would be too large a number")


def _pow(base: Any, exp: Any) -> Any:
    _check_pow(base, exp)
    return base**exp


def _safe_pow(base: Any, exp: Any, mod: Any = None) -> Any:
    """The pow() builtin; the three-argument form stays small by construction."""
    return _pow(base, exp) if mod is None else pow(base, exp, mod)


def _lshift(a: Any, b: Any) -> Any:
    if isinstance(a, int) and isinstance(b, int) and a and b > 0 and a.bit_length() + b > MAX_INT_BITS:
        _refuse("the result of '<<' would be too large a number")
    return a << b


def _check_format_spec(spec: Any) -> None:
    if isinstance(spec, (str, bytes)):
        text = spec if isinstance(spec, str) else spec.decode("latin-1")
        if _BIG_NUMBER.search(text):
            _refuse("a format width or precision is too large")


def _mod(a: Any, b: Any) -> Any:
    # printf-style formatting: widths in the template or passed for '*' are padding done in C.
    if isinstance(a, (str, bytes)):
        template = a if isinstance(a, str) else a.decode("latin-1")
        if _BIG_PRINTF.search(template.replace("%%", "")):
            _refuse("a format width or precision is too large")
        if (b"*" if isinstance(a, bytes) else "*") in a:
            values = b if isinstance(b, tuple) else (b,)
            if any(isinstance(v, int) and abs(v) > MAX_STRING for v in values):
                _refuse("a format width or precision is too large")
    return a % b


_CONVERSIONS: dict[int, Callable[[Any], str]] = {115: str, 114: repr, 97: ascii}


def _format_value(value: Any, conversion: int, spec: str) -> str:
    """f-string field with a format spec: apply !s/!r/!a, check the spec, format."""
    convert = _CONVERSIONS.get(conversion)
    if convert is not None:
        value = convert(value)
    _check_format_spec(spec)
    return format(value, spec)


def _safe_round(number: Any, ndigits: Any = None) -> Any:
    if isinstance(ndigits, int) and abs(ndigits) > MAX_ROUND_DIGITS:
        _refuse(f"round() takes at most {MAX_ROUND_DIGITS:,} digits")
    return round(number, ndigits)


def _check_decimal(value: Decimal) -> Decimal:
    if value.is_finite() and abs(value.adjusted()) > MAX_DECIMAL_EXPONENT:
        _refuse(f"Decimal numbers may have at most {MAX_DECIMAL_EXPONENT:,} digits")
    return value


class _DecimalClass:
    """`Decimal` as scripts see it: construction checks the size, isinstance() sees the real class.

    Decimal arithmetic is bounded by the sandbox's decimal context (see SandboxedEnvironment._run), but
    the constructor is exact and ignores the context, so it is checked here.
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
_DECIMAL_CONTEXT = decimal.Context(
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
            _refuse(f"sum() would produce more than {MAX_ITEMS:,} items")
    return result if isinstance(start, list) else tuple(result)


def _safe_range(*args: int) -> range:
    result = range(*args)
    try:
        size = len(result)
    except OverflowError:
        size = MAX_RANGE + 1
    if size > MAX_RANGE:
        _refuse(f"range() may have at most {MAX_RANGE:,} items")
    return result


def _guarded_getattr(obj: Any, name: str) -> Any:
    """`a.b` in sandboxed code: no private/dunder names, no introspection, str.format made safe."""
    if type(name) is not str:
        raise TypeError("attribute name must be a string")
    if name.startswith("_") or name in _FORBIDDEN_ATTRIBUTES:
        _refuse(f"name '{name}' is not allowed")
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
            _refuse(f"str.{method}() would produce more than {MAX_STRING:,} characters")
        return getattr(s, method)(width, *args)

    return pad


def _str_expandtabs(s: str, tabsize: int = 8) -> str:
    if isinstance(tabsize, int) and len(s) * max(tabsize, 1) > MAX_STRING:
        _refuse(f"str.expandtabs() would produce more than {MAX_STRING:,} characters")
    return s.expandtabs(tabsize)


def _str_replace(s: str, old: str, new: str, count: int = -1) -> str:
    if isinstance(old, (str, bytes)) and isinstance(new, (str, bytes)) and len(new) > len(old):
        hits = s.count(old) if old else len(s) + 1
        if count >= 0:
            hits = min(hits, count)
        if len(s) + hits * (len(new) - len(old)) > MAX_STRING:
            _refuse(f"str.replace() would produce more than {MAX_STRING:,} characters")
    return s.replace(old, new, count)


def _str_join(s: str, iterable: Iterable[Any]) -> str:
    items = list(iterable)
    size = len(s) * max(len(items) - 1, 0) + sum(len(i) for i in items if isinstance(i, (str, bytes)))
    if size > MAX_STRING:
        _refuse(f"str.join() would produce more than {MAX_STRING:,} characters")
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
        _refuse(f"operator '{op}' is not allowed")
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
        "dict": dict,
        "divmod": divmod,
        "enumerate": enumerate,
        "filter": filter,
        "float": float,
        "frozenset": frozenset,
        "int": int,
        "isinstance": isinstance,
        "len": len,
        "list": list,
        "map": map,
        "max": max,
        "min": min,
        "ord": ord,
        "pow": _safe_pow,
        "range": _safe_range,
        "repr": repr,
        "reversed": reversed,
        "round": _safe_round,
        "set": set,
        "slice": slice,
        "sorted": sorted,
        "str": str,
        "sum": _safe_sum,
        "tuple": tuple,
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
_GUARDS: dict[str, Any] = {
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
    "_tick_": None,  # loaded once per `while` iteration, see _SandboxPolicy.visit_While
}


# --------------------------------------------------------------------------------------------------
# Running with a time limit
# --------------------------------------------------------------------------------------------------


class _Tracer:
    """A `sys.settrace` function that stops sandboxed frames after a deadline.

    Signals would only work in the main thread; the engine runs in web-server and worker threads.
    Only frames of sandboxed code are traced.  Other frames (helpers, guards) are not handed on to the
    trace function installed before (coverage, a debugger): coverage's C tracer re-installs itself when
    called that way, which would switch the time limit off.  The previous one is restored afterwards.
    The call depth of sandboxed frames is capped well below Python's recursion limit: a RecursionError
    raised inside a trace function switches tracing off, and a script catching it could loop forever.
    """

    __slots__ = ("deadline", "depth", "max_depth")

    def __init__(self, deadline: float, max_depth: int) -> None:
        self.deadline = deadline
        self.depth = 0
        self.max_depth = max_depth

    def __call__(self, frame: types.FrameType, event: str, arg: Any) -> Any:
        if frame.f_code.co_filename == SCRIPT_FILENAME:
            self.depth += 1
            if self.depth > self.max_depth:
                # Report the line of the call, not of the `def`.
                caller = frame.f_back
                line = caller.f_lineno if caller and caller.f_code.co_filename == SCRIPT_FILENAME else None
                raise _Stop(f"calls are nested more than {self.max_depth} deep", line=line)
            if time.monotonic() > self.deadline:
                raise _Stop("time limit", timed_out=True)
            return self.local
        return None

    def local(self, frame: types.FrameType, event: str, arg: Any) -> Any:
        if event == "return":
            self.depth -= 1
        elif time.monotonic() > self.deadline:
            raise _Stop("time limit", timed_out=True)
        return self.local


_STACK_MARGIN = 50  # frames kept free below the deepest script frame for guards, the tracer and C calls


def _depth_budget() -> int:
    """How deep sandboxed calls may nest from here, keeping clear of Python's recursion limit."""
    limit = sys.getrecursionlimit()
    try:
        # One C-level walk instead of a Python loop over the frames: the common, shallow case.
        sys._getframe(limit - MAX_DEPTH - _STACK_MARGIN)
    except ValueError:
        return MAX_DEPTH
    used = 0
    frame: types.FrameType | None = sys._getframe()
    while frame is not None:
        used += 1
        frame = frame.f_back
    return min(MAX_DEPTH, limit - used - _STACK_MARGIN)


def _script_line(err: BaseException) -> int | None:
    """Line of the innermost sandboxed frame in the error's traceback."""
    line = None
    tb = err.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == SCRIPT_FILENAME:
            line = tb.tb_lineno
        tb = tb.tb_next
    return line


def _source_line(source: str, line: int | None) -> str:
    lines = source.splitlines()
    return lines[line - 1] if line and 0 < line <= len(lines) else ""


class SandboxedEnvironment(TaskDataEnvironment):
    """TaskDataEnvironment whose evaluate/execute run RestrictedPython code under a time limit.

    SpiffWorkflow also calls `script_engine.environment.evaluate(...)` directly (completion and
    data-object conditions, message correlations), so the sandbox lives here and not only in the engine.
    Refusals raise `ScriptRefusedError`; other errors of the script propagate unchanged.

    One deliberate difference from TaskDataEnvironment: `execute` works on a copy of the task data and
    writes it back only when the script finishes, so a script that fails or is stopped half-way leaves
    the task data as it was (SpiffWorkflow's exec would leave the assignments made before the error).
    """

    def __init__(self, helpers: Mapping[str, Callable[..., Any]] | None = None, time_limit: float = 2.0) -> None:
        super().__init__(dict(helpers or {}))
        self.time_limit = time_limit

    def evaluate(self, expression: str, context: dict, external_context: Mapping | None = None) -> Any:
        code = _compile_or_raise(_expression_source(expression), "eval")
        namespace = dict(self.globals)
        if external_context:
            namespace.update(external_context)
        namespace.update(context)
        namespace.update(_GUARDS)
        return self._run(code, namespace, "Expression")

    def execute(self, script: str, context: dict, external_context: Mapping | None = None) -> bool:
        external_context = external_context or {}
        self.check_for_overwrite(context, external_context)
        code = _compile_or_raise(_script_source(script), "exec")
        try:
            # A copy, so that a script that fails half-way leaves the task data as it was.
            data = copy.deepcopy(context)
        except Exception:
            data = dict(context)
        namespace = dict(self.globals)
        namespace.update(external_context)
        namespace.update(data)
        namespace.update(_GUARDS)
        self._run(code, namespace, "Script")

        result = {
            name: value
            for name, value in namespace.items()
            if not name.startswith("_")
            and name not in self.globals
            and name not in external_context
            and not _is_code_like(value)
        }
        # Like TaskDataEnvironment: deleted names and names now bound to functions leave the task data.
        # Names with a leading underscore were invisible to the script, so they are kept as they were.
        for name in [name for name in context if not name.startswith("_") and name not in result]:
            del context[name]
        context.update(result)
        return True

    def _run(self, code: types.CodeType, namespace: dict, kind: str) -> Any:
        max_depth = _depth_budget()
        if max_depth < 1:
            reason = "the server has too little stack left to run it"
            raise ScriptRefusedError(f"{kind} refused: {reason}", None, reason)
        previous = sys.gettrace()
        previous_decimal_context = decimal.getcontext()
        decimal.setcontext(_DECIMAL_CONTEXT.copy())  # a copy: contexts carry per-thread flags
        tracer = _Tracer(time.monotonic() + self.time_limit, max_depth)
        sys.settrace(tracer)
        try:
            return eval(code, namespace)
        except _Stop as stop:
            line = stop.line or _script_line(stop)
            where = f" (line {line})" if line else ""
            if stop.timed_out:
                reason = f"it ran longer than {self.time_limit} s and was stopped{where}"
                message = f"{kind} ran longer than {self.time_limit} s and was stopped{where}"
            else:
                reason = f"{stop.reason}{where}"
                message = f"{kind} refused: {reason}"
            raise ScriptRefusedError(message, line, reason) from None
        finally:
            sys.settrace(previous)
            decimal.setcontext(previous_decimal_context)


def _is_code_like(value: Any) -> bool:
    """Values that are not task data: functions, classes, modules, generators."""
    return callable(value) or isinstance(value, (types.ModuleType, types.GeneratorType))


class SandboxedScriptEngine(PythonScriptEngine):
    """SpiffWorkflow script engine running every script and expression in the sandbox.

    `helpers` are extra callables visible by name to scripts and expressions (trusted code: they run
    unrestricted and untimed).  `time_limit` is the wall-clock budget of one script or expression.
    """

    def __init__(self, helpers: Mapping[str, Callable] | None = None, time_limit: float = 2.0) -> None:
        super().__init__(environment=SandboxedEnvironment(helpers, time_limit))

    def evaluate(self, task: Any, expression: str, external_context: Mapping | None = None) -> Any:
        """Value of `expression` with the task data (and external_context) as names."""
        try:
            return self.environment.evaluate(expression, task.data, external_context)
        except SpiffWorkflowException as err:
            err.add_note(f"Error evaluating expression '{expression}'")
            raise
        except ScriptRefusedError as err:
            raise WorkflowTaskException(
                f"Error evaluating expression '{expression}': {err.message}",
                task=task,
                exception=err,
                line_number=err.line,
                error_line=_source_line(expression, err.line),
            ) from err
        except Exception as err:
            line = _script_line(err)
            raise WorkflowTaskException(
                f"Error evaluating expression '{expression}': {_describe(err)}",
                task=task,
                exception=err,
                line_number=line,
                error_line=_source_line(expression, line),
            ) from err

    def execute(self, task: Any, script: str, external_context: Mapping | None = None) -> bool:
        """Run `script` against the task data; its assignments become task data."""
        try:
            return self.environment.execute(script, task.data, external_context or {})
        except ScriptRefusedError as err:
            raise WorkflowTaskException(
                err.message,
                task=task,
                exception=err,
                line_number=err.line,
                error_line=_source_line(_script_source(script), err.line),
            ) from err
        except Exception as err:
            wrapped = self.create_task_exec_exception(task, script, err)
            if wrapped is err:
                raise
            raise wrapped from err

    def call_service(self, task: Any, **kwargs: Any) -> Any:
        # The base class refers to an undefined `script` here; report the real error instead.
        try:
            return self.environment.call_service(task.data, **kwargs)
        except Exception as err:
            wrapped = self.create_task_exec_exception(task, "", err)
            if wrapped is err:
                raise
            raise wrapped from err

    def create_task_exec_exception(self, task: Any, script: str, err: Exception) -> WorkflowTaskException:
        line_number, error_line = self.get_error_line_number_and_content(script, err)
        if isinstance(err, SpiffWorkflowException):
            err.line_number = line_number
            err.error_line = error_line
            if line_number:
                err.add_note(f"Python script error on line {line_number}: '{error_line}'")
            return err
        message = _describe(err)
        if line_number:
            message += f" (line {line_number})"
        return WorkflowTaskException(message, task=task, exception=err, line_number=line_number, error_line=error_line)

    def get_error_line_number_and_content(self, script: str, err: BaseException) -> tuple[int, str]:
        # The base class looks for frames named '<string>'; sandboxed code is SCRIPT_FILENAME.
        line = (err.lineno if isinstance(err, SyntaxError) else _script_line(err)) or 0
        return line, _source_line(_script_source(script), line)


def _describe(err: BaseException) -> str:
    text = str(err)
    return f"{type(err).__name__}: {text}" if text else type(err).__name__
