"""Checking the audit trail's hash chains."""

from __future__ import annotations

from typing import Any

from engine.audit import verify

from ..db import db
from .auth import require_role


def verify_audit_trail() -> dict[str, Any]:
    require_role("auditor", "office")
    return verify(db()).as_dict()
