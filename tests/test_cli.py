"""The `govflow` command as an operator uses it: init, org, users, deploy, start, tasks, complete, verify."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import text

from engine.db import maintenance_warnings, make_sql_engine
from tests.conftest import DATA, PETITION_BUNDLE, ROOT

pytestmark = pytest.mark.slow


def govflow(db_url: str, *args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "engine.cli", *args],
        cwd=cwd,
        env=os.environ | {"GOVFLOW_DATABASE_URL": db_url, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=120,
    )


def ok_json(db_url: str, *args: str) -> dict:
    result = govflow(db_url, "--json", *args)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    return json.loads(result.stdout)


def test_an_operator_runs_a_petition_from_the_shell_and_a_changed_audit_row_is_named(db_url: str) -> None:
    ok_json(db_url, "init")
    ok_json(db_url, "org", "add", "sh", "--name", "上海市", "--level", "city")
    ok_json(db_url, "org", "add", "wlq", "--name", "五里桥街道", "--level", "subdistrict", "--parent", "sh")
    ok_json(db_url, "org", "add", "qiaoyi", "--name", "桥一居委会", "--level", "committee", "--parent", "wlq")
    ok_json(
        db_url,
        "user",
        "add",
        "wang",
        "--password",
        "pass-word-1",
        "--org",
        "qiaoyi",
        "--role",
        "residents_committee",
    )
    ok_json(
        db_url,
        "user",
        "add",
        "zhang",
        "--password",
        "pass-word-1",
        "--org",
        "wlq",
        "--role",
        "subdistrict_office",
    )
    deployed = ok_json(db_url, "deploy", *[str(DATA / "engine" / n) for n in PETITION_BUNDLE])
    assert deployed["processes"][0]["key"] == "petition_review"

    instance = ok_json(db_url, "start", "petition_review", "--org", "qiaoyi", "--var", "note=急")
    assert instance["status"] == "running"
    inbox = ok_json(db_url, "tasks", "--user", "wang")
    assert [t["element_id"] for t in inbox["items"]] == ["register_issue"]
    task = inbox["items"][0]
    assert set(task) >= {"id", "instance_id", "element_id", "name", "status", "assignee", "candidate"}

    bad = govflow(db_url, "complete", task["id"], "--user", "wang", "--data", '{"title": ""}')
    assert bad.returncode == 1
    assert "proposer_count" in bad.stderr and "Traceback" not in bad.stderr

    done = ok_json(
        db_url,
        "complete",
        task["id"],
        "--user",
        "wang",
        "--data",
        '{"title": "加装电梯", "proposer_count": 30, "eligible_count": 100}',
    )
    review = done["next_tasks"][0]
    ok_json(db_url, "complete", review["id"], "--user", "zhang", "--data", '{"decision": "approve"}')
    shown = ok_json(db_url, "show", instance["id"])
    assert shown["status"] == "completed"
    assert ok_json(db_url, "audit", "verify")["ok"] is True

    unknown = govflow(db_url, "tasks", "--user", "nobody")
    assert unknown.returncode == 1 and "nobody" in unknown.stderr and "Traceback" not in unknown.stderr

    # someone with database access edits what wang submitted (dropping the guard triggers first)
    sql = make_sql_engine(db_url)
    with sql.begin() as conn:
        if sql.dialect.name == "postgresql":
            conn.execute(text("ALTER TABLE audit_event DISABLE TRIGGER audit_event_append_only"))
        else:
            conn.execute(text("DROP TRIGGER audit_event_no_update"))
        conn.execute(
            text(
                "UPDATE audit_event SET actor = 'zhang' WHERE stream = :s AND action = 'task_completed' "
                "AND element_id = 'register_issue'"
            ),
            {"s": instance["id"]},
        )
    try:
        broken = govflow(db_url, "audit", "verify")
        assert broken.returncode == 1
        assert instance["id"] in broken.stdout
        assert "row 3" in broken.stdout and "changed" in broken.stdout
    finally:
        if sql.dialect.name == "postgresql":  # the PostgreSQL test database is shared by later tests
            with sql.begin() as conn:
                conn.execute(text("ALTER TABLE audit_event ENABLE TRIGGER audit_event_append_only"))
        sql.dispose()


def test_init_warns_the_operator_when_postgresqls_autovacuum_is_off(db_url: str) -> None:
    sql = make_sql_engine(db_url)
    try:
        autovacuum = "on"
        if sql.dialect.name == "postgresql":
            with sql.connect() as connection:
                autovacuum = connection.execute(text("SHOW autovacuum")).scalar_one()
    finally:
        sql.dispose()

    result = govflow(db_url, "init")
    warnings = ok_json(db_url, "init")["warnings"]

    assert result.returncode == 0, result.stderr
    if autovacuum == "on":  # SQLite, or a server that keeps its tables vacuumed and analyzed
        assert warnings == [] and "warning" not in result.stdout
    else:
        assert len(warnings) == 1 and "autovacuum is off" in warnings[0]
        assert f"warning: {warnings[0]}" in result.stdout.splitlines()


def test_bad_input_gets_one_line_and_a_nonzero_exit(db_url: str, tmp_path: Path) -> None:
    ok_json(db_url, "init")
    not_xml = tmp_path / "broken.bpmn"
    not_xml.write_text("this is not xml")
    result = govflow(db_url, "deploy", str(not_xml))
    assert result.returncode == 1
    assert "broken.bpmn" in result.stderr and "Traceback" not in result.stderr
    missing = govflow(db_url, "start", "no_such_process", "--org", "x")
    assert missing.returncode == 1 and "no_such_process" in missing.stderr
    bad_json = govflow(db_url, "complete", "t1", "--user", "u", "--data", "{nope")
    assert bad_json.returncode == 1 and "not valid JSON" in bad_json.stderr


def test_serve_answers_health_checks_through_gunicorn_and_says_where_in_json(db_url: str) -> None:
    import socket
    import time
    import urllib.request

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen(
        [sys.executable, "-m", "engine.cli", "serve", "--port", str(port), "--workers", "1", "--json"],
        cwd=ROOT,
        env=os.environ | {"GOVFLOW_DATABASE_URL": db_url, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/healthz", timeout=2) as response:
                    body = json.loads(response.read())
                    break
            except OSError:
                assert server.poll() is None, server.stderr.read().decode()
                assert time.monotonic() < deadline, "gunicorn did not come up"
                time.sleep(0.2)
        assert body == {"status": "ok", "database": make_sql_engine(db_url).dialect.name}
    finally:
        server.terminate()
        server.wait(20)
    # --json, like every other command: stdout starts with where it serves; gunicorn logs on stderr
    said, _end = json.JSONDecoder().raw_decode(server.stdout.read().decode())
    sql = make_sql_engine(db_url)
    try:
        expected_warnings = maintenance_warnings(sql)  # PostgreSQL's autovacuum off: one sentence
    finally:
        sql.dispose()
    assert said == {"url": f"http://127.0.0.1:{port}", "workers": 1, "warnings": expected_warnings}
    assert b"gunicorn" in server.stderr.read().lower()
