"""A review repeated 2,000 times ends at its own end event after the 2,000th round, never earlier.

SpiffWorkflow 3.2's task iterators stop 1,000 levels down the task tree, so a loop of more than ~500 rounds
used to report itself complete with a task still waiting (engine/spiff/fixes.py lifts the limit and
engine/spiff/task_index.py answers the queries for unfinished tasks without walking the tree). Here the
rounds are completed one command each through the engine, persisted on SQLite and PostgreSQL, and once
through SpiffWorkflow alone (no database), which is quick enough to run the loop twice as long.
"""

from __future__ import annotations

from collections import Counter

from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.util.task import TaskState
from sqlalchemy import event

from engine import Engine
from engine.config import Settings
from engine.spiff.parsing import parse_bundle
from engine.spiff.sandbox import SandboxedScriptEngine
from tests.conftest import DATA, who

ROUNDS = 2000
WEEKLY_REVIEW = (DATA / "reliability" / "weekly_review.bpmn").read_bytes()
START = {"rounds": 0, "target": ROUNDS, "stop": False}


def quick_commits(db_url: str) -> Engine:
    """An engine that does not wait for each commit to reach the disk: what is tested here is the loop, and
    2,000 commands each waiting for an fsync would take minutes on a busy machine (durability is
    test_crash.py's and test_faults.py's)."""
    engine = Engine(Settings(database_url=db_url, password_profile="fast", sqlite_synchronous="NORMAL"))
    if engine.dialect == "postgresql":

        @event.listens_for(engine.sql, "connect")
        def _asynchronous(dbapi_connection, _record):  # noqa: ANN001, ANN202
            with dbapi_connection.cursor() as cursor:
                cursor.execute("SET synchronous_commit TO off")
            dbapi_connection.commit()

    return engine


def test_a_review_repeated_2000_times_ends_at_review_finished_only_after_the_2000th_completion(
    org: Engine, db_url: str
) -> None:
    org.deploy({"weekly_review.bpmn": WEEKLY_REVIEW}, by=who(org, "designer"))
    engine = quick_commits(db_url)
    try:
        run_the_weekly_review(engine, db_url)
    finally:
        engine.close()


def run_the_weekly_review(engine: Engine, db_url: str) -> None:
    wang = who(engine, "wang")
    instance = engine.start("weekly_review", "qiaoyi", by=wang, variables=START)
    [task] = instance["tasks"]

    for done in range(1, ROUNDS + 1):
        if done == ROUNDS // 2:
            # Half-way, a fresh engine (another API process) loads the 1,000-round case from the database
            # alone and completes one round; the first engine's cached workflow is then stale and reloaded.
            fresh = Engine(Settings(database_url=db_url, password_profile="fast"))
            try:
                result = fresh.complete(task["id"], who(fresh, "wang"), {})
            finally:
                fresh.close()
        else:
            result = engine.complete(task["id"], wang, {})
        if done < ROUNDS:
            assert result["instance"]["status"] == "running", f"the case ended after {done} rounds"
            [task] = result["next_tasks"]
            assert task["element_id"] == "review", done
    assert result["instance"]["status"] == "completed"
    assert result["next_tasks"] == []

    case = engine.get_instance(instance["id"], by=wang)
    assert case["status"] == "completed" and case["tasks"] == []
    assert case["variables"]["rounds"] == ROUNDS
    path = engine.path(instance["id"], by=wang)
    assert "review_finished" in path["completed"] and "review_stopped" not in path["completed"]
    assert path["active"] == []
    history = engine.history(instance["id"], by=wang)
    actions = Counter(event["action"] for event in history)
    assert actions["task_completed"] == ROUNDS
    ends = [event["element_id"] for event in history if event["action"] == "end_event_reached"]
    assert ends == ["review_finished"]
    assert history[-1]["action"] == "instance_completed"
    assert engine.verify_audit(instance["id"]).ok


def test_spiffworkflow_alone_runs_a_loop_of_5000_rounds_to_its_end_event() -> None:
    """The same process in memory: 5,000 rounds, ten times past the library's old 500-round horizon."""
    rounds = 5000
    process = parse_bundle({"weekly_review.bpmn": WEEKLY_REVIEW}).processes["weekly_review"]
    workflow = BpmnWorkflow(process.spec, process.subprocess_specs, script_engine=SandboxedScriptEngine())
    workflow.task_tree.data.update(START | {"target": rounds})
    workflow.do_engine_steps()
    for done in range(1, rounds + 1):
        assert not workflow.is_completed(), f"the workflow called itself complete after {done - 1} rounds"
        [review] = workflow.get_tasks(state=TaskState.READY, manual=True)
        assert review.task_spec.bpmn_id == "review"
        review.run()
        workflow.do_engine_steps()
    assert workflow.is_completed()
    assert workflow.data["rounds"] == rounds
    # The library's own iterator walks the whole tree, past the old 1,000-level horizon, to the end event.
    completed = workflow.get_tasks(state=TaskState.COMPLETED)
    ended = [t.task_spec.bpmn_id for t in completed if t.task_spec.bpmn_id]
    assert ended.count("review") == rounds
    assert "review_finished" in ended and "review_stopped" not in ended
    [finished] = [t for t in completed if t.task_spec.bpmn_id == "review_finished"]
    assert finished.depth > 3 * rounds


def test_the_task_index_answers_as_the_task_dict_does_at_every_step_of_the_loop() -> None:
    """The index keeps its answer in creation order between changes; after every step (a task run, the engine
    run on, a cancel) the unfinished and the ready tasks it gives are exactly those the task dict holds."""
    from engine.spiff.task_index import unfinished_tasks

    process = parse_bundle({"weekly_review.bpmn": WEEKLY_REVIEW}).processes["weekly_review"]
    workflow = BpmnWorkflow(process.spec, process.subprocess_specs, script_engine=SandboxedScriptEngine())
    workflow.task_tree.data.update(START | {"target": 30})

    def agrees() -> None:
        unfinished = {t.id for t in workflow.tasks.values() if t.state & TaskState.NOT_FINISHED_MASK}
        ready = {t.id for t in workflow.tasks.values() if t.state == TaskState.READY}
        assert {t.id for t in unfinished_tasks(workflow)} == unfinished
        assert {t.id for t in workflow.get_tasks(state=TaskState.READY)} == ready
        assert len(unfinished_tasks(workflow)) == len(unfinished)  # asked twice: the kept answer is the same

    workflow.do_engine_steps()
    for _ in range(10):
        agrees()
        [review] = workflow.get_tasks(state=TaskState.READY, manual=True)
        review.run()
        agrees()
        workflow.do_engine_steps()
    agrees()
    workflow.cancel()
    agrees()
    assert unfinished_tasks(workflow) == []
