"""The inbox at city scale over HTTP: an official's first inbox page, an auditor's filtered instance
search and the auditor's task list of the whole city against `govflow serve --workers 2` on the city
database (bench/city_data.py), p99 of sequential requests from one keep-alive client, on SQLite and
PostgreSQL. The baseline is the p99 of `GET /me` on the same server in the same run: what any signed-in
request costs, without a list to read.
"""

from __future__ import annotations

import multiprocessing
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlencode

from bench import city_data
from bench.report import Row, load_average
from bench.server import Client, serving
from engine.commands.queries import TASK_SORTS

PG_URL = os.environ.get("GOVFLOW_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")


def p99(samples: list[float]) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(round(0.99 * (len(ordered) - 1))))]


def auditor_searches(city: city_data.City) -> list[str]:
    """The filters an auditor's search page sends, over the whole city: each a first page."""
    anchor = city_data.ANCHOR

    def at(days: int) -> str:
        return (anchor - timedelta(days=days)).isoformat()

    searches = []
    for n in range(len(city.subdistricts)):
        sub = city.subdistricts[n]
        dist = city.districts[n % len(city.districts)]
        searches += [
            {"status": "running"},
            {"org_unit": sub, "status": "completed"},
            {"org_unit": dist, "started_from": at(200 + n % 100), "started_to": at(170 + n % 100)},
            {"process_key": city_data.PROCESS, "status": "running", "org_unit": sub},
            {"q": f"C-{(n * 7919) % max(1, city.sizes.tasks // 3):07d}"[:6]},
            {"started_from": at(30 + n % 300), "started_to": at(29 + n % 300)},
        ]
    return ["/process-instances?" + urlencode(s) for s in searches]


def auditor_task_lists(city: city_data.City) -> list[str]:
    """The city auditor's task list, open and completed: the first page of every task of a status in the
    city, where no reach condition bounds anything (migration 0016), in each order; and searched for a case
    number, part of one, a step's name and a text found nowhere."""
    lists = [{"sort": sort} for sort in TASK_SORTS]
    for n in range(len(city.subdistricts)):
        case = f"C-{(n * 7919) % max(1, city.sizes.tasks // 3):07d}"
        lists += [{"q": case}, {"q": case[-5:]}, {"q": city_data.ELEMENTS[n % 3][1]}, {"q": "不存在的事项"}]
    return [
        "/tasks?" + urlencode({"scope": "all", "status": status, **filters})
        for filters in lists
        for status in ("open", "completed")
    ]


def audit_trail_searches(city: city_data.City) -> list[str]:
    """The auditor's searches that read the audit trail or the steps' deadlines: who acted in a case
    (any audit event), and cases with or without a missed deadline, over the city or a unit."""
    searches = []
    for n in range(len(city.subdistricts)):
        sub = city.subdistricts[n]
        dist = city.districts[n % len(city.districts)]
        official = f"rc_{city_data.committee((n * 7919) % city.sizes.committees)}"
        searches += [
            {"actor": official},
            {"actor": official, "status": "completed"},
            {"actor": f"so_{sub}"},  # a subdistrict official who acted in no case: an empty answer
            {"missed_deadline": "true"},
            {"missed_deadline": "true", "org_unit": sub},
            {"missed_deadline": "false", "org_unit": dist, "status": "running"},
        ]
    return ["/process-instances?" + urlencode(s) for s in searches]


def _timed(calls: list[tuple[Client, str]], requests: int) -> list[float]:
    samples = []
    for i in range(requests):
        client, path = calls[i % len(calls)]
        t0 = time.perf_counter()
        status, body = client.call("GET", path)
        samples.append((time.perf_counter() - t0) * 1000)
        if status != 200:
            raise RuntimeError(f"GET {path}: {status} {body}")
    return samples


def _build_postgresql(sizes: city_data.Sizes) -> None:
    city_data.ensure("postgresql", sizes, PG_URL, quiet=True)


def build_both(sizes: city_data.Sizes, log: Callable[[str], None]) -> None:
    """Both city databases, the PostgreSQL one built in a second process meanwhile (each build is mostly
    Python generating rows, so two cores take both at once), before anything is measured."""
    t0 = time.monotonic()
    builder = multiprocessing.get_context("spawn").Process(target=_build_postgresql, args=(sizes,))
    builder.start()
    try:
        city_data.ensure("sqlite", sizes)
    finally:
        builder.join()
    if builder.exitcode != 0:
        raise RuntimeError(f"building the PostgreSQL city database failed (exit code {builder.exitcode})")
    log(f"city databases ready in {time.monotonic() - t0:.0f} s")


def measure_one(kind: str, sizes: city_data.Sizes, requests: int, log: Callable[[str], None]) -> list[Row]:
    t0 = time.monotonic()
    city = city_data.ensure(kind, sizes, PG_URL)
    log(f"city database on {kind}: ready in {time.monotonic() - t0:.0f} s")
    label = "SQLite" if kind == "sqlite" else "PostgreSQL"
    with tempfile.TemporaryDirectory() as tmp, serving(city.url, Path(tmp) / "serve.log", workers=2) as server:
        officials = []
        for username in city.officials[:8]:
            client = Client(server.port)
            client.sign_in(username, city_data.PASSWORD)
            officials.append(client)
        auditor = Client(server.port)
        auditor.sign_in(city.auditor, city_data.PASSWORD)
        inbox = [(c, "/tasks?scope=all") for c in officials] + [(c, "/tasks") for c in officials]
        searches = [(auditor, path) for path in auditor_searches(city)]
        task_lists = [(auditor, path) for path in auditor_task_lists(city)]
        trail = [(auditor, path) for path in audit_trail_searches(city)]
        me = [(c, "/me") for c in officials]
        for calls in (inbox, searches, trail, task_lists, me):  # warm-up: every worker, every statement once
            _timed(calls, min(len(calls), 4 * requests // 10) or 1)
        baseline = _timed(me, requests)
        inbox_ms = _timed(inbox, requests)
        search_ms = _timed(searches, requests)
        trail_ms = _timed(trail, requests)
        task_list_ms = _timed(task_lists, requests)
        load = load_average()
        for c in [*officials, auditor]:
            c.close()
    log(
        f"{label}: /me p99 {p99(baseline):.1f} ms; inbox p50 {statistics.median(inbox_ms):.1f} p99 "
        f"{p99(inbox_ms):.1f} ms; search p50 {statistics.median(search_ms):.1f} p99 {p99(search_ms):.1f} ms; "
        f"by actor or deadline p50 {statistics.median(trail_ms):.1f} p99 {p99(trail_ms):.1f} ms"
    )
    scale = f"{sizes.tasks:,} tasks ({sizes.open_tasks:,} open), {sizes.committees:,} committees"
    return [
        Row(
            f"official's first inbox page p99, {label}",
            p99(inbox_ms),
            "ms",
            p99(baseline),
            "value <= 50",
            f"{requests} requests, 8 committee officials, scope all and mine; {scale}; "
            f"median {statistics.median(inbox_ms):.1f} ms; baseline: GET /me p99; load {load}",
        ),
        Row(
            f"auditor's filtered instance search p99, {label}",
            p99(search_ms),
            "ms",
            p99(baseline),
            "value <= 200",
            f"{requests} requests, city auditor, 6 filter sets; median {statistics.median(search_ms):.1f} ms; "
            f"baseline: GET /me p99; load {load}",
        ),
        Row(
            f"auditor's search by actor or missed deadline p99, {label}",
            p99(trail_ms),
            "ms",
            p99(baseline),
            "value <= 200",
            f"{requests} requests, city auditor, 6 filter sets over {city_data.events(sizes):,} audit events; "
            f"median {statistics.median(trail_ms):.1f} ms; baseline: GET /me p99; load {load}",
        ),
        Row(
            f"auditor's task list p99, {label}",
            p99(task_list_ms),
            "ms",
            p99(baseline),
            "value <= 200",
            f"{requests} requests, city auditor, every task of the city open or completed, in each of the "
            f"{len(TASK_SORTS)} orders and searched for a case number, part of one, a step's name or nothing; "
            f"median {statistics.median(task_list_ms):.1f} ms; baseline: GET /me p99; "
            f"load {load}",
        ),
    ]


def measure(
    args,  # noqa: ANN001 - bench/run.py's namespace
    log: Callable[[str], None],
    while_building: Callable[[], object] | None = None,
) -> list[Row]:
    """The inbox and search figures; `while_building` runs meanwhile the city databases are made ready
    (built, or found built), and ends before anything here is measured."""
    sizes = city_data.Sizes(args.tasks, args.open_tasks, args.committees, args.subdistricts)
    with ThreadPoolExecutor(1) as alongside:
        side = alongside.submit(while_building) if while_building else None
        if args.skip_postgres:
            city_data.ensure("sqlite", sizes)
        else:
            build_both(sizes, log)
        if side is not None:
            side.result()
    rows = measure_one("sqlite", sizes, args.requests, log)
    if not args.skip_postgres:
        rows += measure_one("postgresql", sizes, args.requests, log)
    return rows
