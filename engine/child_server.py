"""`govflow serve` as a child process on a free loopback port: started, waited for, stopped.

The HTTP tests and the HTTP benchmarks run the real server this way; each wraps it in its own helpers.
"""

from __future__ import annotations

import contextlib
import http.client
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


@dataclass
class ChildServer:
    port: int
    pid: int
    log: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def healthy(port: int) -> bool:
    """Whether the server on `port` answers its health check."""
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
        try:
            conn.request("GET", "/api/v1/healthz")
            return conn.getresponse().status == 200
        finally:
            conn.close()
    except OSError:
        return False


@contextmanager
def child_server(
    db_url: str,
    log: Path,
    workers: int = 2,
    env: dict[str, str] | None = None,
    own_group: bool = False,
    start_timeout: float = 60,
) -> Iterator[ChildServer]:
    """`govflow serve --workers N` against `db_url` until the block ends; its output goes to `log`.

    `own_group` starts it in a process group of its own: killing the group kills the master and its
    workers at once, and on exit any worker a killed master left behind is killed too.
    """
    port = free_port()
    with log.open("wb") as out:  # a file, not a pipe: the access log must never block the server
        process = subprocess.Popen(
            [sys.executable, "-m", "engine.cli", "serve", "--port", str(port), "--workers", str(workers)],
            cwd=ROOT,
            env=os.environ
            | {
                "GOVFLOW_DATABASE_URL": db_url,
                "GOVFLOW_DATA_DIR": str(log.parent),  # the export signing key, never in the checkout
                "PYTHONPATH": str(ROOT),
            }
            | (env or {}),
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=own_group,
        )
    try:
        deadline = time.monotonic() + start_timeout
        while not healthy(port):
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("govflow serve did not come up:\n" + log.read_text(errors="replace")[-3000:])
            time.sleep(0.1)
        yield ChildServer(port, process.pid, log)
    finally:
        process.terminate()
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)
        if own_group:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
