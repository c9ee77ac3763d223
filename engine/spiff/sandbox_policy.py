"""Compile-time policy of the script sandbox: what a script or expression may say at all.

Source text is parsed and compiled by RestrictedPython under `_SandboxPolicy`, RestrictedPython's own
policy plus govflow's rules (no imports, no private or introspection names, no `with`, `finally`, bare
`except:` or class definitions), with messages written for procedure designers.  The policy also rewrites
the code so that size-sensitive operators, f-string format specs and `while` loops go through the names
that `sandbox_guards` provides.  Compiled code and refusals are cached per source text.

`check_expression` and `check_script` are the deploy-time checks; `ScriptRefusedError` is what users see
when the sandbox refuses something; `Stop` / `refuse` are how sandboxed code is stopped while running.
"""

from __future__ import annotations

import ast
import functools
import re
import textwrap
import types
from typing import Any, NoReturn

from RestrictedPython import RestrictingNodeTransformer, compile_restricted_eval, compile_restricted_exec
from RestrictedPython.transformer import INSPECT_ATTRIBUTES, copy_locations

__all__ = [
    "FORBIDDEN_ATTRIBUTES",
    "SCRIPT_FILENAME",
    "ScriptRefusedError",
    "Stop",
    "check_expression",
    "check_script",
    "compile_or_raise",
    "expression_source",
    "refuse",
    "script_source",
]

# Sandboxed code objects carry this file name: the tracer recognises their frames by it and error line
# numbers are taken from the innermost frame that has it.
SCRIPT_FILENAME = "<bpmn-script>"

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
FORBIDDEN_ATTRIBUTES = INSPECT_ATTRIBUTES | {"mro"}

_LINE_PREFIX = re.compile(r"^Line (\d+|None): (.*)$", re.DOTALL)


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


class Stop(BaseException):
    """Raised inside sandboxed code to stop it.

    A BaseException, and the sandbox refuses bare `except:` and the BaseException name, so a script
    cannot catch it and carry on.  Converted to `ScriptRefusedError` once out of the sandbox.
    """

    def __init__(self, reason: str, timed_out: bool = False, line: int | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.timed_out = timed_out
        self.line = line


def refuse(reason: str) -> NoReturn:
    raise Stop(reason)


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
        if (node.attr.startswith("_") and node.attr != "_") or node.attr in FORBIDDEN_ATTRIBUTES:
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
        # f"{x:>{n}}" pads in C and f"{rows}" may make gigabytes of text from shared lists: route every
        # value through _format_, which checks the text's size and the spec.
        node = super().visit_FormattedValue(node)
        call = ast.Call(
            func=ast.Name("_format_", ast.Load()),
            args=[node.value, ast.Constant(node.conversion), node.format_spec or ast.Constant("")],
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


def script_source(script: str | None) -> str:
    # BPMN editors and pretty-printed XML indent script bodies; dedenting keeps line numbers.
    return textwrap.dedent(script or "")


def expression_source(expression: str) -> str:
    # `eval` ignores surrounding blanks; conditions in XML often come with newlines around them.
    return expression.strip()


def compile_or_raise(source: str, mode: str) -> types.CodeType:
    compiled = _compile(source, mode)
    if isinstance(compiled, ScriptRefusedError):
        # A fresh exception each time: the cached one must not collect tracebacks across calls.
        raise ScriptRefusedError(compiled.message, compiled.line, compiled.reason)
    return compiled


def check_expression(source: str) -> str | None:
    """Deploy-time check: None if `source` compiles as a sandboxed expression, else why not.

    The answer reads after "... is refused: ", e.g. "name '__class__' is not allowed (line 1)".
    """
    compiled = _compile(expression_source(source or ""), "eval")
    return compiled.reason if isinstance(compiled, ScriptRefusedError) else None


def check_script(source: str) -> str | None:
    """Deploy-time check: None if `source` compiles as a sandboxed script, else why not (as above)."""
    compiled = _compile(script_source(source), "exec")
    return compiled.reason if isinstance(compiled, ScriptRefusedError) else None
