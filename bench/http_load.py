"""HTTP throughput: keep-alive client processes driving start + completes through /api/v1 (API.md).

Each client signs in once, then, until the time is up, starts a bench deliberation and completes its
three user tasks with the next task ids the API hands back: the 4 commands of bench/engine.py's instance,
over HTTP. Clients are processes (no shared GIL with each other) using the stdlib's http.client.
"""

from __future__ import annotations

import multiprocessing
import time

from bench.server import Client

USER_DATA = [{"proposer_count": 30}, {"opinion": "同意"}, {"passed": True}]


def _client(
    port: int, username: str, password: str, org_unit: str, seconds: float, barrier, results, index: int
) -> None:  # noqa: ANN001 - multiprocessing objects
    client = Client(port)
    client.sign_in(username, password)
    barrier.wait()
    done = errors = 0
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        status, instance = client.call(
            "POST",
            "/process-instances",
            {"process_key": "bench_deliberation", "org_unit": org_unit, "business_key": f"H-{index}-{done}"},
        )
        if status != 201:
            errors += 1
            continue
        task_id = instance["tasks"][0]["id"]
        for data in USER_DATA:
            status, result = client.call("POST", f"/tasks/{task_id}/complete", {"data": data})
            if status != 200:
                errors += 1
                break
            task_id = result["next_tasks"][0]["id"] if result["next_tasks"] else None
        else:
            done += 1
    client.close()
    results.put((done, errors))


def drive(
    port: int,
    clients: int,
    seconds: float,
    username: str = "wang",
    password: str = "bench-password",
    org_unit: str = "qiaoyi",
) -> dict:
    """Instances completed per second over `seconds` by `clients` client processes, and the errors seen."""
    ctx = multiprocessing.get_context("fork")
    barrier = ctx.Barrier(clients + 1)
    results = ctx.Queue()
    procs = [
        ctx.Process(target=_client, args=(port, username, password, org_unit, seconds, barrier, results, i))
        for i in range(clients)
    ]
    for p in procs:
        p.start()
    barrier.wait(timeout=120)
    started = time.monotonic()
    outcomes = [results.get(timeout=seconds + 120) for _ in procs]
    elapsed = time.monotonic() - started
    for p in procs:
        p.join(10)
    done = sum(d for d, _ in outcomes)
    return {"instances": done, "errors": sum(e for _, e in outcomes), "seconds": elapsed, "per_s": done / elapsed}
