"""HTTP throughput: keep-alive client processes driving start + completes through /api/v1 (API.md).

The clients share one sign-in's token; each, until the time is up, starts a bench deliberation and
completes its three user tasks with the next task ids the API hands back: the 4 commands of
bench/engine.py's instance, over HTTP, on one keep-alive connection per instance. Clients are processes
(no shared GIL with each other) using the stdlib's http.client.
"""

from __future__ import annotations

import multiprocessing
import time

from bench.server import Client

USER_DATA = [{"proposer_count": 30}, {"opinion": "同意"}, {"passed": True}]


def _client(
    port: int,
    token: str,
    org_unit: str,
    seconds: float,
    barrier,
    results,
    index: int,
    per_connection: int,
) -> None:  # noqa: ANN001 - multiprocessing objects
    client = Client(port, token)
    barrier.wait()
    done = errors = 0
    first_error = ""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        status, instance = client.call(
            "POST",
            "/process-instances",
            {"process_key": "bench_deliberation", "org_unit": org_unit, "business_key": f"H-{index}-{done}"},
        )
        if status != 201:
            errors += 1
            first_error = first_error or f"POST /process-instances: {status} {instance}"[:300]
            continue
        task_id = instance["tasks"][0]["id"]
        for data in USER_DATA:
            status, result = client.call("POST", f"/tasks/{task_id}/complete", {"data": data})
            if status != 200:
                errors += 1
                first_error = first_error or f"POST /tasks/{task_id}/complete: {status} {result}"[:300]
                break
            task_id = result["next_tasks"][0]["id"] if result["next_tasks"] else None
        else:
            done += 1
            if per_connection and done % per_connection == 0:
                client.close()  # the next request opens a new connection, which any worker may accept
    client.close()
    results.put((done, errors, first_error))


def drive(
    port: int,
    clients: int,
    seconds: float,
    username: str = "wang",
    password: str = "bench-password",
    org_unit: str = "qiaoyi",
    per_connection: int = 1,
) -> dict:
    """Instances completed per second over `seconds` by `clients` client processes, and the errors seen.

    Each client keeps its connection for `per_connection` instances (4 requests each), then opens a new
    one (0: never). A handful of connections held for the whole run go to whichever gunicorn worker
    accepted them: measured with 4 clients and 2 workers, 694/698 requests a worker in one run, 671/409
    in the next, and 1.00x of one worker in a third. An official's browser opens new connections after
    every pause longer than the server's 5 s keep-alive, so new connections are the common case.
    """
    # One sign-in for all the clients: the sign-in limits count the checks in flight, so more than five
    # simultaneous sign-ins of one user are told to retry in a few seconds (as parallel guesses must be).
    signing_in = Client(port)
    token = signing_in.sign_in(username, password)
    signing_in.close()
    ctx = multiprocessing.get_context("fork")
    barrier = ctx.Barrier(clients + 1)
    results = ctx.Queue()
    procs = [
        ctx.Process(
            target=_client,
            args=(port, token, org_unit, seconds, barrier, results, i, per_connection),
        )
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
    done = sum(d for d, _, _ in outcomes)
    first_error = next((f for _, _, f in outcomes if f), "")
    return {
        "instances": done,
        "errors": sum(e for _, e, _ in outcomes),
        "first_error": first_error,
        "seconds": elapsed,
        "per_s": done / elapsed,
    }
