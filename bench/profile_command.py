"""Profile govflow's commands: N instances started and completed (4 commands each) on a SQLite file.

Prints the top entries by cumulative and by own time, and the mean cost of one command, so each change
to the hot path can be checked against where the time actually goes.

Usage: python bench/profile_command.py [--instances N] [--top K] [--postgres] [--loop ROUNDS]
  --loop ROUNDS  profile completions on one loop instance that already has ROUNDS rounds instead
"""

from __future__ import annotations

import argparse
import cProfile
import importlib.util
import os
import pstats
import tempfile
import time
from pathlib import Path

# bench/engine.py by its path: the name `engine` is the govflow package.
_spec = importlib.util.spec_from_file_location("bench_engine", Path(__file__).resolve().parent / "engine.py")
bench_engine = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(bench_engine)
govflow_run, pg_database, prepared_engine = (
    bench_engine.govflow_run,
    bench_engine.pg_database,
    bench_engine.prepared_engine,
)


def loop_run(engine: object, rounds: int, samples: int) -> tuple[float, int]:
    wang = engine.principal("wang")
    instance = engine.start("bench_loop", "qiaoyi", by=wang)
    task_id = instance["tasks"][0]["id"]
    for _ in range(rounds):
        task_id = engine.complete(task_id, wang, {"more": True})["next_tasks"][0]["id"]
    profiler = cProfile.Profile()
    started = time.perf_counter()
    profiler.enable()
    for _ in range(samples):
        task_id = engine.complete(task_id, wang, {"more": True})["next_tasks"][0]["id"]
    profiler.disable()
    return time.perf_counter() - started, profiler


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--instances", type=int, default=200)
    parser.add_argument("--top", type=int, default=30)
    parser.add_argument("--postgres", action="store_true")
    parser.add_argument("--loop", type=int, default=0)
    parser.add_argument("--out", help="also dump the raw profile here (for snakeviz and the like)")
    args = parser.parse_args()

    drop = None
    tmp = tempfile.TemporaryDirectory()
    if args.postgres:
        url, drop = pg_database()
    else:
        url = f"sqlite:///{Path(tmp.name) / 'profile.db'}"
    engine = prepared_engine(url)
    try:
        govflow_run(engine, 10)  # warm-up: spec and form caches, statement cache
        if args.loop:
            seconds, profiler = loop_run(engine, args.loop, args.instances)
            commands = args.instances
        else:
            profiler = cProfile.Profile()
            started = time.perf_counter()
            profiler.enable()
            govflow_run(engine, args.instances)
            profiler.disable()
            seconds = time.perf_counter() - started
            commands = args.instances * 4
    finally:
        engine.close()
        if drop:
            drop()
        tmp.cleanup()

    load = os.getloadavg()
    print(f"{commands} commands in {seconds:.2f} s under the profiler: {seconds / commands * 1000:.2f} ms each")
    print(f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    stats = pstats.Stats(profiler)
    if args.out:
        stats.dump_stats(args.out)
    stats.sort_stats("cumulative").print_stats(args.top)
    stats.sort_stats("tottime").print_stats(args.top)


if __name__ == "__main__":
    main()
