"""Two officials complete the same task at the same moment, each through their own connection pool."""

from __future__ import annotations

import threading

import pytest

from engine import Engine
from engine.config import Settings
from engine.errors import Conflict
from tests.conftest import who

pytestmark = pytest.mark.usefixtures("petition")


def test_two_officials_completing_one_task_at_once_one_wins_and_one_gets_a_conflict(
    engine: Engine, db_url: str
) -> None:
    engines = [Engine(Settings(database_url=db_url)) for _ in range(2)]
    try:
        for round_no in range(5):
            instance = engine.start("petition_review", "qiaoyi", by=who(engine, "wang"), business_key=f"C-{round_no}")
            review_id = engine.complete(
                instance["tasks"][0]["id"],
                who(engine, "wang"),
                {"title": "t", "proposer_count": 50, "eligible_count": 100},
            )["next_tasks"][0]["id"]
            # both engines have the instance loaded and cached before the race
            for eng in engines:
                eng.get_task(review_id)
            barrier = threading.Barrier(2)
            outcomes: dict[str, object] = {}

            def work(eng: Engine, username: str, barrier=barrier, outcomes=outcomes, review_id=review_id) -> None:
                principal = who(eng, username)
                barrier.wait()
                try:
                    outcomes[username] = eng.complete(review_id, principal, {"decision": "approve"})
                except Conflict as exc:
                    outcomes[username] = exc

            threads = [
                threading.Thread(target=work, args=(engines[0], "zhang")),
                threading.Thread(target=work, args=(engines[1], "liu")),
            ]
            for t in threads:
                t.start()
            for t in threads:
                t.join(30)
            winners = [u for u, o in outcomes.items() if isinstance(o, dict)]
            losers = [u for u, o in outcomes.items() if isinstance(o, Conflict)]
            assert len(winners) == 1 and len(losers) == 1, outcomes
            assert "already completed" in str(outcomes[losers[0]]) or "changed by someone else" in str(
                outcomes[losers[0]]
            )
            history = engine.history(instance["id"])
            completions = [
                e for e in history if e["action"] == "task_completed" and e["element_id"] == "review_petition"
            ]
            assert len(completions) == 1
            assert completions[0]["actor"]["username"] == winners[0]
            assert [e["action"] for e in history].count("instance_completed") == 1
            assert engine.get_instance(instance["id"])["status"] == "completed"
        assert engine.verify_audit().ok
    finally:
        for eng in engines:
            eng.close()
