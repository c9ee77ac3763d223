"""The city auditor's slow reads on the city database (bench/city_data.py), in process: the search and
statistics pages (size and time), the statistics computed and then served as kept, and a verification
of the whole trail asked for and run as `govflow worker` runs it, against the verification at once.

Usage: python -m bench.city_audit [--postgres] [--skip-verify]
Adds a statistics snapshot and verification rows to the cached city database (nothing the inbox part of
`make bench` reads).
"""

from __future__ import annotations

import argparse
import statistics
import time

from sqlalchemy import delete

from api import create_app
from bench import city_data
from bench.city_inbox import PG_URL
from engine import Engine
from engine.config import Settings
from engine.models import StatisticsSnapshot


def timed(call, repeat: int = 1) -> tuple[float, object]:  # noqa: ANN001
    """Median seconds of `repeat` calls, and the last call's result."""
    seconds, result = [], None
    for _ in range(repeat):
        started = time.perf_counter()
        result = call()
        seconds.append(time.perf_counter() - started)
    return statistics.median(seconds), result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--postgres", action="store_true")
    parser.add_argument("--skip-verify", action="store_true", help="leave out the whole trail's verification")
    args = parser.parse_args()
    sizes = city_data.Sizes()
    city = city_data.ensure("postgresql" if args.postgres else "sqlite", sizes, admin_url=PG_URL)
    engine = Engine(Settings(database_url=city.url))
    auditor = engine.principal(city.auditor)
    street = city.subdistricts[4]
    rows: list[tuple[str, str, str]] = []

    http = create_app({"GOVFLOW_ENGINE": engine, "TESTING": True}).test_client()
    signed_in = http.post("/login", data={"username": city.auditor, "password": city_data.PASSWORD, "next": "/"})
    assert signed_in.status_code == 303, signed_in.status_code
    with engine.transaction() as session:  # the statistics are computed afresh below, then kept
        session.execute(delete(StatisticsSnapshot))
    first, stats = timed(lambda: engine.procedure_statistics(auditor))
    rows.append(("statistics of the city, computed", f"{first * 1000:,.0f} ms", f"as of {stats['as_of']}"))
    kept, stats = timed(lambda: engine.procedure_statistics(auditor), repeat=3)
    rows.append(("statistics of the city, as kept", f"{kept * 1000:,.0f} ms", f"as of {stats['as_of']}"))
    for path in ("/audit", f"/audit?org_unit={street}", "/audit/statistics", f"/audit/statistics?org_unit={street}"):
        seconds, page = timed(lambda path=path: http.get(path), repeat=3)
        assert page.status_code == 200, (path, page.status_code)
        rows.append((f"page {path}", f"{seconds * 1000:,.0f} ms", f"{len(page.data) / 1024:,.1f} KiB"))

    if not args.skip_verify:
        asked_in, asked = timed(lambda: engine.request_verification(auditor))
        rows.append(("verification of the city, asked for", f"{asked_in * 1000:,.0f} ms", asked["scope"]))
        ran_in, ran = timed(lambda: engine.run_next_verification("bench"))
        checked = f"{ran['checked']:,} rows, ok={ran['ok']}"
        rows.append(("verification of the city, run by a worker", f"{ran_in:,.1f} s", checked))
        once_in, once = timed(lambda: engine.verify(auditor))
        rows.append(("verification of the city, at once", f"{once_in:,.1f} s", f"{once['checked']:,} rows"))
    engine.close()

    print(f"city auditor on {engine.dialect}: {sizes.tasks:,} tasks, {city_data.events(sizes):,} audit events")
    for name, value, note in rows:
        print(f"{name:<50} {value:>10}  {note}")


if __name__ == "__main__":
    main()
