"""Memory: one process holding 10,000 cached live workflows (GOVFLOW_LIVE_CACHE_SIZE=10000).

A child process loads the API as a `govflow serve` worker does (api/wsgi.py: the app, its engine from the
environment, the start-up objects frozen), on a SQLite file with the bench deliberation deployed, and
starts instances (each waits at its first user task, its live workflow kept in the cache). It reports its
resident set size empty, once the cache is full, and twice more as instances go on past the cache's size
(a tenth of it, then a fifth): a bounded cache drops the oldest, so between those two the RSS stays flat.
(Between "full" and the first of them the allocator takes one more step as evictions begin; the first run
showed +4%, then nothing.) With the cache full it also times a full garbage collection, the pause every
thread of a server process waits, with the start-up objects frozen and unfrozen.

    python -m bench.memory --prepare URL                (what the parent runs first: the bench database)
    python -m bench.memory --child URL CACHED EXTRA    (then this)
"""

from __future__ import annotations

import gc
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from bench.report import Row, load_average
from bench.server import rss_kib
from engine.child_server import ROOT


def child(url: str, cached: int, extra: int) -> None:
    os.environ["GOVFLOW_DATABASE_URL"] = url
    from api.wsgi import application  # what a gunicorn worker loads: the app, its engine, the frozen start-up

    engine = application.extensions["govflow"]
    wang = engine.principal("wang")
    engine.start("bench_deliberation", "qiaoyi", by=wang, business_key="warm-up")  # spec parsed, pools open
    gc.collect()

    def report(stage: str, started: int, **more: float) -> None:
        gc.collect()
        line = {"stage": stage, "started": started, "cached": len(engine.live._items), "rss_kib": rss_kib(os.getpid())}
        print(json.dumps(line | more), flush=True)

    report("empty", 0)
    started = 0
    for target, stage in ((cached, "full"), (cached + extra // 2, "past"), (cached + extra, "beyond")):
        while started < target:
            engine.start("bench_deliberation", "qiaoyi", by=wang, business_key=f"M-{started}")
            started += 1
        pauses = {}
        if stage == "full":
            # A full collection as the server makes it (start-up frozen), then as it would without the freeze:
            # the same objects, the start-up's back in the generations (the process stays so from here).
            frozen = gc.get_freeze_count()
            pauses = {"collect_ms": collection_ms(), "frozen": frozen}
            gc.unfreeze()
            pauses["unfrozen_collect_ms"] = collection_ms()
        report(stage, started, **pauses)
    engine.close()


def collection_ms(times: int = 5) -> float:
    """The median wall time of a full garbage collection, in ms."""
    taken = []
    for _ in range(times):
        started = time.perf_counter()
        gc.collect()
        taken.append((time.perf_counter() - started) * 1000)
    return statistics.median(taken)


def measure(args, log: Callable[[str], None]) -> list[Row]:  # noqa: ANN001 - bench/run.py's namespace
    cached = args.cached
    extra = max(1, cached // 5)
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'memory.db'}"
        env = os.environ | {
            "GOVFLOW_LIVE_CACHE_SIZE": str(cached),
            "GOVFLOW_SQLITE_SYNCHRONOUS": "NORMAL",  # the disk is not what this part measures
            "PYTHONPATH": str(ROOT),
        }
        # In a process of its own: bench/run.py may run this part beside another that migrates a database,
        # and Alembic's migration context is one per process.
        subprocess.run([sys.executable, "-m", "bench.memory", "--prepare", url], cwd=ROOT, env=env, check=True)
        out = subprocess.run(
            [sys.executable, "-m", "bench.memory", "--child", url, str(cached), str(extra)],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    stages = {line["stage"]: line for line in map(json.loads, out.splitlines())}
    empty, full, past, beyond = (stages[s] for s in ("empty", "full", "past", "beyond"))
    mib = {k: v["rss_kib"] / 1024 for k, v in stages.items()}
    log(f"memory: {stages}")
    load = load_average()
    per_workflow = (full["rss_kib"] - empty["rss_kib"]) / max(1, full["cached"])
    return [
        Row(
            f"RSS with {full['cached']:,} cached live workflows",
            mib["full"],
            "MiB",
            mib["empty"],
            "value < 1024",
            f"one API process (api/wsgi.py), GOVFLOW_LIVE_CACHE_SIZE={cached}; baseline: the same process before any "
            f"instance; {per_workflow:.1f} KiB a workflow; load {load}",
        ),
        Row(
            f"full garbage collection with {full['cached']:,} cached workflows",
            full["collect_ms"],
            "ms",
            full["unfrozen_collect_ms"],
            "ratio < 1",
            f"the pause every thread of the API process waits (median of 5), its {full['frozen']:,} start-up "
            "objects frozen as api/wsgi.py does (engine/startup_heap.py); baseline: the same process's "
            "collection with them unfrozen",
        ),
        Row(
            f"RSS flat past a full cache of {cached:,}",
            mib["beyond"],
            "MiB",
            mib["past"],
            "ratio <= 1.05",
            f"RSS after {beyond['started']:,} instances vs after {past['started']:,}, still {beyond['cached']:,} "
            f"cached; at {full['started']:,} (cache just full) {mib['full']:.0f} MiB",
        ),
    ]


if __name__ == "__main__":
    if sys.argv[1:2] == ["--child"]:
        child(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
    elif sys.argv[1:2] == ["--prepare"]:
        from bench import engine as eb

        eb.prepared_engine(sys.argv[2]).close()
