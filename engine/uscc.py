"""Unified social credit codes (统一社会信用代码, GB 32100-2015) for committees as special legal persons.

18 characters: the registering department and category (2), the administrative division (6), the
organisation code (9, GB 11714 with its own check character) and a check character over all 17.
"""

from __future__ import annotations

import json

from engine.rules import DATA

USCC_CHARS = "0123456789ABCDEFGHJKLMNPQRTUWXY"  # no I, O, S, V, Z
USCC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
ORG_CHARS = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
ORG_WEIGHTS = (3, 7, 9, 10, 5, 8, 4, 2)


def uscc_check_char(first17: str) -> str:
    total = sum(USCC_CHARS.index(c) * w for c, w in zip(first17, USCC_WEIGHTS, strict=True))
    return USCC_CHARS[(31 - total % 31) % 31]


def org_code_check_char(first8: str) -> str:
    total = sum(ORG_CHARS.index(c) * w for c, w in zip(first8, ORG_WEIGHTS, strict=True))
    check = 11 - total % 11
    return {10: "X", 11: "0"}.get(check, str(check))


def is_valid_uscc(code: str) -> bool:
    """Both check characters right (the organisation code's and the whole code's)."""
    if len(code) != 18 or any(c not in USCC_CHARS for c in code):
        return False
    body = code[8:16]
    if any(c not in ORG_CHARS for c in body):
        return False
    return org_code_check_char(body) == code[16] and uscc_check_char(code[:17]) == code[17]


def make_uscc(prefix: str, division: str, serial: int) -> str:
    """A code for the `serial`-th committee registered in a division: prefix '54' + division + org code."""
    if len(prefix) != 2 or len(division) != 6 or not division.isdigit():
        raise ValueError("a USCC needs a 2-character prefix and a 6-digit division code")
    body = f"{serial:08d}"
    org_code = body + org_code_check_char(body)
    first17 = prefix + division + org_code
    return first17 + uscc_check_char(first17)


def division_code(district_name: str | None) -> str:
    """The GB/T 2260 code of a Shanghai district by its name; the city's code for any other unit."""
    data = json.loads((DATA / "divisions.json").read_text(encoding="utf-8"))
    return data["districts"].get(district_name or "", data["city"][1])
