"""A small, safe subset of FEEL, enough for typical form-js `conditional.hide` expressions.

Supported: literals (strings in double quotes, numbers, true, false, null), names with dots
(`address.city`), comparisons `= != < > <= >=`, `and`, `or`, `not(...)` and parentheses.
Anything else raises `FeelUnsupported` at parse time, so the caller can fall back to a safe
default instead of guessing what an unknown construct means.

Evaluation follows FEEL's three-valued logic: comparing values of different kinds gives null,
and `and`/`or`/`not` treat null as "unknown". Only a result that is exactly `true` counts as true.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from typing import Any

# Expressions are parsed into nested tuples; cheap to build, immutable, easy to test.
#   ("lit", value) | ("path", (name, ...)) | ("cmp", op, left, right)
#   ("and", (expr, ...)) | ("or", (expr, ...)) | ("not", expr)
Expr = tuple

Lookup = Callable[[tuple[str, ...]], Any]

MAX_LENGTH = 2000  # a hide condition longer than this is not a "simple" one
MAX_DEPTH = 40  # bounds recursion on deeply nested parentheses

_TOKEN = re.compile(
    r"""
    (?P<ws>\s+)
  | (?P<str>"(?:[^"\\]|\\.)*")
  | (?P<num>\d+(?:\.\d+)?|\.\d+)
  | (?P<op><=|>=|!=|=|<|>)
  | (?P<punct>[().\-])
  | (?P<name>[^\W\d]\w*)
    """,
    re.VERBOSE,
)
_KEYWORDS = {"and", "or", "not", "true", "false", "null"}
_ESCAPES = {'"': '"', "\\": "\\", "n": "\n", "t": "\t", "r": "\r", "'": "'"}


class FeelUnsupported(ValueError):
    """The expression is not valid FEEL or uses FEEL beyond the supported subset."""


def parse(text: str) -> Expr:
    """Parse an expression (without the leading "=" form-js puts in front)."""
    if len(text) > MAX_LENGTH:
        raise FeelUnsupported("expression too long")
    parser = _Parser(_tokenize(text))
    expr = parser.expression(0)
    if parser.peek() is not None:
        raise FeelUnsupported(f"unexpected {parser.peek()[1]!r}")
    return expr


def evaluate(expr: Expr, lookup: Lookup) -> Any:
    """Evaluate a parsed expression; `lookup` resolves a dotted name to a value or None."""
    kind = expr[0]
    if kind == "lit":
        return expr[1]
    if kind == "path":
        return lookup(expr[1])
    if kind == "not":
        value = evaluate(expr[1], lookup)
        return (not value) if isinstance(value, bool) else None
    if kind in ("and", "or"):
        values = [evaluate(e, lookup) for e in expr[1]]
        decisive = kind == "or"  # `true` decides an or, `false` decides an and
        if any(v is decisive for v in values):
            return decisive
        if all(isinstance(v, bool) for v in values):
            return not decisive
        return None
    return _compare(expr[1], evaluate(expr[2], lookup), evaluate(expr[3], lookup))


def names(expr: Expr) -> set[tuple[str, ...]]:
    """Every dotted name the expression reads."""
    kind = expr[0]
    if kind == "path":
        return {expr[1]}
    if kind == "not":
        return names(expr[1])
    if kind in ("and", "or"):
        return set().union(*(names(e) for e in expr[1]))
    if kind == "cmp":
        return names(expr[2]) | names(expr[3])
    return set()


def _tokenize(text: str) -> list[tuple[str, str]]:
    tokens = []
    pos = 0
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if match is None:
            raise FeelUnsupported(f"unsupported character {text[pos]!r}")
        pos = match.end()
        kind = match.lastgroup
        if kind != "ws":
            tokens.append((kind, match.group()))
    return tokens


class _Parser:
    def __init__(self, tokens: list[tuple[str, str]]) -> None:
        self.tokens = tokens
        self.pos = 0

    def peek(self, offset: int = 0) -> tuple[str, str] | None:
        index = self.pos + offset
        return self.tokens[index] if index < len(self.tokens) else None

    def take(self) -> tuple[str, str]:
        token = self.peek()
        if token is None:
            raise FeelUnsupported("expression ends too early")
        self.pos += 1
        return token

    def expect(self, text: str) -> None:
        token = self.take()
        if token[1] != text:
            raise FeelUnsupported(f"expected {text!r}, found {token[1]!r}")

    def at_word(self, word: str) -> bool:
        token = self.peek()
        return token is not None and token == ("name", word)

    def expression(self, depth: int) -> Expr:
        if depth > MAX_DEPTH:
            raise FeelUnsupported("expression nested too deeply")
        parts = [self.conjunction(depth)]
        while self.at_word("or"):
            self.take()
            parts.append(self.conjunction(depth))
        return parts[0] if len(parts) == 1 else ("or", tuple(parts))

    def conjunction(self, depth: int) -> Expr:
        parts = [self.comparison(depth)]
        while self.at_word("and"):
            self.take()
            parts.append(self.comparison(depth))
        return parts[0] if len(parts) == 1 else ("and", tuple(parts))

    def comparison(self, depth: int) -> Expr:
        left = self.operand(depth)
        token = self.peek()
        if token is None or token[0] != "op":
            return left
        op = self.take()[1]
        right = self.operand(depth)
        nxt = self.peek()
        if nxt is not None and nxt[0] == "op":
            raise FeelUnsupported("chained comparison")
        return ("cmp", op, left, right)

    def operand(self, depth: int) -> Expr:
        kind, text = self.take()
        if text == "(":
            inner = self.expression(depth + 1)
            self.expect(")")
            return inner
        if kind == "str":
            return ("lit", _unquote(text))
        if kind == "num":
            return ("lit", Decimal(text))
        if text == "-" and self.peek() is not None and self.peek()[0] == "num":
            return ("lit", -Decimal(self.take()[1]))
        if kind != "name":
            raise FeelUnsupported(f"unexpected {text!r}")
        if text == "not":
            self.expect("(")
            inner = self.expression(depth + 1)
            self.expect(")")
            return ("not", inner)
        if text in ("true", "false"):
            return ("lit", text == "true")
        if text == "null":
            return ("lit", None)
        if text in _KEYWORDS:
            raise FeelUnsupported(f"unexpected {text!r}")
        path = [text]
        while self.peek() == ("punct", "."):
            self.take()
            kind, text = self.take()
            if kind != "name" or text in _KEYWORDS:
                raise FeelUnsupported(f"unexpected {text!r} after '.'")
            path.append(text)
        nxt = self.peek()
        if nxt is not None and (nxt[1] == "(" or (nxt[0] == "name" and nxt[1] not in _KEYWORDS)):
            # A function call, or a FEEL name with spaces / an operator word such as "in".
            raise FeelUnsupported(f"unsupported construct after {text!r}")
        return ("path", tuple(path))


def _unquote(text: str) -> str:
    body = text[1:-1]
    if "\\" not in body:
        return body
    out = []
    chars = iter(body)
    for ch in chars:
        if ch != "\\":
            out.append(ch)
            continue
        esc = next(chars)
        if esc not in _ESCAPES:
            raise FeelUnsupported(f"unsupported escape \\{esc}")
        out.append(_ESCAPES[esc])
    return "".join(out)


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float | Decimal):
        return "number"
    if isinstance(value, str):
        return "string"
    return "other"


def _as_decimal(value: int | float | Decimal) -> Decimal | None:
    try:
        # repr() keeps 0.1 as 0.1 instead of its binary expansion.
        result = Decimal(repr(value)) if isinstance(value, float) else Decimal(value)
    except (InvalidOperation, ValueError):
        return None
    return result if result.is_finite() else None


def _compare(op: str, left: Any, right: Any) -> bool | None:
    lk, rk = _kind(left), _kind(right)
    if op in ("=", "!="):
        if lk == "null" or rk == "null":
            equal = lk == rk
        elif lk != rk:
            return None
        elif lk == "number":
            a, b = _as_decimal(left), _as_decimal(right)
            if a is None or b is None:
                return None
            equal = a == b
        else:
            equal = left == right
        return equal if op == "=" else not equal
    if lk != rk or lk not in ("number", "string"):
        return None
    if lk == "number":
        left, right = _as_decimal(left), _as_decimal(right)
        if left is None or right is None:
            return None
    if op == "<":
        return left < right
    if op == ">":
        return left > right
    if op == "<=":
        return left <= right
    return left >= right
