"""The audit trail: checking its hash chains, and exporting it with the chain (CSV or JSON)."""

from __future__ import annotations

from typing import Any

from flask import request
from werkzeug.wrappers import Response

from engine.audit import verify

from ..audit.routes import export_response
from ..db import db
from .auth import require_permission


def verify_audit_trail() -> dict[str, Any]:
    require_permission("audit", "verify")
    return verify(db()).as_dict()


def export_audit_trail() -> Response:
    """Every event with its chain, streamed; the export is itself an audited event."""
    require_permission("audit", "export")
    return export_response(request.args.get("format", "json"), "api")
