"""The incremental task rows restore exactly the workflow the engine had in memory."""

from __future__ import annotations

import pytest

from engine import Engine
from engine.models import ProcessInstance
from engine.spiff.serialization import SERIALIZER
from tests.conftest import who

pytestmark = pytest.mark.usefixtures("petition")


def snapshot(workflow) -> dict:  # noqa: ANN001
    dct = SERIALIZER.to_dict(workflow)
    dct.pop("spec")
    dct.pop("subprocess_specs")
    for task in dct["tasks"].values():
        task.pop("last_state_change")
    return dct


def assert_restores_identically(engine: Engine, instance_id: str) -> None:
    cached = engine.live._items.get(instance_id)
    assert cached is not None, "the command should leave its live workflow cached"
    with engine.reading() as session:
        row = session.get(ProcessInstance, instance_id)
        assert cached.lock_version == row.lock_version
        engine.live.forget(instance_id)
        restored = engine.store.load(session, row)
    assert snapshot(restored.workflow) == snapshot(cached.workflow)
    engine.live.keep(instance_id, cached)


def test_after_every_command_the_database_holds_exactly_the_live_workflow(engine: Engine) -> None:
    instance = engine.start("petition_review", "qiaoyi", by=who(engine, "wang"))
    assert_restores_identically(engine, instance["id"])
    done = engine.complete(
        instance["tasks"][0]["id"], who(engine, "wang"), {"title": "t", "proposer_count": 25, "eligible_count": 100}
    )
    assert_restores_identically(engine, instance["id"])
    engine.claim(done["next_tasks"][0]["id"], who(engine, "zhang"))
    assert_restores_identically(engine, instance["id"])
    engine.complete(done["next_tasks"][0]["id"], who(engine, "zhang"), {"decision": "approve", "opinion": "好"})
    assert_restores_identically(engine, instance["id"])
