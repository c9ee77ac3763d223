"""`govflow serve`: gunicorn running the WSGI app named by string, so the engine never imports the API."""

from __future__ import annotations

import os
import tempfile

from gunicorn.app.base import BaseApplication
from gunicorn.util import import_app

WSGI_APP = "api.wsgi:application"
THREADS = 4  # requests a worker process serves at once (gthread)


class _Server(BaseApplication):
    def __init__(self, options: dict) -> None:
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self):  # noqa: ANN201 - gunicorn's hook
        return import_app(WSGI_APP)


def run_gunicorn(host: str, port: int, workers: int) -> None:
    # Every worker writes its metrics here so /metrics can add them up (prometheus_client multiprocess).
    if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="govflow-metrics-")
    _Server(
        {
            "bind": f"{host}:{port}",
            "workers": max(1, workers),
            "threads": THREADS,
            "worker_class": "gthread",
            "timeout": 60,
            "graceful_timeout": 20,
            "keepalive": 5,
            "accesslog": "-",
            # gunicorn's default line, then the worker that served it and how long it took (microseconds)
            "access_log_format": '%(h)s %(l)s %(u)s %(t)s "%(r)s" %(s)s %(b)s "%(f)s" "%(a)s" %(p)s %(D)sus',
            "limit_request_line": 8190,
            "child_exit": _child_exit,
        }
    ).run()


def _child_exit(_server, worker) -> None:  # noqa: ANN001 - gunicorn's hook
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)
