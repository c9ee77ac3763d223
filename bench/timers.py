"""Timer benchmark: `govflow worker` processes on PostgreSQL, one and two of them.

For each worker count, two runs on a fresh set of cases (one timer each, `timeDate` given per case):
1. burst: N timers all due at the same moment; due jobs processed per second (first to last firing) and
   the delay from due time to firing (it is the queue: the last timer waits for all the others);
2. steady: timers falling due evenly over a window at half the burst rate of that worker count; the
   delay from due time to firing (median, p99) is the worker's latency under that load (poll 0.2 s).

No wall-clock waiting for due dates: the cases' timers are due an hour ahead and the workers start with
GOVFLOW_CLOCK_OFFSET set so that their clock reaches that hour as they start. Firing times are the
`at` of each `timer_fired` audit event, due times its `due_at`.

Usage: python bench/timers.py [--burst N] [--window SECONDS]
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import select  # noqa: E402

from bench.engine import pg_database, prepared_engine  # noqa: E402
from engine import Engine  # noqa: E402
from engine.models import AuditEvent  # noqa: E402

TIMER = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core" id="t" targetNamespace="bench">
  <bpmn:process id="bench_timer" name="公示期（基准）" isExecutable="true">
    <bpmn:extensionElements><spiffworkflow:properties>
      <spiffworkflow:property name="matterKind" value="self_governance"/>
    </spiffworkflow:properties></bpmn:extensionElements>
    <bpmn:laneSet id="lanes">
      <bpmn:lane id="residents_committee" name="居民委员会">
        <bpmn:flowNodeRef>start</bpmn:flowNodeRef><bpmn:flowNodeRef>period</bpmn:flowNodeRef>
        <bpmn:flowNodeRef>close</bpmn:flowNodeRef><bpmn:flowNodeRef>end</bpmn:flowNodeRef>
      </bpmn:lane>
    </bpmn:laneSet>
    <bpmn:startEvent id="start"/>
    <bpmn:intermediateCatchEvent id="period" name="公示期满">
      <bpmn:timerEventDefinition><bpmn:timeDate>due</bpmn:timeDate></bpmn:timerEventDefinition>
    </bpmn:intermediateCatchEvent>
    <bpmn:userTask id="close" name="结束公示"/>
    <bpmn:endEvent id="end"/>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="period"/>
    <bpmn:sequenceFlow id="f2" sourceRef="period" targetRef="close"/>
    <bpmn:sequenceFlow id="f3" sourceRef="close" targetRef="end"/>
  </bpmn:process>
</bpmn:definitions>"""

POLL = "0.2"


def timer_engine(url: str) -> Engine:
    engine = prepared_engine(url)  # migrated, with the org and a user
    engine.deploy({"bench_timer.bpmn": TIMER.encode()})
    return engine


def start_cases(engine: Engine, dues: list[datetime], tag: str) -> list[str]:
    return [
        engine.start("bench_timer", "qiaoyi", business_key=f"{tag}-{i}", variables={"due": due.isoformat()})["id"]
        for i, due in enumerate(dues)
    ]


def run_workers(url: str, count: int, clock_starts_at: datetime, until_fired: int, engine: Engine, ids: set[str]):
    """Start `count` workers whose clock reads `clock_starts_at` now; stop them once `until_fired` fired."""
    offset = (clock_starts_at - datetime.now(UTC)).total_seconds()
    env = os.environ | {
        "GOVFLOW_DATABASE_URL": url,
        "GOVFLOW_CLOCK_OFFSET": f"{offset:.3f}",
        "PYTHONPATH": str(ROOT),
    }
    logs = tempfile.TemporaryDirectory()
    workers = []
    for n in range(count):
        with open(Path(logs.name) / f"w{n}.log", "wb") as out:
            workers.append(
                subprocess.Popen(
                    [sys.executable, "-m", "engine.cli", "worker", "--poll", POLL, "--batch", "20", "--name", f"w{n}"],
                    env=env,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                )
            )
    try:
        deadline = time.monotonic() + 600
        while len(fired_events(engine, ids)) < until_fired:
            if time.monotonic() > deadline or any(w.poll() is not None for w in workers):
                raise SystemExit("the workers stopped or took too long:\n" + _logs(logs.name))
            time.sleep(0.25)
    finally:
        for worker in workers:
            worker.send_signal(signal.SIGTERM)
        for worker in workers:
            worker.wait(30)
        logs.cleanup()


def _logs(folder: str) -> str:
    return "\n".join(p.read_text(errors="replace")[-2000:] for p in Path(folder).glob("*.log"))


def fired_events(engine: Engine, ids: set[str]) -> list[tuple[datetime, datetime]]:
    """(due, fired) of every timer_fired event of these cases."""
    with engine.reading() as session:
        rows = session.execute(
            select(AuditEvent.instance_id, AuditEvent.at, AuditEvent.data).where(AuditEvent.action == "timer_fired")
        ).all()
    return [(datetime.fromisoformat(d["due_at"]), at) for i, at, d in rows if i in ids]


def delays_ms(events: list[tuple[datetime, datetime]]) -> tuple[float, float]:
    delays = sorted((fired - due).total_seconds() * 1000 for due, fired in events)
    p99 = delays[min(len(delays) - 1, int(round(0.99 * (len(delays) - 1))))]
    return statistics.median(delays), p99


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--burst", type=int, default=400, help="timers due at once in the burst run")
    parser.add_argument("--window", type=float, default=20.0, help="seconds the steady run's timers spread over")
    args = parser.parse_args()
    url, drop = pg_database()
    engine = timer_engine(url)
    results: dict = {"burst": args.burst, "window_s": args.window, "poll_s": float(POLL), "runs": []}
    try:
        for count in (1, 2):
            at = datetime.now(UTC) + timedelta(hours=count * 10)
            ids = set(start_cases(engine, [at] * args.burst, f"burst{count}"))
            run_workers(url, count, at - timedelta(seconds=3), args.burst, engine, ids)  # ready when due
            events = fired_events(engine, ids)
            fired = sorted(f for _, f in events)
            per_s = (len(fired) - 1) / max((fired[-1] - fired[0]).total_seconds(), 1e-9)
            burst_median, burst_p99 = delays_ms(events)

            rate = per_s / 2
            steady_n = max(10, int(rate * args.window))
            begin = datetime.now(UTC) + timedelta(hours=count * 10 + 5)
            dues = [begin + timedelta(seconds=i / rate) for i in range(steady_n)]
            ids = set(start_cases(engine, dues, f"steady{count}"))
            run_workers(url, count, begin - timedelta(seconds=3), steady_n, engine, ids)
            median, p99 = delays_ms(fired_events(engine, ids))
            results["runs"].append(
                {
                    "workers": count,
                    "jobs_per_s": per_s,
                    "burst_delay_median_ms": burst_median,
                    "burst_delay_p99_ms": burst_p99,
                    "steady_rate_per_s": rate,
                    "steady_jobs": steady_n,
                    "steady_delay_median_ms": median,
                    "steady_delay_p99_ms": p99,
                }
            )
    finally:
        engine.close()
        drop()

    print(f"\nTimers on PostgreSQL: burst of {args.burst} due at once; steady load at half that rate")
    print(f"over {args.window:.0f} s (worker poll {POLL} s); delay = firing time - due time\n")
    print(
        f"{'workers':>7} {'jobs/s':>8} {'burst delay median':>19} {'burst p99':>10} "
        f"{'steady rate/s':>14} {'steady median':>14} {'steady p99':>11}"
    )
    for row in results["runs"]:
        print(
            f"{row['workers']:>7} {row['jobs_per_s']:>8.1f} {row['burst_delay_median_ms'] / 1000:>17.2f} s "
            f"{row['burst_delay_p99_ms'] / 1000:>8.2f} s {row['steady_rate_per_s']:>14.1f} "
            f"{row['steady_delay_median_ms']:>11.0f} ms {row['steady_delay_p99_ms']:>8.0f} ms"
        )
    out = ROOT / "bench" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / "timers.json").write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
