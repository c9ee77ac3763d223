"""The REST API as deployed: `govflow serve` (gunicorn, two worker processes) spoken to over real HTTP.

A designer deploys, officials work a petition through to the end, an auditor verifies the chain; then two
officials of the same subdistrict complete the same review at the same moment, round after round, and
exactly one of them wins each time. On SQLite and PostgreSQL.
"""

from __future__ import annotations

import json
import os
import threading
from contextlib import ExitStack
from pathlib import Path

import httpx
import pytest

from tests.conftest import DATA, PETITION_BUNDLE
from tests.serving import Server

pytestmark = pytest.mark.slow

ISSUE = {"title": "加装电梯", "proposer_count": 30, "eligible_count": 100}
RACE_ROUNDS = 6


def deploy_petition(server: Server) -> None:
    with server.client("designer") as designer:
        files = [("files", (name, (DATA / "engine" / name).read_bytes())) for name in PETITION_BUNDLE]
        response = designer.post("/deployments", files=files)
        assert response.status_code == 201, response.text
        assert [(p["key"], p["version"]) for p in response.json()["processes"]] == [("petition_review", 1)]


def start_to_review(wang: httpx.Client, business_key: str) -> tuple[str, str]:
    """An instance started and registered by wang; returns it and its open review task."""
    body = {"process_key": "petition_review", "org_unit": "qiaoyi", "business_key": business_key}
    started = wang.post("/process-instances", json=body)
    assert started.status_code == 201, started.text
    instance = started.json()
    [register] = instance["tasks"]
    assert register["element_id"] == "register_issue"
    done = wang.post(f"/tasks/{register['id']}/complete", json={"data": ISSUE})
    assert done.status_code == 200, done.text
    [review] = done.json()["next_tasks"]
    assert review["element_id"] == "review_petition"
    assert review["candidate"] == {"role": "subdistrict_office", "org_unit": "wlq"}
    return instance["id"], review["id"]


def test_a_petition_is_deployed_worked_and_verified_over_http(server: Server, db_url: str) -> None:
    with server.client() as anonymous:
        health = anonymous.get("/healthz").json()
        assert health == {"status": "ok", "database": "postgresql" if db_url.startswith("postgresql") else "sqlite"}
        assert httpx.get(f"{server.url}/healthz", timeout=10).json() == health  # where load balancers look
    deploy_petition(server)

    with server.client("wang") as wang, server.client("zhang") as zhang, server.client("auditor") as auditor:
        assert wang.get("/me").json()["org_unit"] == "qiaoyi"
        instance_id, review_id = start_to_review(wang, "YT-2024-001")
        assert [t["id"] for t in zhang.get("/tasks", params={"scope": "candidate"}).json()["items"]] == [review_id]

        reviewed = zhang.post(f"/tasks/{review_id}/complete", json={"data": {"decision": "approve"}})
        assert reviewed.status_code == 200, reviewed.text
        assert reviewed.json() == {
            "instance": {"id": instance_id, "status": "completed", "error": None},
            "next_tasks": [],
        }

        history = auditor.get(f"/process-instances/{instance_id}/history")
        assert history.status_code == 200, history.text
        events = history.json()["items"]
        assert [(e["action"], e["element_id"], e["actor"]["username"]) for e in events] == [
            ("instance_started", None, "wang"),
            ("task_created", "register_issue", "engine"),
            ("task_completed", "register_issue", "wang"),
            ("gateway_taken", "route_by_share", "engine"),
            ("task_created", "review_petition", "engine"),
            ("task_completed", "review_petition", "zhang"),
            ("end_event_reached", "end_reviewed", "engine"),
            ("instance_completed", None, "engine"),
        ]
        assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
        assert all(e["prev_hash"] == before["hash"] for before, e in zip(events, events[1:], strict=False))
        assert events[2]["data"]["data"] == ISSUE  # Chinese text comes back as sent
        assert events[5]["actor"] == {"username": "zhang", "role": "subdistrict_office", "org_unit": "wlq"}

        verified = auditor.get("/audit/verify")
        assert verified.status_code == 200, verified.text
        assert verified.json()["ok"] is True and verified.json()["broken"] == []
        assert verified.json()["checked"] >= len(events)

        # input the database driver would choke on is refused alike on SQLite and PostgreSQL (the fuzzer's finds)
        for answer in (
            wang.get("/process-instances/nul%00id"),
            wang.get("/tasks", params={"q": "电梯\x00"}),
            wang.post("/process-instances", json={"process_key": "petition_review", "org_unit": "qiao\x00yi"}),
            wang.post(
                "/process-instances", json={"process_key": "petition_review", "org_unit": "qiaoyi", "version": 2**63}
            ),
        ):
            assert answer.status_code == 422, answer.text
            assert answer.headers["content-type"].startswith("application/problem+json")

        # a JSON body sent in chunks (no Content-Length) is held to the same 1 MB as any other
        def chunked(body: dict, size: int) -> httpx.Response:
            raw = json.dumps(body).encode()
            pieces = (raw[i : i + 65536] for i in range(0, len(raw), 65536))
            assert len(raw) >= size
            return wang.post("/process-instances", content=pieces, headers={"Content-Type": "application/json"})

        small = {"process_key": "petition_review", "org_unit": "qiaoyi", "business_key": "YT-2024-002"}
        assert chunked(small, 0).status_code == 201
        huge = small | {"variables": {"note": "长" * (2 * 1024 * 1024)}}
        try:
            refused = chunked(huge, 6 * 1024 * 1024)
            assert refused.status_code == 413, refused.text
        except httpx.TransportError:  # a server may also close the connection instead of reading to the end
            pass
        business_keys = [i["business_key"] for i in wang.get("/process-instances").json()["items"]]
        assert sorted(business_keys) == ["YT-2024-001", "YT-2024-002"]


def worker_serving(server: Server, response: httpx.Response) -> int | None:
    """The pid of the gunicorn worker holding the keep-alive connection `response` came over (Linux /proc).

    None where /proc cannot tell: the race then still runs, only perhaps inside one worker.
    """
    try:
        client_port = response.extensions["network_stream"].get_extra_info("client_addr")[1]
        sockets = {
            f"socket:[{fields[9]}]"
            for fields in (line.split() for line in Path("/proc/net/tcp").read_text().splitlines()[1:])
            if (int(fields[1].rsplit(":", 1)[1], 16), int(fields[2].rsplit(":", 1)[1], 16))
            == (server.port, client_port)
        }
    except (OSError, KeyError, TypeError, IndexError, ValueError):
        return None
    for worker in gunicorn_workers(server):
        try:
            if any(os.readlink(fd) in sockets for fd in Path(f"/proc/{worker}/fd").iterdir()):
                return worker
        except OSError:  # the worker is gone
            continue
    return None


def gunicorn_workers(server: Server) -> list[int]:
    workers = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            parent = int(stat.read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        if parent == server.pid:
            workers.append(int(stat.parent.name))
    return workers


def complete_at_once(officials: dict[str, httpx.Client], task_id: str, data: dict) -> dict[str, object]:
    """Every official posts the completion at the same moment (a barrier); their answers, or what was raised."""
    barrier = threading.Barrier(len(officials))
    answers: dict[str, object] = {}

    def complete(name: str, client: httpx.Client) -> None:
        barrier.wait(timeout=10)
        try:
            answers[name] = client.post(f"/tasks/{task_id}/complete", json={"data": data})
        except Exception as exc:  # noqa: BLE001 - reported by the caller, with the round
            answers[name] = exc

    threads = [threading.Thread(target=complete, args=item) for item in officials.items()]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    return answers


def test_two_officials_completing_one_review_at_the_same_moment_one_wins(server: Server) -> None:
    deploy_petition(server)
    with ExitStack() as stack:
        wang, auditor = (stack.enter_context(server.client(name)) for name in ("wang", "auditor"))
        officials = {name: stack.enter_context(server.client(name)) for name in ("zhang", "liu")}
        # Connections are handed to gunicorn's workers as they come; reconnect liu until the two officials
        # are served by different worker processes, so the race is between processes and not only threads.
        zhang_worker = worker_serving(server, officials["zhang"].get("/me"))
        for _attempt in range(100):
            liu_worker = worker_serving(server, officials["liu"].get("/me"))
            if zhang_worker is None or liu_worker != zhang_worker:
                break
            token = officials["liu"].headers["Authorization"]
            officials["liu"].close()
            officials["liu"] = stack.enter_context(server.client())
            officials["liu"].headers["Authorization"] = token
        workers = {"zhang": zhang_worker, "liu": liu_worker}
        assert None in workers.values() or workers["zhang"] != workers["liu"], workers

        for round_no in range(RACE_ROUNDS):
            instance_id, review_id = start_to_review(wang, f"RACE-{round_no}")
            answers = complete_at_once(officials, review_id, {"decision": "approve"})
            statuses = {name: getattr(answer, "status_code", answer) for name, answer in answers.items()}
            assert sorted(statuses.values(), key=str) == [200, 409], (round_no, statuses)
            if None not in workers.values():  # still one connection per official, each on its own worker
                assert {name: worker_serving(server, answer) for name, answer in answers.items()} == workers
            [winner] = [name for name, status in statuses.items() if status == 200]
            [loser] = [name for name, status in statuses.items() if status == 409]
            conflict = answers[loser]
            assert conflict.headers["content-type"].startswith("application/problem+json")
            assert conflict.json()["status"] == 409 and f"already completed by {winner}" in conflict.json()["detail"]
            assert answers[winner].json()["instance"]["status"] == "completed"

            shown = auditor.get(f"/process-instances/{instance_id}").json()
            assert shown["status"] == "completed" and shown["tasks"] == []
            events = auditor.get(f"/process-instances/{instance_id}/history").json()["items"]
            reviews = [e for e in events if e["action"] == "task_completed" and e["element_id"] == "review_petition"]
            assert [e["actor"]["username"] for e in reviews] == [winner]
            assert [e["action"] for e in events].count("instance_completed") == 1

        verified = auditor.get("/audit/verify").json()
        assert verified["ok"] is True and verified["broken"] == []
