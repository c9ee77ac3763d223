"""A real `govflow serve` (gunicorn) as a subprocess on a free loopback port, for the HTTP benchmarks."""

from __future__ import annotations

import contextlib
import http.client
import json
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
START_TIMEOUT = 60


@dataclass
class Server:
    host: str
    port: int
    pid: int
    log: Path

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def worker_pids(self) -> list[int]:
        """The gunicorn workers: the master's children."""
        try:
            text = Path(f"/proc/{self.pid}/task/{self.pid}/children").read_text()
        except OSError:
            return []
        return [int(p) for p in text.split()]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _healthy(port: int) -> bool:
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
        conn.request("GET", "/api/v1/healthz")
        ok = conn.getresponse().status == 200
        conn.close()
        return ok
    except OSError:
        return False


@contextmanager
def serving(db_url: str, log: Path, workers: int = 2, env: dict[str, str] | None = None) -> Iterator[Server]:
    """`govflow serve --workers N` against `db_url` until the block ends; its own process group."""
    port = free_port()
    with log.open("wb") as out:  # a file, not a pipe: the access log must never block the server
        process = subprocess.Popen(
            [sys.executable, "-m", "engine.cli", "serve", "--port", str(port), "--workers", str(workers)],
            cwd=ROOT,
            env=os.environ
            | {"GOVFLOW_DATABASE_URL": db_url, "GOVFLOW_DATA_DIR": str(log.parent), "PYTHONPATH": str(ROOT)}
            | (env or {}),
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while not _healthy(port):
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("govflow serve did not come up:\n" + log.read_text(errors="replace")[-3000:])
            time.sleep(0.2)
        # every worker answers before we measure: gunicorn starts them one after the other
        time.sleep(0.5 * workers)
        yield Server("127.0.0.1", port, process.pid, log)
    finally:
        process.terminate()
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)  # workers a killed master left behind


class Client:
    """A keep-alive HTTP/1.1 connection speaking JSON to /api/v1 with a bearer token (stdlib only, so the
    load generator costs the shared cores as little as possible)."""

    def __init__(self, port: int, token: str | None = None) -> None:
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        self.headers = {"Content-Type": "application/json"}
        if token:
            self.headers["Authorization"] = f"Bearer {token}"

    def call(self, method: str, path: str, body: dict | None = None) -> tuple[int, dict]:
        payload = None if body is None else json.dumps(body).encode()
        try:
            self.conn.request(method, "/api/v1" + path, body=payload, headers=self.headers)
            response = self.conn.getresponse()
        except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
            # the server closes a keep-alive connection idle past its keepalive: open a new one, once
            self.conn.close()
            self.conn.request(method, "/api/v1" + path, body=payload, headers=self.headers)
            response = self.conn.getresponse()
        data = response.read()
        return response.status, (json.loads(data) if data else {})

    def sign_in(self, username: str, password: str) -> None:
        status, body = self.call("POST", "/auth/token", {"username": username, "password": password})
        if status != 200:
            raise RuntimeError(f"sign-in as {username} failed: {status} {body}")
        self.headers["Authorization"] = f"Bearer {body['access_token']}"

    def close(self) -> None:
        self.conn.close()


def rss_kib(pid: int) -> int:
    """Resident set size of one process, in KiB (from /proc)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0
