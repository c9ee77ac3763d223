"""The benchmark harness's own code paths, at tiny sizes (nothing here measures or depends on time):
the city data generator builds a consistent database the API can page, migration 0010's indexes are there
on both databases, and `make bench` writes results.json in the shape issue 9 asks for."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import create_engine, text

from bench import city_data, city_inbox
from engine import Engine
from engine.commands import queries
from engine.config import Settings
from engine.db import normalize_url

TINY = city_data.Sizes(tasks=300, open_tasks=30, committees=12, subdistricts=3)
STATUSES = ("open", "completed")


def _pages(client, path: str, token: str, **filters: str) -> list[dict]:  # noqa: ANN001 - Flask's test client
    """Every item of a list, following next_cursor page by page (7 a page)."""
    items: list[dict] = []
    cursor = None
    while True:
        query = filters | {"limit": 7} | ({"cursor": cursor} if cursor else {})
        response = client.get(path, query_string=query, headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 200, response.json
        items += response.json["items"]
        cursor = response.json["next_cursor"]
        if cursor is None:
            return items


def test_the_city_data_generator_builds_a_consistent_database_the_api_pages(db_url: str, tmp_path: Path) -> None:
    city = city_data.generate(db_url, TINY, quiet=True)
    sql = create_engine(normalize_url(db_url))
    with sql.connect() as conn:
        statuses = dict(conn.execute(text("SELECT status, count(*) FROM human_task GROUP BY status")).all())
        assert statuses == {"open": TINY.open_tasks, "completed": TINY.tasks - TINY.open_tasks}
        levels = dict(conn.execute(text("SELECT level, count(*) FROM org_unit GROUP BY level")).all())
        assert levels["committee"] == TINY.committees and levels["subdistrict"] == TINY.subdistricts
        # every task belongs to an instance of the same unit and path; an open task to a running instance
        mismatched = conn.execute(
            text(
                "SELECT count(*) FROM human_task t LEFT JOIN process_instance i ON i.id = t.instance_id "
                "WHERE i.id IS NULL OR i.org_code <> t.org_code OR i.org_path <> t.org_path "
                "OR (t.status = 'open' AND i.status <> 'running')"
            )
        ).scalar_one()
        assert mismatched == 0
        # every path is its unit's path in the org tree
        assert (
            conn.execute(
                text(
                    "SELECT count(*) FROM human_task t JOIN org_unit u ON u.code = t.org_code "
                    "WHERE u.path <> t.org_path"
                )
            ).scalar_one()
            == 0
        )
        running = conn.execute(text("SELECT count(*) FROM process_instance WHERE status = 'running'")).scalar_one()
        instances = conn.execute(text("SELECT count(*) FROM process_instance")).scalar_one()
        events = dict(conn.execute(text("SELECT instance_id IS NULL, count(*) FROM audit_event GROUP BY 1")).all())
    sql.dispose()
    # per case: started, each task created, each finished task completed, each finished case completed
    assert events[False] == 2 * TINY.tasks - TINY.open_tasks + 2 * instances - running
    assert running == TINY.open_tasks

    from api import create_app

    engine = Engine(Settings(database_url=db_url, data_dir=str(tmp_path)))
    try:
        client = create_app({"GOVFLOW_ENGINE": engine, "TESTING": True}).test_client()

        def token(username: str) -> str:
            response = client.post("/api/v1/auth/token", json={"username": username, "password": city_data.PASSWORD})
            assert response.status_code == 200, response.json
            return response.json["access_token"]

        found = _pages(client, "/api/v1/process-instances", token(city.auditor))
        assert len(found) == instances == len({i["id"] for i in found})
        assert [i["started_at"] for i in found] == sorted((i["started_at"] for i in found), reverse=True)

        official = city.officials[0]
        tasks = _pages(client, "/api/v1/tasks", token(official), scope="all")
        code = official.removeprefix("rc_")
        assert tasks and {t["candidate"]["org_unit"] for t in tasks} == {code}
        assert Counter(t["status"] for t in tasks) == Counter({"open": len(tasks)})
        assert len(tasks) == len({t["id"] for t in tasks})

        # the audit trail: every case's chain verifies, and the auditor's filters find what it records
        auditor = token(city.auditor)
        verified = client.get("/api/v1/audit/verify", headers={"Authorization": f"Bearer {auditor}"}).json
        assert verified["ok"] and verified["checked"] == sum(events.values())
        acted = _pages(client, "/api/v1/process-instances", auditor, actor=official)
        assert acted and {i["org_unit"] for i in acted} == {code}
        assert {t["instance_id"] for t in tasks} <= {i["id"] for i in acted}  # they started every case of their unit
        # the bench's city-wide task lists: each order of each status, the auditor's first page of them all;
        # each search finds every task of the status whose name or case number holds its text
        every = {status: _pages(client, "/api/v1/tasks", auditor, scope="all", status=status) for status in STATUSES}
        searched = 0
        for path in city_inbox.auditor_task_lists(city):
            filters = {k: v[0] for k, v in parse_qs(urlsplit(path).query).items()}
            if "q" not in filters:
                page = client.get(f"/api/v1{path}", headers={"Authorization": f"Bearer {auditor}"})
                assert page.status_code == 200 and page.json["items"], (path, page.json)
                assert {t["status"] for t in page.json["items"]} == {filters["status"]}, path
                continue
            wanted = filters["q"]
            expected = [t for t in every[filters["status"]] if wanted in t["name"] or wanted in t["business_key"]]
            for few_rows in (queries.FEW_ROWS, 1):  # walked, as so few tasks are; the cases first, as a city's
                with pytest.MonkeyPatch.context() as patch:
                    patch.setattr(queries, "FEW_ROWS", few_rows)
                    found = _pages(client, "/api/v1/tasks", auditor, **filters)
                assert sorted(t["id"] for t in found) == sorted(t["id"] for t in expected), (path, few_rows)
            searched += bool(found)
        assert searched >= 6  # the case numbers and the steps' names are there to be found
        # the statistics of the whole city, counted by the database: every case, every task at a committee
        stats = client.get("/api/v1/audit/statistics", headers={"Authorization": f"Bearer {auditor}"})
        assert stats.status_code == 200, stats.json
        assert stats.json["instances"]["running"] == running and sum(stats.json["instances"].values()) == instances
        assert sum(step["tasks"] for step in stats.json["steps"]) == TINY.tasks
        assert sum(c["total"] for c in stats.json["committee_load"]["committees"]) == TINY.tasks
        late = _pages(client, "/api/v1/process-instances", auditor, missed_deadline="true")
        on_time = _pages(client, "/api/v1/process-instances", auditor, missed_deadline="false")
        assert late and on_time and len(late) + len(on_time) == instances
    finally:
        engine.close()


def test_migration_0010_indexes_are_there(db_url: str) -> None:
    sql = create_engine(normalize_url(db_url))
    try:
        with sql.connect() as conn:
            if sql.dialect.name == "sqlite":
                rows = conn.execute(text("SELECT name, sql FROM sqlite_master WHERE type = 'index'")).all()
            else:
                rows = conn.execute(text("SELECT indexname, indexdef FROM pg_indexes")).all()
        indexes = {name: definition or "" for name, definition in rows}
        assert "ix_process_instance_status_started" in indexes
        assert "id" in indexes["ix_process_instance_started"]
        if sql.dialect.name == "postgresql":
            assert "text_pattern_ops" in indexes["ix_process_instance_business_key"]
    finally:
        sql.dispose()


def test_make_bench_writes_one_row_per_figure_in_the_issues_shape(tmp_path: Path) -> None:
    from bench import run

    output = tmp_path / "results.json"
    run.main(["--smoke", "--only", "engine", "--skip-postgres", "--output", str(output)])
    rows = json.loads(output.read_text())
    assert rows and isinstance(rows, list)
    for row in rows:
        assert {"name", "value", "unit", "baseline", "ratio", "target", "met"} <= set(row)
        assert isinstance(row["value"], float) and isinstance(row["met"], bool)
        assert row["ratio"] == row["value"] / row["baseline"]
    throughput = next(row for row in rows if row["name"] == "throughput in-process, SQLite")
    assert "durable transaction here" in throughput["note"] and "cap the ratio at" in throughput["note"]
    assert "the hypervisor held back" in throughput["note"]


def test_the_commit_floor_is_measured_on_the_engines_own_connections_and_leaves_nothing(db_url: str) -> None:
    from bench import engine as eb

    engine = eb.prepared_engine(db_url)
    try:
        floor = eb.durable_commit_ms(engine, 20)
        assert floor > 0
        with engine.sql.connect() as conn:
            assert "bench_commit_floor" not in engine.sql.dialect.get_table_names(conn)
        # the engine still works on the same database afterwards
        wang = engine.principal("wang")
        assert engine.start("bench_deliberation", "qiaoyi", by=wang)["tasks"]
    finally:
        engine.close()


@pytest.fixture
def bench_sqlite(tmp_path: Path) -> Iterator[tuple[Engine, str]]:
    """The bench's own engine (org, official, processes) on a fresh SQLite file, and its URL."""
    from bench import engine as eb

    url = f"sqlite:///{tmp_path / 'bench.db'}"
    engine = eb.prepared_engine(url)
    yield engine, url
    engine.close()


def test_the_paired_run_takes_every_instance_through_govflow_and_times_both_sides(
    bench_sqlite: tuple[Engine, str],
) -> None:
    from bench import engine as eb

    engine, _url = bench_sqlite
    govflow_s, memory_s = eb.paired_run(engine, 7, slices=3)  # slices of 2, 2 and 3 instances
    assert govflow_s > 0 and memory_s > 0
    with engine.sql.connect() as conn:
        statuses = conn.execute(text("SELECT status, count(*) FROM process_instance GROUP BY status")).all()
    assert dict(statuses) == {"completed": 7}


def test_the_history_costs_complete_a_task_on_each_history_length_in_turn(bench_sqlite: tuple[Engine, str]) -> None:
    from bench import engine as eb

    engine, url = bench_sqlite
    costs = eb.history_costs(engine, url, [2, 6], samples=3)
    assert set(costs) == {2, 6} and all(hot > 0 and cold > 0 for hot, cold in costs.values())
    with engine.sql.connect() as conn:
        completed = conn.execute(
            text(
                "SELECT instance_id, count(*) FROM human_task WHERE status = 'completed' "
                "GROUP BY instance_id ORDER BY count(*)"
            )
        ).all()
    # a round completes the review (and the gateway): 1 and 3 rounds, then 3 hot and 3 cold samples each
    assert [n for _instance, n in completed] == [1 + 3 + 3, 3 + 3 + 3]


def test_the_instruction_counts_child_runs_each_side_to_the_end(tmp_path: Path) -> None:
    """What bench/instructions.py runs under callgrind, here without it (callgrind is slow)."""
    from bench import instructions

    url = f"sqlite:///{tmp_path / 'bench.db'}"
    for side in ("memory", url):
        instructions.main(["--child", side, "2"])
    with create_engine(url).connect() as conn:
        completed = conn.execute(text("SELECT count(*) FROM process_instance WHERE status = 'completed'")).scalar()
    assert completed == instructions.WARM_UP + 2


def test_the_commit_ceiling_counts_four_commits_an_instance() -> None:
    from bench import engine as eb

    # in memory 1 ms an instance; four commits of 0.25 ms double it: at most half the in-memory rate
    assert eb.commit_ceiling(1000.0, 0.25) == 0.5
    assert eb.commit_ceiling(1000.0, 0.0) == 1.0


def test_the_cpu_meter_counts_a_busy_server_process_and_the_machine() -> None:
    import subprocess
    import sys

    from bench import cpu

    # a stand-in server: a process that spins through a fixed amount of work, then waits to be read
    busy = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys; sum(range(30_000_000)); sys.stdout.write('done\\n'); sys.stdout.flush(); input()",
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        meter = cpu.Meter([busy.pid])
        meter.start()
        assert busy.stdout.readline() == "done\n"
        usage = meter.stop()
        assert usage.servers > 0
        assert usage.busy >= usage.servers * 0.5  # the machine's count includes the process (ticks round)
        assert 0 <= usage.idle <= cpu.CORES
    finally:
        busy.communicate("\n", timeout=30)
    assert cpu.process_seconds(busy.pid) == 0.0  # gone: nothing to read


def test_the_scale_out_ceiling_is_every_core_but_the_others_at_the_runs_cost_per_instance() -> None:
    from bench import cpu

    usage = cpu.Usage(seconds=10, servers=1.2, postgres=0.3, clients=0.1, busy=1.8, stolen=0.1)
    assert usage.other == pytest.approx(0.2)
    assert usage.idle == pytest.approx(cpu.CORES - 1.9)
    # 1.6 cores for 40 instances/s: 0.04 CPU seconds an instance; on two cores (2 - 0.2 - 0.1) / 0.04 = 42.5
    assert cpu.ceiling(usage, 40.0) == pytest.approx((cpu.CORES - 0.3) / 0.04)


def test_a_throughput_run_whose_requests_failed_meets_no_target(tmp_path: Path) -> None:
    """A run that measured refusals (here every start names an org unit there is none of) reports how many
    requests failed and the first answer, and its row says NO whatever the figure."""
    from bench import engine as bench_engine
    from bench.http_load import drive
    from bench.report import Row, table
    from bench.server import serving

    url = f"sqlite:///{tmp_path / 'bench.db'}"
    bench_engine.prepared_engine(url).close()
    with serving(url, tmp_path / "serve.log", workers=1) as server:
        result = drive(server.port, clients=1, seconds=0.5, org_unit="nowhere")
    assert result["instances"] == 0 and result["errors"] > 0
    assert result["first_error"].startswith("POST /process-instances: 4"), result["first_error"]
    assert "nowhere" in result["first_error"]
    failed = Row("HTTP throughput", 500.0, "instances/s", 88.0, "value >= 300", errors=result["errors"])
    assert Row("HTTP throughput", 500.0, "instances/s", 88.0, "value >= 300").met is True
    assert failed.met is False and failed.as_dict()["errors"] == result["errors"]
    assert table([failed]).splitlines()[2].endswith("NO")


def test_the_wal_page_count_reads_every_command_commit_and_names_its_pages() -> None:
    """Each of the 4 commands of an instance is one commit in the log, and what it wrote is named by B-tree:
    the case's row, its inbox rows, its task rows and its audit events, with their indexes."""
    from bench import wal_pages

    commits, by_tree = wal_pages.measure(instances=3, warm_up=2)
    assert commits == 12
    for tree in ("process_instance", "human_task", "workflow_task", "audit_event", "ix_human_task_candidate"):
        assert by_tree[tree] >= 1, (tree, by_tree)
    assert "ix_human_task_org" not in by_tree  # dropped by 0014
    assert sum(by_tree.values()) / commits > 10


def test_a_machine_busy_throughout_has_no_idle_time_not_a_negative_one() -> None:
    """Busy and stolen shares of one count of jiffies can sum past the cores by a rounding error (seen in
    CI on 2 cores: busy 1.98095..., stolen 0.01904..., idle -6.9e-17): the idle cores are then none."""
    from bench.cpu import CORES, Usage

    stolen = 0.01904761904761905
    full = Usage(seconds=0.52, servers=0.97, postgres=0.0, clients=0.0, busy=CORES - stolen + 1e-15, stolen=stolen)
    assert CORES - full.busy - full.stolen < 0 and full.idle == 0.0
    half = Usage(seconds=1.0, servers=0.5, postgres=0.0, clients=0.0, busy=CORES / 2, stolen=0.25)
    assert half.idle == CORES / 2 - 0.25
