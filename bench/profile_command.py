"""Profile govflow's commands: N instances started and completed (4 commands each) on a SQLite file.

Prints the top entries by cumulative and by own time, and the mean cost of one command, so each change
to the hot path can be checked against where the time actually goes.

Usage: python bench/profile_command.py [--instances N] [--top K] [--postgres] [--loop ROUNDS]
  --loop ROUNDS  profile completions on one loop instance that already has ROUNDS rounds instead
  --no-profile   measure wall and CPU time per command without the profiler
  --phases       wall time per command by phase (lock and read, SpiffWorkflow, projection, flush, commit,
                 ...), each phase's own time, with timers instead of the profiler (which inflates Python
                 calls two- to threefold and so misstates the database's share)
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
govflow_run, pg_database, prepared_engine, warm_up = (
    bench_engine.govflow_run,
    bench_engine.pg_database,
    bench_engine.prepared_engine,
    bench_engine.warm_up,
)


class Phases:
    """Own wall time of named functions (time in a timed callee counts for the callee only)."""

    def __init__(self) -> None:
        self.own: dict[str, float] = {}
        self._stack: list[list[float]] = []  # per open phase: [started, time in timed callees]
        self._undo: list[tuple[object, str, object]] = []

    def time(self, owner: object, name: str, label: str) -> None:
        original = getattr(owner, name)

        def timed(*args: object, **kwargs: object) -> object:
            frame = [time.perf_counter(), 0.0]
            self._stack.append(frame)
            try:
                return original(*args, **kwargs)
            finally:
                self._stack.pop()
                elapsed = time.perf_counter() - frame[0]
                self.own[label] = self.own.get(label, 0.0) + elapsed - frame[1]
                if self._stack:
                    self._stack[-1][1] += elapsed

        setattr(owner, name, timed)
        self._undo.append((owner, name, original))

    def restore(self) -> None:
        for owner, name, original in reversed(self._undo):
            setattr(owner, name, original)
        self._undo.clear()


def timed_phases() -> Phases:
    """Timers on the command path's phases (by the names the engine calls them through)."""
    from sqlalchemy.engine.default import DefaultDialect
    from sqlalchemy.orm import Session

    from engine import store
    from engine.commands.base import EngineBase
    from engine.commands.instances import InstanceCommands
    from engine.commands.tasks import TaskCommands
    from engine.spiff import runtime

    phases = Phases()
    phases.time(EngineBase, "_lock_instance", "lock and read the instance and task")
    phases.time(TaskCommands, "_authorize_task", "authorize the official")
    phases.time(TaskCommands, "_validate_form", "validate the form")
    phases.time(runtime, "complete_user_task", "SpiffWorkflow: complete the task")
    phases.time(runtime, "run_engine", "SpiffWorkflow: run to the next wait")
    phases.time(InstanceCommands, "_sync_human_tasks", "project human tasks (reads, audit)")
    phases.time(store, "collect_changes", "collect changed task rows")
    phases.time(Session, "flush", "ORM flush (instance, human tasks, audit)")
    phases.time(store.InstanceStore, "save", "write task rows (save's own)")
    phases.time(InstanceCommands, "_instance_view", "the reply")
    phases.time(DefaultDialect, "do_commit", "durable commit")
    return phases


def print_phases(phases: Phases, total: float, commands: int) -> None:
    print(f"{'phase':<44} {'ms/command':>10} {'share':>6}")
    rows = sorted(phases.own.items(), key=lambda item: -item[1])
    rows.append(("everything else (sessions, ORM reads, Python)", total - sum(phases.own.values())))
    for label, seconds in rows:
        print(f"{label:<44} {seconds / commands * 1000:>10.3f} {seconds / total:>6.0%}")
    print(f"{'one command':<44} {total / commands * 1000:>10.3f}")


class Measured:
    """Wall and CPU seconds of a block, profiled or not."""

    def __init__(self, profile: bool) -> None:
        self.profiler = cProfile.Profile() if profile else None
        self.wall = self.cpu = 0.0

    def __enter__(self) -> Measured:
        self._wall, self._cpu = time.perf_counter(), time.process_time()
        if self.profiler:
            self.profiler.enable()
        return self

    def __exit__(self, *_exc: object) -> None:
        if self.profiler:
            self.profiler.disable()
        self.wall, self.cpu = time.perf_counter() - self._wall, time.process_time() - self._cpu


def loop_run(engine: object, rounds: int, samples: int, measured: Measured) -> None:
    wang = engine.principal("wang")
    instance = engine.start("bench_loop", "qiaoyi", by=wang)
    task_id = instance["tasks"][0]["id"]
    for _ in range(rounds):
        task_id = engine.complete(task_id, wang, {"more": True})["next_tasks"][0]["id"]
    with measured:
        for _ in range(samples):
            task_id = engine.complete(task_id, wang, {"more": True})["next_tasks"][0]["id"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--instances", type=int, default=200)
    parser.add_argument("--top", type=int, default=30)
    parser.add_argument("--postgres", action="store_true")
    parser.add_argument("--loop", type=int, default=0)
    parser.add_argument("--no-profile", action="store_true", help="only the wall and CPU time per command")
    parser.add_argument("--phases", action="store_true", help="wall time per command by phase, no profiler")
    parser.add_argument("--out", help="also dump the raw profile here (for snakeviz and the like)")
    args = parser.parse_args()

    drop = None
    tmp = tempfile.TemporaryDirectory()
    if args.postgres:
        url, drop = pg_database()
    else:
        url = f"sqlite:///{Path(tmp.name) / 'profile.db'}"
    engine = prepared_engine(url)
    measured = Measured(profile=not (args.no_profile or args.phases))
    phases = None
    try:
        warm_up(engine, url)  # spec and form caches, statement cache, PostgreSQL's statistics
        if args.phases:
            phases = timed_phases()
        if args.loop:
            loop_run(engine, args.loop, args.instances, measured)
            commands = args.instances
        else:
            with measured:
                govflow_run(engine, args.instances)
            commands = args.instances * 4
    finally:
        if phases:
            phases.restore()
        engine.close()
        if drop:
            drop()
        tmp.cleanup()

    load = os.getloadavg()
    under = "without" if measured.profiler is None else "under"
    print(
        f"{commands} commands {under} the profiler: wall {measured.wall / commands * 1000:.2f} ms, "
        f"CPU {measured.cpu / commands * 1000:.2f} ms per command"
    )
    print(f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    if phases:
        print_phases(phases, measured.wall, commands)
    if measured.profiler is None:
        return
    stats = pstats.Stats(measured.profiler)
    if args.out:
        stats.dump_stats(args.out)
    stats.sort_stats("cumulative").print_stats(args.top)
    stats.sort_stats("tottime").print_stats(args.top)


if __name__ == "__main__":
    main()
