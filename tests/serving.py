"""`govflow serve` as a subprocess on a free loopback port: the fixture for tests that speak real HTTP."""

from __future__ import annotations

import contextlib
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

import httpx
import pytest

from engine import Engine
from tests.conftest import PASSWORD, ROOT

START_TIMEOUT = 30


@dataclass
class Server:
    url: str
    port: int
    pid: int
    log: Path

    def kill(self) -> None:
        """SIGKILL the gunicorn master and its workers at once (a server started with `own_group=True`)."""
        os.killpg(self.pid, signal.SIGKILL)

    def token(self, username: str) -> str:
        """A fresh bearer token for `username`, signed in over HTTP."""
        response = httpx.post(f"{self.url}/api/v1/auth/token", json={"username": username, "password": PASSWORD})
        assert response.status_code == 200, response.text
        return response.json()["access_token"]

    @contextmanager
    def client(self, username: str | None = None) -> Iterator[httpx.Client]:
        """A keep-alive client, signed in as `username` with a bearer token of its own."""
        with httpx.Client(base_url=f"{self.url}/api/v1", timeout=30) as client:
            if username:
                client.headers["Authorization"] = f"Bearer {self.token(username)}"
            yield client


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def serving(
    db_url: str, log: Path, workers: int = 2, env: dict[str, str] | None = None, own_group: bool = False
) -> Iterator[Server]:
    """`govflow serve` on a free loopback port against `db_url`, stopped (and its log checked) on exit.

    `own_group` starts it in a process group of its own, so that `Server.kill` can kill all its processes.
    """
    port = free_port()
    with log.open("wb") as out:  # a file, not a pipe: the access log must never block the server
        process = subprocess.Popen(
            [sys.executable, "-m", "engine.cli", "serve", "--port", str(port), "--workers", str(workers)],
            cwd=ROOT,
            env=os.environ
            | {
                "GOVFLOW_DATABASE_URL": db_url,
                "GOVFLOW_PASSWORD_PROFILE": "fast",
                "GOVFLOW_DATA_DIR": str(log.parent),  # the export signing key, never in the checkout
                "PYTHONPATH": str(ROOT),
            }
            | (env or {}),
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=own_group,
        )
    try:
        url = f"http://127.0.0.1:{port}"
        wait_until_healthy(url, process, log)
        yield Server(url, port, process.pid, log)
    finally:
        process.terminate()
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)
        if own_group:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)  # workers a killed master left behind
    assert "Traceback" not in log.read_text(errors="replace"), log.read_text(errors="replace")[-4000:]


@pytest.fixture
def server(db_url: str, org: Engine, tmp_path: Path) -> Iterator[Server]:
    """`govflow serve --workers 2` on a free loopback port, against the test database the org was put in."""
    with serving(db_url, tmp_path / "gunicorn.log") as running:
        yield running


def wait_until_healthy(url: str, process: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while True:
        try:
            response = httpx.get(f"{url}/api/v1/healthz", timeout=2)
            if response.status_code == 200:
                return
        except httpx.TransportError:
            pass
        assert process.poll() is None, log.read_text(errors="replace")
        assert time.monotonic() < deadline, "gunicorn did not come up:\n" + log.read_text(errors="replace")
        time.sleep(0.1)
