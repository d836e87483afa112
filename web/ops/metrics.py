"""Request metrics for Prometheus. Each gunicorn worker counts its own requests; with
``PROMETHEUS_MULTIPROC_DIR`` set (the Docker image sets it) the workers write to that directory and
any one of them answers a scrape for all. Figures that live in the database come from engine.health."""

from __future__ import annotations

import os
import time

from flask import Flask, g, request
from prometheus_client import REGISTRY as DEFAULT_REGISTRY
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest, multiprocess
from werkzeug.wrappers import Response

from engine.health import Sample

REQUESTS = Counter("xuncha_http_requests_total", "HTTP requests served.", ["method", "endpoint", "status"])
LATENCY = Histogram("xuncha_http_request_duration_seconds", "Time to serve an HTTP request.", ["method", "endpoint"],
                    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10))


def install(app: Flask) -> None:
    """Count each response; its start time is the one web.logs takes when the request begins."""
    app.after_request(_count)


def _count(response: Response) -> Response:
    started = g.get("request_started")
    # The endpoint name, never the raw path: ids in paths would make a series per case.
    endpoint = request.endpoint or "not_found"
    REQUESTS.labels(request.method, endpoint, str(response.status_code)).inc()
    if started is not None:
        LATENCY.labels(request.method, endpoint).observe(time.perf_counter() - started)
    return response


def process_metrics() -> bytes:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return generate_latest(registry)
    return generate_latest(DEFAULT_REGISTRY)


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def render_samples(samples: list[Sample]) -> bytes:
    """The text exposition format for samples read from the database."""
    lines: list[str] = []
    described: set[str] = set()
    for sample in samples:
        if sample.name not in described:
            described.add(sample.name)
            lines.append(f"# HELP {sample.name} {sample.help}")
            lines.append(f"# TYPE {sample.name} {sample.kind}")
        labels = ",".join(f'{k}="{_escape(v)}"' for k, v in sorted(sample.labels.items()))
        lines.append(f"{sample.name}{{{labels}}} {float(sample.value)}" if labels else
                     f"{sample.name} {float(sample.value)}")
    return ("\n".join(lines) + "\n").encode("utf-8")
