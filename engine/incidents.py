"""Incidents: what a case shows when its diagram's code was stopped by the sandbox where nobody
was there to see the error — in the scheduler, firing a timer.

A user's step that the sandbox stops fails as a whole (``errors.SandboxRefused``, HTTP 422, naming
the element and what was refused) and changes nothing: the user sees it. A timer's step fails the
same way, inside its savepoint; the scheduler then marks the timer failed, writes the error on the
instance (``last_error``) and, through this module, a ``script_refused`` event on the case's audit
chain, so the office sees on the case what was refused and when.
"""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy.orm import Session

from models import ProcessInstance

from . import audit
from .errors import SandboxRefused

log = logging.getLogger(__name__)

SCRIPT_REFUSED = "script_refused"


def script_refused(session: Session, instance: ProcessInstance, error: SandboxRefused, *, at: datetime,
                   actor_name: str, context: dict[str, object] | None = None) -> None:
    """Record on the case (its row locked by the caller) that the sandbox stopped its code."""
    payload = {"element_id": error.details.get("element_id"), "kind": error.details.get("kind"),
               "message_zh": error.message_zh, "message_en": error.message_en, **(context or {})}
    audit.record_case(session, instance, [audit.EventDraft(SCRIPT_REFUSED, payload, instance.id)], at=at,
                      actor_id=None, actor_name=actor_name)
    log.warning("sandbox refused code of instance %s: %s", instance.id, error.message_en)
