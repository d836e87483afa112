"""gunicorn settings (``gunicorn -c python:web.gunicorn_conf web.wsgi:app``): workers and timeouts from the
environment, and Prometheus' multi-process bookkeeping when PROMETHEUS_MULTIPROC_DIR is set."""

from __future__ import annotations

import os
from typing import Any

bind = os.environ.get("XUNCHA_BIND", "0.0.0.0:8000")
workers = int(os.environ.get("XUNCHA_WORKERS", "4"))
timeout = int(os.environ.get("XUNCHA_WORKER_TIMEOUT", "60"))
graceful_timeout = 30
preload_app = True
accesslog = None  # the app writes its own access lines (web/logs.py), with request ids


def child_exit(server: Any, worker: Any) -> None:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)  # type: ignore[no-untyped-call]
