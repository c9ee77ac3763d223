"""Every MIWG reference model gets "deployed" or a list of readable problems; none crashes the deploy."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine import Engine
from engine.errors import BundleInvalid
from tests.conftest import SHARED

MIWG = sorted((SHARED / "conformance" / "miwg").glob("*.bpmn"))


def test_the_conformance_corpus_is_there() -> None:
    assert len(MIWG) >= 20, f"expected the MIWG models in {SHARED / 'conformance' / 'miwg'}"


@pytest.mark.parametrize("path", MIWG, ids=[p.name for p in MIWG])
def test_a_miwg_model_is_deployed_or_answered_with_readable_problems(engine: Engine, path: Path) -> None:
    try:
        result = engine.deploy({path.name: path.read_bytes()})
    except BundleInvalid as exc:
        assert exc.problems
        for problem in exc.problems:
            assert problem.file == path.name
            assert len(problem.message) > 10
            assert "Traceback" not in problem.message
        assert engine.list_definitions() == []
    else:
        assert result["processes"]
        assert {d["key"] for d in engine.list_definitions()} == {p["key"] for p in result["processes"]}
