"""Prometheus metrics: requests and latency per endpoint, tasks completed, instances by status.

Served at /metrics (where Prometheus looks by default) and at /api/v1/metrics.
Under gunicorn every worker is a process of its own; `govflow serve` points PROMETHEUS_MULTIPROC_DIR
at a fresh directory so /metrics adds up all workers. Instance counts are read from the database,
which every process shares.
"""

from __future__ import annotations

import os
import time

from flask import Flask, Response, current_app, g, request
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily

REQUESTS = Counter("govflow_http_requests_total", "HTTP requests", ["method", "endpoint", "status"])
LATENCY = Histogram(
    "govflow_http_request_duration_seconds",
    "HTTP request latency",
    ["endpoint"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
METRICS_PATHS = ("/metrics", "/api/v1/metrics")
TASKS_COMPLETED = Counter(
    "govflow_tasks_completed_total", "Human tasks completed by this server: REST API and workspace, bulk included"
)


class InstanceCollector:
    """Instances by status, counted in the database at scrape time."""

    def __init__(self, engine) -> None:  # noqa: ANN001 - engine.Engine
        self.engine = engine

    def collect(self):  # noqa: ANN201 - prometheus_client's collector protocol
        gauge = GaugeMetricFamily("govflow_instances", "Process instances by status", labels=["status"])
        for status, count in self.engine.instance_counts().items():
            gauge.add_metric([status], count)
        yield gauge


def exposition() -> Response:
    """The Prometheus text: this process's (or, under gunicorn, every worker's) counters, and the
    instances by status from the database."""
    registry = CollectorRegistry()
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.MultiProcessCollector(registry)
    else:
        from prometheus_client import REGISTRY

        registry = REGISTRY
    body = generate_latest(registry)
    instances = CollectorRegistry(auto_describe=False)
    instances.register(InstanceCollector(current_app.extensions["govflow"]))
    body += generate_latest(instances)
    return Response(body, mimetype=CONTENT_TYPE_LATEST)


def register(app: Flask) -> None:
    """Count every request; serve the metrics at the root too (GET /api/v1/metrics is documented in api/app.py)."""

    @app.before_request
    def _start_timer() -> None:
        g.started = time.perf_counter()

    @app.after_request
    def _count(response: Response) -> Response:
        endpoint = request.url_rule.rule if request.url_rule else "(unmatched)"
        if endpoint not in METRICS_PATHS:
            REQUESTS.labels(request.method, endpoint, str(response.status_code)).inc()
            LATENCY.labels(endpoint).observe(time.perf_counter() - g.get("started", time.perf_counter()))
        return response

    app.add_url_rule(METRICS_PATHS[0], "root_metrics", exposition)
    # Every completion passes through the engine, whichever page or endpoint asked for it.
    app.extensions["govflow"].task_completed_listeners.add(TASKS_COMPLETED.inc)
