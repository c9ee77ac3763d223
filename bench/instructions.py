"""Instructions per instance, counted by valgrind's callgrind: govflow in process against in-memory SpiffWorkflow.

Wall and CPU time on this VM drift by a fifth from minute to minute, so a change that saves 3% of a command
cannot be seen in them. Callgrind counts the instructions a process executes, which do not depend on the
machine's speed or on what else runs. Each side runs in a child process twice, with a short and a long run
of the bench's deliberation after the same warm-up; the difference, divided by the instances between
them, is the count per instance without start-up and imports. String hashing is fixed (PYTHONHASHSEED=0);
what still varies (task ids, timestamps, when the garbage collector runs) moved govflow's count within 1%
over three runs of the same code (45.2-45.7 M an instance) and the small in-memory count within 6%.

What it leaves out: time spent waiting (fsync, PostgreSQL's round trips and its server's own work) and the
cost of an instruction (cache misses). `python bench/profile_command.py --phases` says where the time goes;
this says whether a change made the process do less.

Usage: python -m bench.instructions [--instances N] [--postgres]   (about 5 minutes on 2 cores; more with --postgres)
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WARM_UP = 10
SHORT = 5
_COLLECTED = re.compile(r"Collected\s*:\s*(\d+)")


def child(side: str, count: int) -> None:
    """What runs under callgrind: a warm-up, then `count` instances in memory or through govflow at `side`."""
    from bench import engine as eb

    if side == "memory":
        spec = eb.memory_spec()
        eb.in_memory(WARM_UP, spec)
        eb.in_memory(count, spec)
        return
    url, drop = (side, None) if side.startswith("sqlite") else eb.pg_database()
    engine = eb.prepared_engine(url)
    try:
        eb.govflow_run(engine, WARM_UP)
        eb.govflow_run(engine, count)
    finally:
        engine.close()
        if drop:
            drop()


def count_instructions(side: str, count: int) -> int:
    """Instructions one child process executes: start-up, warm-up and `count` instances of `side`."""
    with tempfile.TemporaryDirectory() as tmp:
        target = f"sqlite:///{Path(tmp) / 'bench.db'}" if side == "sqlite" else side
        result = subprocess.run(
            ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", sys.executable]
            + ["-m", "bench.instructions", "--child", target, str(count)],
            capture_output=True,
            text=True,
            cwd=ROOT,
            env=os.environ | {"PYTHONHASHSEED": "0"},
            check=False,
        )
    found = _COLLECTED.search(result.stderr)
    if result.returncode != 0 or found is None:
        raise RuntimeError(f"callgrind run of {side} failed:\n{result.stderr[-2000:]}")
    return int(found.group(1))


def per_instance(side: str, instances: int) -> float:
    """Instructions per instance of `side`: the long run less the short one, over the instances between."""
    return (count_instructions(side, SHORT + instances) - count_instructions(side, SHORT)) / instances


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--instances", type=int, default=20, help="instances between the short and the long run")
    parser.add_argument("--postgres", action="store_true", help="also govflow on PostgreSQL (client side only)")
    parser.add_argument("--child", nargs=2, metavar=("SIDE", "COUNT"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child(args.child[0], int(args.child[1]))
        return []
    if shutil.which("valgrind") is None:
        raise SystemExit("bench.instructions needs valgrind (apt-get install valgrind)")
    sides = [("in-memory SpiffWorkflow", "memory"), ("govflow, SQLite file", "sqlite")]
    if args.postgres:
        sides.append(("govflow, PostgreSQL (client)", "postgresql"))
    rows = [{"side": label, "per_instance": per_instance(side, args.instances)} for label, side in sides]
    baseline = rows[0]["per_instance"]
    print(f"\nInstructions per instance (4 commands), {args.instances} instances between the runs\n")
    print(f"{'side':<32} {'per instance':>14} {'per command':>13} {'vs in memory':>13}")
    for row in rows:
        row["ratio"] = row["per_instance"] / baseline
        print(
            f"{row['side']:<32} {row['per_instance'] / 1e6:>12.1f} M {row['per_instance'] / 4e6:>11.2f} M "
            f"{row['ratio']:>12.1f}x"
        )
    return rows


if __name__ == "__main__":
    main()
