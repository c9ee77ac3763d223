"""Cases get time-ordered ids (RFC 9562 version 7): unique, unguessable, and in the order they started, so
a new case's task rows and audit events go in at the end of their tables' keys."""

from __future__ import annotations

import time
import uuid
from datetime import datetime

from engine import Engine
from engine.case_ids import case_id, new_case_id
from tests.conftest import who


def _millis(case: str) -> int:
    return uuid.UUID(case).int >> 80


def test_cases_started_one_after_another_have_version_7_ids_in_the_order_they_started(petition: Engine) -> None:
    engine = petition
    started = []
    for n in range(3):
        case = engine.start("petition_review", "qiaoyi", by=who(engine, "wang"), business_key=f"YT-{n}")
        started.append(case)
        time.sleep(0.002)  # a millisecond apart at least: within one, the order of ids is left to chance
    ids = [case["id"] for case in started]
    assert sorted(ids) == ids and len(set(ids)) == 3
    for case in started:
        parsed = uuid.UUID(case["id"])
        assert (parsed.version, parsed.variant) == (7, uuid.RFC_4122)
        at = datetime.fromisoformat(case["started_at"])
        assert abs(_millis(case["id"]) - at.timestamp() * 1000) < 1000  # its start time (the row's clock may round)
    # The ids are what the API and the case list answer with.
    listed = engine.list_instances(who(engine, "auditor"))["items"]
    assert {item["id"] for item in listed} == set(ids)


def test_a_case_id_keeps_the_time_in_its_first_48_bits_and_74_random_bits() -> None:
    assert case_id(0, 0) == "00000000-0000-7000-8000-000000000000"
    full = case_id((1 << 48) - 1, (1 << 80) - 1)
    assert full == "ffffffff-ffff-7fff-bfff-ffffffffffff"
    ids = {new_case_id() for _ in range(10_000)}
    assert len(ids) == 10_000
    assert len({case[14:] for case in ids}) == 10_000  # the random bits alone tell them apart
