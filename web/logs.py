"""Logging: plain lines on a laptop, one JSON object per line in production (XUNCHA_LOG_FORMAT=json),
with an access line per request carrying its request id, user, status and duration."""

from __future__ import annotations

import json
import logging
import os
import re
import time
import uuid
from datetime import UTC, datetime
from typing import Any

from flask import Flask, g, request
from werkzeug.wrappers import Response

access_log = logging.getLogger("xuncha.access")
REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
EXTRA_FIELDS = ("request_id", "user", "method", "path", "status", "duration_ms", "remote_addr")


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(), "logger": record.name, "message": record.getMessage()}
        for name in EXTRA_FIELDS:
            if hasattr(record, name):
                entry[name] = getattr(record, name)
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def configure(fmt: str | None = None, *, force: bool = False) -> None:
    """Set up the root logger once per process (the CLI, gunicorn workers); like ``basicConfig``, a root
    logger that already has handlers (a test runner's) is left alone unless ``force``."""
    root = logging.getLogger()
    if root.handlers and not force:
        return
    fmt = fmt or os.environ.get("XUNCHA_LOG_FORMAT", "text")
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter() if fmt == "json" else
                         logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root.handlers[:] = [handler]
    root.setLevel(os.environ.get("XUNCHA_LOG_LEVEL", "INFO").upper())
    logging.getLogger("apscheduler").setLevel(logging.WARNING)  # it logs every one-second tick


def install(app: Flask) -> None:
    app.before_request(_begin)
    app.after_request(_access)


def _begin() -> None:
    given = request.headers.get("X-Request-ID", "")
    g.request_id = given if REQUEST_ID.match(given) else uuid.uuid4().hex
    g.request_started = time.perf_counter()  # the access line's and the metrics' duration


def _access(response: Response) -> Response:
    request_id = g.get("request_id") or uuid.uuid4().hex
    response.headers["X-Request-ID"] = request_id
    actor = g.get("actor")
    started = g.get("request_started")
    access_log.info("%s %s %s", request.method, request.path, response.status_code, extra={
        "request_id": request_id, "user": actor.username if actor else None, "method": request.method,
        "path": request.path, "status": response.status_code, "remote_addr": request.remote_addr,
        "duration_ms": round((time.perf_counter() - started) * 1000, 1) if started else None})
    return response
