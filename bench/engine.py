"""Engine benchmark: in-memory SpiffWorkflow vs govflow persisted on SQLite and on PostgreSQL.

Prints two tables and writes bench/results/engine.json:
1. throughput of a small deliberation-like process (3 user tasks, a script, a gateway; 4 commands per
   instance: start + 3 completions), in instances/s and as a ratio to in-memory SpiffWorkflow timed in
   slices taking turns with govflow's, with the ceiling a commit per command sets (a bare one-row
   durable transaction on the same database);
2. the cost of one command on an instance that already has 10, 100 and 1,000 completed tasks (a
   loop), with the live workflow cached (hot) and loaded from the database (cold), the instances taking
   turns sample by sample.

Usage: python bench/engine.py [--instances N] [--skip-postgres]
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from SpiffWorkflow.bpmn.workflow import BpmnWorkflow  # noqa: E402
from SpiffWorkflow.spiff.parser.process import SpiffBpmnParser  # noqa: E402
from SpiffWorkflow.util.task import TaskState  # noqa: E402
from sqlalchemy import create_engine, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from engine import Engine  # noqa: E402
from engine.config import Settings  # noqa: E402
from engine.db import dialect_name, make_sql_engine, normalize_url  # noqa: E402
from engine.migrate import upgrade  # noqa: E402

PG_URL = os.environ.get("GOVFLOW_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")

LANES = """
    <bpmn:extensionElements><spiffworkflow:properties>
      <spiffworkflow:property name="matterKind" value="self_governance"/>
    </spiffworkflow:properties></bpmn:extensionElements>
    <bpmn:laneSet id="lanes">
      <bpmn:lane id="residents_committee" name="居民委员会">{nodes}</bpmn:lane>
    </bpmn:laneSet>"""

DELIBERATION = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core" id="d" targetNamespace="bench">
  <bpmn:process id="bench_deliberation" name="议事（基准）" isExecutable="true">{lanes}
    <bpmn:startEvent id="start"/>
    <bpmn:userTask id="register_issue" name="登记议题"/>
    <bpmn:scriptTask id="score"><bpmn:script>share = proposer_count / 100</bpmn:script></bpmn:scriptTask>
    <bpmn:exclusiveGateway id="route" default="to_decide"/>
    <bpmn:userTask id="consult" name="协商"/>
    <bpmn:userTask id="decide" name="决议"/>
    <bpmn:endEvent id="end"/>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="register_issue"/>
    <bpmn:sequenceFlow id="f2" sourceRef="register_issue" targetRef="score"/>
    <bpmn:sequenceFlow id="f3" sourceRef="score" targetRef="route"/>
    <bpmn:sequenceFlow id="to_consult" sourceRef="route" targetRef="consult">
      <bpmn:conditionExpression>share &gt;= 0.2</bpmn:conditionExpression>
    </bpmn:sequenceFlow>
    <bpmn:sequenceFlow id="to_decide" sourceRef="route" targetRef="decide"/>
    <bpmn:sequenceFlow id="f4" sourceRef="consult" targetRef="decide"/>
    <bpmn:sequenceFlow id="f5" sourceRef="decide" targetRef="end"/>
  </bpmn:process>
</bpmn:definitions>
""".format(
    lanes=LANES.format(
        nodes="".join(
            f"<bpmn:flowNodeRef>{n}</bpmn:flowNodeRef>"
            for n in ["start", "register_issue", "score", "route", "consult", "decide", "end"]
        )
    )
)

LOOP = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core" id="l" targetNamespace="bench">
  <bpmn:process id="bench_loop" name="循环复核（基准）" isExecutable="true">{lanes}
    <bpmn:startEvent id="start"/>
    <bpmn:userTask id="review" name="复核"/>
    <bpmn:exclusiveGateway id="again" default="done"/>
    <bpmn:endEvent id="end"/>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="review"/>
    <bpmn:sequenceFlow id="f2" sourceRef="review" targetRef="again"/>
    <bpmn:sequenceFlow id="loop" sourceRef="again" targetRef="review">
      <bpmn:conditionExpression>more</bpmn:conditionExpression>
    </bpmn:sequenceFlow>
    <bpmn:sequenceFlow id="done" sourceRef="again" targetRef="end"/>
  </bpmn:process>
</bpmn:definitions>
""".format(
    lanes=LANES.format(
        nodes="".join(f"<bpmn:flowNodeRef>{n}</bpmn:flowNodeRef>" for n in ["start", "review", "again", "end"])
    )
)

USER_DATA = [{"proposer_count": 30}, {"opinion": "同意"}, {"passed": True}]


# --- in-memory SpiffWorkflow --------------------------------------------------------------------


def memory_spec() -> object:
    parser = SpiffBpmnParser()
    parser.add_bpmn_str(DELIBERATION.encode(), "bench.bpmn")
    return parser.get_spec("bench_deliberation")


def in_memory(n: int, spec: object) -> float:
    started = time.perf_counter()
    for _ in range(n):
        workflow = BpmnWorkflow(spec)
        workflow.do_engine_steps()
        for data in USER_DATA:
            task = workflow.get_next_task(state=TaskState.READY, manual=True)
            task.data.update(data)
            task.run()
            workflow.do_engine_steps()
        assert workflow.is_completed()
    return time.perf_counter() - started


# --- govflow ---------------------------------------------------------------------------------------


def prepared_engine(url: str) -> Engine:
    sql = make_sql_engine(url)
    upgrade(sql)
    sql.dispose()
    engine = Engine(Settings(database_url=url))
    engine.add_org_unit("sh", "上海市", "city", None)
    engine.add_org_unit("wlq", "五里桥街道", "subdistrict", "sh")
    engine.add_org_unit("qiaoyi", "桥一居委会", "committee", "wlq", "residents")
    engine.add_user("wang", "bench-password", [("residents_committee", "qiaoyi")])
    engine.deploy({"bench.bpmn": DELIBERATION.encode(), "loop.bpmn": LOOP.encode()})
    return engine


def govflow_run(engine: Engine, n: int) -> float:
    wang = engine.principal("wang")
    started = time.perf_counter()
    for i in range(n):
        instance = engine.start("bench_deliberation", "qiaoyi", by=wang, business_key=f"B-{i}")
        task_id = instance["tasks"][0]["id"]
        for data in USER_DATA:
            result = engine.complete(task_id, wang, data)
            task_id = result["next_tasks"][0]["id"] if result["next_tasks"] else None
        assert result["instance"]["status"] == "completed"
    return time.perf_counter() - started


PAIRED_SLICES = 10


def paired_run(engine: Engine, n: int, slices: int = PAIRED_SLICES) -> tuple[float, float]:
    """Seconds for n instances through govflow and for the same n in memory, measured in alternating slices.

    This VM's cores change speed from minute to minute (a bare Python loop took 0.41 to 0.59 s within one
    minute); timing the in-memory baseline once, before govflow's run of ten seconds or more, put that
    drift into the ratio. Slice by slice, both meet the same machine.
    """
    spec = memory_spec()
    in_memory(5, spec)  # warm-up
    govflow_s = memory_s = 0.0
    done = 0
    for k in range(slices):
        size = n * (k + 1) // slices - done
        gc.collect()  # neither side pays for the garbage the other left
        memory_s += in_memory(size, spec)
        gc.collect()
        govflow_s += govflow_run(engine, size)
        done += size
    return govflow_s, memory_s


def history_costs(engine: Engine, url: str, completed: list[int], samples: int = 15) -> dict[int, tuple[float, float]]:
    """Median ms of one completion on instances with these many completed tasks: hot and cold cache.

    One instance per history length, built first; then the samples take turns between them, so the drift of
    this VM's cores (see `paired_run`) meets every length alike instead of the one measured last.
    """
    wang = engine.principal("wang")
    task_ids: dict[int, str] = {}
    for tasks in completed:
        task_id = engine.start("bench_loop", "qiaoyi", by=wang)["tasks"][0]["id"]
        # each round completes two tasks (the review and the gateway)
        for _ in range(max(0, tasks // 2)):
            task_id = engine.complete(task_id, wang, {"more": True})["next_tasks"][0]["id"]
        task_ids[tasks] = task_id
    hot: dict[int, list[float]] = {tasks: [] for tasks in completed}
    for _ in range(samples):
        for tasks in completed:
            t0 = time.perf_counter()
            task_ids[tasks] = engine.complete(task_ids[tasks], wang, {"more": True})["next_tasks"][0]["id"]
            hot[tasks].append(time.perf_counter() - t0)
    cold: dict[int, list[float]] = {tasks: [] for tasks in completed}
    for _ in range(max(3, samples // 3)):
        for tasks in completed:
            fresh = Engine(Settings(database_url=url, live_cache_size=0))
            principal = fresh.principal("wang")
            t0 = time.perf_counter()
            task_ids[tasks] = fresh.complete(task_ids[tasks], principal, {"more": True})["next_tasks"][0]["id"]
            cold[tasks].append(time.perf_counter() - t0)
            fresh.close()
    return {tasks: (statistics.median(hot[tasks]) * 1000, statistics.median(cold[tasks]) * 1000) for tasks in completed}


COMMANDS_PER_INSTANCE = 4  # start + 3 completions


WARM_UP_INSTANCES = 100


def warm_up(engine: Engine, url: str, instances: int = WARM_UP_INSTANCES) -> str:
    """Caches filled and, on PostgreSQL, the tables settled with some history in them; a note for the row."""
    govflow_run(engine, instances)
    return settle(url)


def settle(url: str) -> str:
    """`VACUUM ANALYZE` a PostgreSQL bench database, as autovacuum would keep a database in service; a note.

    A bench database starts empty and grows by hundreds of instances a minute. Without statistics PostgreSQL
    keeps the plans it made for nearly empty tables (psycopg prepares each statement after five runs), and
    without vacuum every changed row leaves a dead one behind: the command's lookup of an instance's open
    tasks became a sequential scan, 2.6 ms a run after 1,600 instances where a task row read took 0.44 ms
    at first, and autovacuum, which would have fixed both, is off on this machine's server. SQLite needs
    neither.
    """
    if dialect_name(url) != "postgresql":
        return ""
    admin = create_engine(normalize_url(url), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            autovacuum = connection.execute(text("SHOW autovacuum")).scalar_one()
            connection.execute(text("VACUUM ANALYZE"))
    finally:
        admin.dispose()
    return f"VACUUM ANALYZE before measuring (the server's autovacuum is {autovacuum})"


def durable_commit_ms(engine: Engine, n: int = 2000) -> float:
    """Mean ms of the cheapest durable write on the engine's own connection: one short row a transaction.

    A command commits once, so this is a floor under a command's cost that no change in govflow's code
    lowers (SQLite in WAL mode with synchronous as configured, PostgreSQL with its fsync on commit).
    """
    table = "bench_commit_floor"
    sqlite = engine.dialect == "sqlite"
    connection = engine.sql.raw_connection()
    try:
        cursor = connection.cursor()
        key = "INTEGER PRIMARY KEY" if sqlite else "SERIAL PRIMARY KEY"
        cursor.execute(f"CREATE TABLE {table} (id {key}, body TEXT)")
        connection.commit()
        row = f"INSERT INTO {table} (body) VALUES ({'?' if sqlite else '%s'})"
        started = time.perf_counter()
        for i in range(n):
            if sqlite:  # the engine's connections issue BEGIN themselves (isolation_level None)
                cursor.execute("BEGIN IMMEDIATE")
            cursor.execute(row, (f"command {i}",))
            if sqlite:
                cursor.execute("COMMIT")
            else:
                connection.commit()
        elapsed = time.perf_counter() - started
        cursor.execute(f"DROP TABLE {table}")
        connection.commit()
    finally:
        connection.close()
    return elapsed / n * 1000


def commit_ceiling(in_memory_per_s: float, commit_ms: float) -> float:
    """The highest ratio to in-memory SpiffWorkflow a commit per command allows if nothing else cost."""
    in_memory_ms = 1000 / in_memory_per_s
    return in_memory_ms / (in_memory_ms + COMMANDS_PER_INSTANCE * commit_ms)


def pg_database() -> tuple[str, callable]:
    admin = create_engine(normalize_url(PG_URL), isolation_level="AUTOCOMMIT")
    name = f"govflow_bench_{uuid.uuid4().hex[:8]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(normalize_url(PG_URL)).set(database=name).render_as_string(hide_password=False)

    def drop() -> None:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    return url, drop


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--instances", type=int, default=300)
    parser.add_argument("--skip-postgres", action="store_true")
    parser.add_argument("--history", default="10,100,1000")
    args = parser.parse_args()
    n = args.instances
    depths = [int(d) for d in args.history.split(",")]

    results: dict = {"instances": n, "throughput": [], "history": []}

    backends: list[tuple[str, str, callable | None]] = []
    tmp = tempfile.TemporaryDirectory()
    backends.append(("govflow SQLite file (WAL)", f"sqlite:///{Path(tmp.name) / 'bench.db'}", None))
    if not args.skip_postgres:
        url, drop = pg_database()
        backends.append(("govflow PostgreSQL", url, drop))

    for label, url, drop in backends:
        engine = prepared_engine(url)
        try:
            warm_up(engine, url)
            seconds, memory_s = paired_run(engine, n)
            floor = durable_commit_ms(engine)
            results["throughput"].append(
                {
                    "backend": label,
                    "seconds": seconds,
                    "per_s": n / seconds,
                    "in_memory_per_s": n / memory_s,
                    "commit_floor_ms": floor,
                }
            )
            for depth, (hot, cold) in history_costs(engine, url, depths).items():
                results["history"].append({"backend": label, "completed_tasks": depth, "hot_ms": hot, "cold_ms": cold})
        finally:
            engine.close()
            if drop:
                drop()
    tmp.cleanup()

    print(f"\nThroughput: {n} instances, 4 commands each (start + 3 completions)\n")
    print(f"{'backend':<28} {'seconds':>9} {'instances/s':>12} {'in memory/s':>12} {'ratio':>7}")
    for row in results["throughput"]:
        row["ratio"] = row["per_s"] / row["in_memory_per_s"]
        print(
            f"{row['backend']:<28} {row['seconds']:>9.2f} {row['per_s']:>12.1f} {row['in_memory_per_s']:>12.1f} "
            f"{row['ratio']:>6.2f}x"
        )
    print("  in memory/s: in-memory SpiffWorkflow, the same instances timed in slices taking turns with govflow's")
    for row in results["throughput"]:
        cap = commit_ceiling(row["in_memory_per_s"], row["commit_floor_ms"])
        print(
            f"  {row['backend']}: a bare one-row durable transaction takes {row['commit_floor_ms']:.3f} ms; "
            f"{COMMANDS_PER_INSTANCE} an instance and nothing else would cap the ratio at {cap:.2f}x"
        )
    print("\nCost of one command vs the instance's history (median ms)\n")
    print(f"{'backend':<28} {'completed tasks':>15} {'hot (cached)':>13} {'cold (loaded)':>14}")
    for row in results["history"]:
        print(f"{row['backend']:<28} {row['completed_tasks']:>15} {row['hot_ms']:>13.2f} {row['cold_ms']:>14.2f}")
    for label in {r["backend"] for r in results["history"]}:
        rows = sorted((r for r in results["history"] if r["backend"] == label), key=lambda r: r["completed_tasks"])
        if len(rows) > 1:
            print(
                f"  {label}: hot cost at {rows[-1]['completed_tasks']} / at {rows[0]['completed_tasks']} = "
                f"{rows[-1]['hot_ms'] / rows[0]['hot_ms']:.1f}x"
            )
    out = ROOT / "bench" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / "engine.json").write_text(json.dumps(results, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
