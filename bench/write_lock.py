"""SQLite's write lock handed between processes: govflow's writer gate vs SQLite's busy handler alone.

Each of 2 processes runs, until the time is up, write transactions that hold the lock for INSIDE_MS of
CPU (about one govflow command), each followed by OUTSIDE_MS of CPU outside it (about what the HTTP
layer adds). One process could keep the lock busy INSIDE_MS of every INSIDE_MS + OUTSIDE_MS; two
could keep it busy all the time, and every millisecond a waiting writer sleeps past the lock's release is
lost. Both ways run on the same machine in alternation; the figure is each way's mean.

Usage: python bench/write_lock.py [--seconds S] [--rounds N]
"""

from __future__ import annotations

import argparse
import multiprocessing
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from sqlalchemy import text  # noqa: E402

from engine.db import make_sql_engine  # noqa: E402

PROCESSES = 2
INSIDE_MS = 5.0
OUTSIDE_MS = 3.0


def _spin(ms: float) -> None:
    """CPU work, as a command does (sleeping would leave the core to the other process)."""
    end = time.perf_counter() + ms / 1000
    while time.perf_counter() < end:
        pass


def _writer(url: str, gated: bool, seconds: float, start, results) -> None:  # noqa: ANN001 - multiprocessing
    sql = make_sql_engine(url, writer_gate=gated)
    done, waited = 0, 0.0
    start.wait()
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        asked = time.perf_counter()
        with sql.begin() as conn:
            waited += time.perf_counter() - asked
            conn.execute(text("INSERT INTO note VALUES ('x')"))
            _spin(INSIDE_MS)
        _spin(OUTSIDE_MS)
        done += 1
    sql.dispose()
    results.put((done, waited))


def handover(folder: Path, gated: bool, seconds: float) -> tuple[float, float]:
    """Write transactions a second over all processes, and the mean ms a transaction waited to begin."""
    url = f"sqlite:///{folder / ('gate.db' if gated else 'busy.db')}"
    sql = make_sql_engine(url)
    with sql.begin() as conn:
        conn.execute(text("CREATE TABLE IF NOT EXISTS note (w TEXT)"))
    sql.dispose()
    context = multiprocessing.get_context("spawn")
    start, results = context.Event(), context.Queue()
    writers = [context.Process(target=_writer, args=(url, gated, seconds, start, results)) for _ in range(PROCESSES)]
    for writer in writers:
        writer.start()
    time.sleep(1.0)  # every process has imported and connected
    start.set()
    counts = [results.get(timeout=seconds + 60) for _ in writers]
    for writer in writers:
        writer.join(30)
    done = sum(n for n, _ in counts)
    return done / seconds, 1000 * sum(w for _, w in counts) / max(done, 1)


def measure(seconds: float = 4.0, rounds: int = 2) -> dict[str, float]:
    """Alternating runs of both ways: the mean rate and wait of each."""
    gate_rates, busy_rates, gate_waits, busy_waits = [], [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(rounds):
            rate, wait = handover(Path(tmp), True, seconds)
            gate_rates.append(rate)
            gate_waits.append(wait)
            rate, wait = handover(Path(tmp), False, seconds)
            busy_rates.append(rate)
            busy_waits.append(wait)
    return {
        "gate_per_s": statistics.mean(gate_rates),
        "busy_per_s": statistics.mean(busy_rates),
        "gate_wait_ms": statistics.mean(gate_waits),
        "busy_wait_ms": statistics.mean(busy_waits),
        "capacity_per_s": 1000 / INSIDE_MS,
        "runs": f"gate {_listed(gate_rates)}; busy handler {_listed(busy_rates)}",
    }


def _listed(rates: list[float]) -> str:
    return ", ".join(f"{r:.0f}" for r in rates)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    found = measure(args.seconds, args.rounds)
    print(f"{'writers':<28} {'transactions/s':>15} {'wait ms':>8}")
    print(f"{'writer gate':<28} {found['gate_per_s']:>15.0f} {found['gate_wait_ms']:>8.2f}")
    print(f"{'SQLite busy handler alone':<28} {found['busy_per_s']:>15.0f} {found['busy_wait_ms']:>8.2f}")
    print(f"the lock's capacity at {INSIDE_MS:.0f} ms a transaction: {found['capacity_per_s']:.0f}/s")
    print(f"runs: {found['runs']}")


if __name__ == "__main__":
    main()
