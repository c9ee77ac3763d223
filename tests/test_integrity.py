"""Data integrity: random sequences of commands on random cases keep the engine's invariants.

A Hypothesis state machine (derandomized: the same examples every run; bounded) works the cases of a review
process (a committee registers, the subdistrict reviews with a reminder after 3 days and an overdue hand-over
after 10, approves or sends the matter back) with every command an official or admin has: start, claim,
unclaim, complete, transfer, return (退回), cancel, and firing the due timers after moving the engine's
clock. Commands come from random people, so many are refused; a refused command must change nothing. After
every step, on SQLite and PostgreSQL:

- every open human task has a READY user task in its restored workflow and every READY user task an open
  human task; a case's status agrees with its workflow (tests/invariants.py);
- every audit chain verifies, and no task is completed twice without being reopened in between.

GOVFLOW_INTEGRITY_EXAMPLES runs more examples (default 8 of up to 40 steps each, per database).
"""

from __future__ import annotations

import os
import shutil
from datetime import timedelta
from pathlib import Path

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from engine import Engine
from engine.config import Settings
from engine.errors import GovflowError
from engine.worker import run_due
from tests import invariants
from tests.conftest import DATA, _truncate, populate
from tests.reliability_report import record

EXAMPLES = int(os.environ.get("GOVFLOW_INTEGRITY_EXAMPLES", "8"))
STEPS = 40
PROCESS = (DATA / "reliability" / "integrity_review.bpmn").read_bytes()
PEOPLE = ["wang", "chen", "zhang", "liu", "wu", "admin", "auditor"]
ACTIONS = ["claim", "unclaim", "complete", "transfer", "return"]


def fresh_engine(db_url: str, template: Path, folder: Path, number: int) -> tuple[Engine, str]:
    """An empty database for one example (a copy of the migrated file, or the PostgreSQL one emptied)."""
    if db_url.startswith("sqlite"):
        path = folder / f"example-{number}.db"
        shutil.copyfile(template, path)
        db_url = f"sqlite:///{path}"
    else:
        _truncate(db_url)
    engine = populate(Engine(Settings(database_url=db_url, script_time_limit=1.0, password_profile="fast")))
    engine.deploy({"integrity_review.bpmn": PROCESS}, by=engine.principal("designer"))
    return engine, db_url


def test_random_commands_on_random_cases_keep_every_invariant(
    db_url: str, sqlite_template: Path, tmp_path: Path, clock
) -> None:  # noqa: ANN001
    tally: dict = {"examples": 0, "steps": 0, "accepted": 0, "refused": 0, "timers_fired": 0, "done": {}}

    class Casework(RuleBasedStateMachine):
        def __init__(self) -> None:
            super().__init__()
            self.engine, self.url = fresh_engine(db_url, sqlite_template, tmp_path, tally["examples"])
            self.checker = invariants.checker(self.url)
            tally["examples"] += 1
            self.cases: list[str] = []
            self.units: dict[str, str] = {}

        def teardown(self) -> None:
            self.engine.close()
            self.checker.close()

        def command(self, instance_id: str | None, name: str, run) -> None:  # noqa: ANN001
            """Run a command; a refused one (a GovflowError) must leave the case exactly as it was."""
            before = self.engine.history(instance_id) if instance_id else None
            tally["steps"] += 1
            try:
                run()
            except GovflowError:
                tally["refused"] += 1
                if instance_id:
                    assert self.engine.history(instance_id) == before, "a refused command changed the case"
                return
            tally["accepted"] += 1
            tally["done"][name] = tally["done"].get(name, 0) + 1

        @initialize()
        def first_case(self) -> None:
            self.start_case(unit="qiaoyi")

        @precondition(lambda self: len(self.cases) < 6)
        @rule(unit=st.sampled_from(["qiaoyi", "ruinan"]))
        def start_case(self, unit: str) -> None:
            starter = "wang" if unit == "qiaoyi" else "chen"
            case = self.engine.start(
                "integrity_review", unit, by=self.engine.principal(starter), variables={"decision": "approve"}
            )
            self.cases.append(case["id"])
            self.units[case["id"]] = unit

        @rule(
            pick=st.integers(min_value=0),
            action=st.sampled_from(ACTIONS),
            anyone=st.sampled_from([False, False, False, True]),  # mostly someone who may act, sometimes not
            person=st.sampled_from(PEOPLE),
            other=st.sampled_from(PEOPLE),
            decision=st.sampled_from(["approve", "revise"]),
        )
        def work_a_task(self, pick: int, action: str, anyone: bool, person: str, other: str, decision: str) -> None:
            tasks = [t for i in self.cases for t in self.engine.get_instance(i)["tasks"]]
            if not tasks:
                return
            task = tasks[pick % len(tasks)]
            if not anyone:  # a candidate of the task, handing it to a colleague of the same group
                committee = "wang" if self.units[task["instance_id"]] == "qiaoyi" else "chen"
                group = [committee] if task["element_id"] == "register_matter" else ["zhang", "liu"]
                person = task["assignee"] if task["assignee"] in group else group[pick % len(group)]
                other = group[(pick + 1) % len(group)]
            by = self.engine.principal(person)
            commands = {
                "claim": lambda: self.engine.claim(task["id"], by),
                "unclaim": lambda: self.engine.unclaim(task["id"], by),
                "complete": lambda: self.engine.complete(task["id"], by, {"decision": decision}),
                "transfer": lambda: self.engine.transfer(task["id"], by, other, "换人办理"),
                "return": lambda: self.engine.return_task(task["id"], by, "材料不全，退回补正"),
            }
            self.command(task["instance_id"], action, commands[action])

        @rule(
            pick=st.integers(min_value=0),
            person=st.sampled_from(["admin", "admin", "wang", "zhang"]),
            roll=st.integers(min_value=0, max_value=2),
        )
        def cancel_a_case(self, pick: int, person: str, roll: int) -> None:
            if self.cases and roll == 0:  # one draw in three: cancelling ends a case, the rest keep it going
                instance_id = self.cases[pick % len(self.cases)]
                by = self.engine.principal(person)
                self.command(instance_id, "cancel", lambda: self.engine.cancel(instance_id, "重复立案", by=by))

        @rule(days=st.integers(min_value=1, max_value=6))
        def time_passes_and_due_timers_fire(self, days: int) -> None:
            clock.advance(timedelta(days=days))
            while batch := run_due(self.engine, "integrity-worker", batch=20):
                tally["timers_fired"] += len(batch)

        @invariant()
        def every_invariant_holds(self) -> None:
            assert invariants.problems(self.url, self.checker) == []

    run_state_machine_as_test(
        Casework,
        settings=settings(
            max_examples=EXAMPLES,
            stateful_step_count=STEPS,
            deadline=None,
            database=None,
            derandomize=True,  # the same examples every run: a failure is found again
            suppress_health_check=list(HealthCheck),
        ),
    )
    dialect = "sqlite" if db_url.startswith("sqlite") else "postgresql"
    record("integrity", dialect, {"examples_planned": EXAMPLES, "steps_per_example": STEPS, **tally})
    assert tally["refused"] > 0 and tally["timers_fired"] > 0, tally
    assert {"claim", "complete", "transfer", "return", "cancel"} <= tally["done"].keys(), tally
