"""CPU time read from /proc: of the API servers, of PostgreSQL, of the load's clients and of the machine.

The scale-out figure is bounded by the machine before it is bounded by govflow: two API processes share
two cores with PostgreSQL and the load generator. `Meter` measures where a run's CPU went, so the
benchmark can say in the same run how far two processes could go if they took every idle cycle.
"""

from __future__ import annotations

import os
import resource
import time
from dataclasses import dataclass
from pathlib import Path

TICKS = os.sysconf("SC_CLK_TCK")
CORES = os.cpu_count() or 1


def process_seconds(pid: int) -> float:
    """User and system CPU seconds of one process so far (0 once it is gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0
    # after "pid (comm)" the fields count from 3 (state): utime is field 14, stime field 15
    fields = stat.rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def postgres_pids() -> list[int]:
    """Every PostgreSQL process on this machine: the backends serving the run and the server's own."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if (entry / "comm").read_text().strip() == "postgres":
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


def _machine() -> tuple[int, int, int]:
    """(busy, stolen, all) jiffies of every core since boot, from /proc/stat's first line. Stolen time is
    what the hypervisor gave other guests while this machine had work: cores this run did not have."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = values[3] + (values[4] if len(values) > 4 else 0)  # idle + iowait
    stolen = values[7] if len(values) > 7 else 0
    everything = sum(values[:8])  # guest time is already inside user
    return everything - idle - stolen, stolen, everything


def _children_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


@dataclass
class Usage:
    """Where a run's CPU went, in cores (CPU seconds per second of the run)."""

    seconds: float
    servers: float
    postgres: float
    clients: float
    busy: float
    stolen: float = 0.0

    @property
    def idle(self) -> float:
        # busy and stolen are shares of the same jiffies: on a machine busy throughout they sum to the cores
        # give or take a rounding error, which must not read as negative idle time.
        return max(0.0, CORES - self.busy - self.stolen)

    @property
    def other(self) -> float:
        """Busy time nobody above accounts for: interrupts, the benchmark itself, other processes."""
        return max(0.0, self.busy - self.servers - self.postgres - self.clients)

    def per_instance(self, per_s: float) -> float:
        """CPU seconds the servers, PostgreSQL and the clients spend on one instance."""
        return (self.servers + self.postgres + self.clients) / per_s

    def describe(self) -> str:
        return (
            f"servers {self.servers:.2f}, PostgreSQL {self.postgres:.2f}, clients {self.clients:.2f}, "
            f"other {self.other:.2f}, stolen by the hypervisor {self.stolen:.2f}, idle {self.idle:.2f} cores"
        )


class Meter:
    """CPU of the given server processes, of PostgreSQL, of waited-for children (the clients), and of
    the machine, between `start()` and `stop()`."""

    def __init__(self, server_pids: list[int]) -> None:
        self.server_pids = server_pids

    def _read(self) -> tuple[float, dict[int, float], float, float, tuple[int, int, int]]:
        postgres = {pid: process_seconds(pid) for pid in postgres_pids()}
        servers = sum(process_seconds(pid) for pid in self.server_pids)
        return time.monotonic(), postgres, servers, _children_seconds(), _machine()

    def start(self) -> None:
        self._before = self._read()

    def stop(self) -> Usage:
        t1, pg1, servers1, children1, (busy1, stolen1, all1) = self._read()
        t0, pg0, servers0, children0, (busy0, stolen0, all0) = self._before
        ticks = max(1, all1 - all0)
        seconds = t1 - t0
        # a backend that started during the run counts from zero; one that ended took its time along
        postgres = sum(spent - pg0.get(pid, 0.0) for pid, spent in pg1.items())
        return Usage(
            seconds=seconds,
            servers=(servers1 - servers0) / seconds,
            postgres=postgres / seconds,
            clients=(children1 - children0) / seconds,
            busy=CORES * (busy1 - busy0) / ticks,
            stolen=CORES * (stolen1 - stolen0) / ticks,
        )


class Stolen:
    """Cores the hypervisor held back from this machine since this was made: a figure measured while it
    held back much ran on a smaller machine than its baseline may have."""

    def __init__(self) -> None:
        _, self._stolen, self._all = _machine()

    def cores(self) -> float:
        _, stolen, everything = _machine()
        return CORES * (stolen - self._stolen) / max(1, everything - self._all)

    def describe(self) -> str:
        return f"the hypervisor held back {self.cores():.2f} of {CORES} cores meanwhile"


def ceiling(usage: Usage, per_s: float) -> float:
    """Instances/s if every core but the `other` load and the stolen time went to servers, PostgreSQL and
    clients at this run's CPU per instance."""
    return (CORES - usage.other - usage.stolen) / usage.per_instance(per_s)
