"""Process instance ids: time-ordered UUIDs (RFC 9562 version 7), so a new case's rows go at the end.

An instance's id leads the keys of its task rows and its audit events ((instance_id, id), (stream, seq)),
and the instance index of its inbox rows. With random ids every new case inserted amid those trees, where
SQLite and PostgreSQL split leaves more often than at their right edge and a large table's leaf is seldom
in memory; with time-ordered ids a new case's rows land beside the last case's. The id still carries 74
random bits, so nobody guesses another case's id, and reading one is still checked against the reader's
reach.
"""

from __future__ import annotations

import os
import time
import uuid

_VERSION_7 = 0x7 << 76
_VARIANT_RFC = 0x2 << 62
_RAND_A = ((1 << 12) - 1) << 64  # 12 random bits after the version
_RAND_B = (1 << 62) - 1  # 62 random bits after the variant


def new_case_id() -> str:
    """A version 7 UUID for a case started now."""
    return case_id(time.time_ns() // 1_000_000, int.from_bytes(os.urandom(10), "big"))


def case_id(millis: int, random_bits: int) -> str:
    """The version 7 UUID of 48 bits of Unix time in milliseconds and 74 of the 80 bits of `random_bits`."""
    time_part = (millis & ((1 << 48) - 1)) << 80
    value = time_part | _VERSION_7 | (random_bits & _RAND_A) | _VARIANT_RFC | (random_bits & _RAND_B)
    return str(uuid.UUID(int=value))
