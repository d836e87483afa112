"""Operations: /healthz (the process answers), /readyz (it can serve: database, schema, calendar) and
/metrics (Prometheus). No login: load balancers and Prometheus call them. /metrics shows counts only,
never content; set XUNCHA_METRICS_TOKEN to require ``Authorization: Bearer <token>`` for it, otherwise
it answers loopback and private-network callers only."""

from __future__ import annotations

import hmac
import ipaddress
import os
from typing import Any

from flask import Blueprint, request
from werkzeug.exceptions import Forbidden
from werkzeug.wrappers import Response

from engine import health

from ..db import ctx, sessions
from . import metrics

bp = Blueprint("ops", __name__)


@bp.route("/healthz")
def healthz() -> dict[str, Any]:
    return {"status": "ok"}


@bp.route("/readyz")
def readyz() -> tuple[dict[str, Any], int]:
    with sessions(read_only=True)() as session:
        checks = health.readiness(session)
    ready = all(c.ok for c in checks)
    body = {"status": "ready" if ready else "not ready",
            "checks": {c.name: {"ok": c.ok, "detail": c.detail} for c in checks}}
    return body, 200 if ready else 503


def _allowed() -> bool:
    token = os.environ.get("XUNCHA_METRICS_TOKEN")
    if token:
        given = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
        return hmac.compare_digest(given.encode(), token.encode())
    try:
        address = ipaddress.ip_address(request.remote_addr or "")
    except ValueError:
        return False
    return address.is_loopback or address.is_private


@bp.route("/metrics")
def metrics_page() -> Response:
    if not _allowed():
        raise Forbidden()
    with sessions(read_only=True)() as session:
        samples = health.database_samples(session, ctx().clock.now())
    body = metrics.process_metrics() + metrics.render_samples(samples)
    return Response(body, mimetype="text/plain", headers={"Cache-Control": "no-store"},
                    content_type="text/plain; version=0.0.4; charset=utf-8")
