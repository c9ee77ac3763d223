"""A real `govflow serve` (gunicorn) as a subprocess on a free loopback port, for the HTTP benchmarks."""

from __future__ import annotations

import http.client
import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from engine.child_server import child_server


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


@contextmanager
def serving(db_url: str, log: Path, workers: int = 2, env: dict[str, str] | None = None) -> Iterator[Server]:
    """`govflow serve --workers N` against `db_url` until the block ends; its own process group."""
    with child_server(db_url, log, workers, env, own_group=True) as child:
        # every worker answers before we measure: gunicorn starts them one after the other
        time.sleep(0.5 * workers)
        yield Server("127.0.0.1", child.port, child.pid, log)


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

    def sign_in(self, username: str, password: str) -> str:
        """Sign in: this client's requests carry the token from now on; it is returned for others to share."""
        status, body = self.call("POST", "/auth/token", {"username": username, "password": password})
        if status != 200:
            raise RuntimeError(f"sign-in as {username} failed: {status} {body}")
        self.headers["Authorization"] = f"Bearer {body['access_token']}"
        return body["access_token"]

    def close(self) -> None:
        self.conn.close()


def rss_kib(pid: int) -> int:
    """Resident set size of one process, in KiB (from /proc)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0
