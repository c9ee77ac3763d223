"""Keyset paging: lists ordered by fixed keys ending in the row id; the cursor holds the last row's values.

Never offsets (a page stays cheap however deep), and a cursor carries a checksum so a client cannot
hand back values this list never gave out.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, false, or_
from sqlalchemy.orm import InstrumentedAttribute, Session

from engine.errors import RuleBroken

MAX_LIMIT = 500


@dataclass(frozen=True)
class SortKey:
    """One column of a list's order; nullable columns sort their NULLs last."""

    column: InstrumentedAttribute
    descending: bool = False
    nullable: bool = False

    def order(self) -> Any:
        clause = self.column.desc() if self.descending else self.column.asc()
        return clause.nulls_last() if self.nullable else clause

    def beyond(self, value: Any) -> ColumnElement[bool]:
        if value is None:
            return false()  # nothing sorts after the NULLs
        past = self.column < value if self.descending else self.column > value
        return or_(past, self.column.is_(None)) if self.nullable else past

    def same(self, value: Any) -> ColumnElement[bool]:
        return self.column.is_(None) if value is None else self.column == value


# A cursor is base64url(checksum + JSON [list, values...]); the checksum catches edited cursors.
_CURSOR_SALT = b"govflow-cursor/1\0"
_CHECKSUM = 8
_BAD_CURSOR = "The cursor is not one this list handed out; start again from the first page."


def _checksum(raw: bytes) -> bytes:
    return hashlib.sha256(_CURSOR_SALT + raw).digest()[:_CHECKSUM]


def encode_cursor(list_name: str, keys: tuple[SortKey, ...], row: Any) -> str:
    values = [getattr(row, key.column.key) for key in keys]
    plain = [v.isoformat() if isinstance(v, datetime) else v for v in values]
    raw = json.dumps([list_name, *plain], ensure_ascii=False, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(_checksum(raw) + raw).decode().rstrip("=")


def decode_cursor(list_name: str, keys: tuple[SortKey, ...], cursor: str) -> list[Any]:
    """The sort values a cursor holds; RuleBroken for anything this list did not hand out."""
    try:
        blob = base64.b64decode(cursor + "=" * (-len(cursor) % 4), altchars=b"-_", validate=True)
        raw = blob[_CHECKSUM:]
        if len(blob) <= _CHECKSUM or not hmac.compare_digest(blob[:_CHECKSUM], _checksum(raw)):
            raise ValueError("checksum")
        parsed = json.loads(raw)
        if not isinstance(parsed, list) or len(parsed) != len(keys) + 1 or parsed[0] != list_name:
            raise ValueError("shape")
        return [_typed(key, value) for key, value in zip(keys, parsed[1:], strict=True)]
    except (ValueError, TypeError, UnicodeError, binascii.Error) as exc:
        raise RuleBroken(_BAD_CURSOR, code="bad_cursor") from exc


def _typed(key: SortKey, value: Any) -> Any:
    if value is None:
        if not key.nullable:
            raise ValueError("null")
        return None
    column_type = key.column.type
    kind = getattr(column_type, "impl_instance", column_type).python_type  # through TypeDecorators
    if kind is datetime:
        if not isinstance(value, str):
            raise ValueError("time")
        moment = datetime.fromisoformat(value)
        if moment.tzinfo is None:
            raise ValueError("naive time")
        return moment
    if kind is int and (isinstance(value, bool) or not isinstance(value, int)):
        raise ValueError("int")
    if kind is str and not isinstance(value, str):
        raise ValueError("str")
    return value


def _after(keys: tuple[SortKey, ...], values: list[Any]) -> ColumnElement[bool]:
    """Rows that sort after the given values: k1 beyond, or k1 same and (k2 beyond, or ...)."""
    clause = keys[-1].beyond(values[-1])
    for key, value in zip(reversed(keys[:-1]), reversed(values[:-1]), strict=True):
        clause = or_(key.beyond(value), and_(key.same(value), clause))
    return clause


def check_limit(limit: int) -> None:
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_LIMIT:
        raise RuleBroken(f"limit must be a whole number from 1 to {MAX_LIMIT}.", code="bad_limit", limit=MAX_LIMIT)


def page(
    session: Session,
    query: Select,
    keys: tuple[SortKey, ...],
    list_name: str,
    cursor: str | None,
    limit: int,
    view: Callable[[Any], dict],
) -> dict:
    if cursor:
        query = query.where(_after(keys, decode_cursor(list_name, keys, cursor)))
    rows = list(session.execute(query.order_by(*(k.order() for k in keys)).limit(limit + 1)).scalars())
    more = len(rows) > limit
    rows = rows[:limit]
    return {
        "items": [view(r) for r in rows],
        "next_cursor": encode_cursor(list_name, keys, rows[-1]) if more else None,
    }
