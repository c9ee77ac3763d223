"""`govflow serve` as a subprocess on a free loopback port: the fixture for tests that speak real HTTP."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from engine import Engine
from engine.child_server import child_server
from tests.conftest import PASSWORD

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


@contextmanager
def serving(
    db_url: str, log: Path, workers: int = 2, env: dict[str, str] | None = None, own_group: bool = False
) -> Iterator[Server]:
    """`govflow serve` on a free loopback port against `db_url`, stopped (and its log checked) on exit.

    `own_group` starts it in a process group of its own, so that `Server.kill` can kill all its processes.
    """
    fast = {"GOVFLOW_PASSWORD_PROFILE": "fast"} | (env or {})
    with child_server(db_url, log, workers, fast, own_group, start_timeout=START_TIMEOUT) as child:
        yield Server(child.url, child.port, child.pid, log)
    assert "Traceback" not in log.read_text(errors="replace"), log.read_text(errors="replace")[-4000:]


@pytest.fixture
def server(db_url: str, org: Engine, tmp_path: Path) -> Iterator[Server]:
    """`govflow serve --workers 2` on a free loopback port, against the test database the org was put in."""
    with serving(db_url, tmp_path / "gunicorn.log") as running:
        yield running
