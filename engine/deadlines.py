"""Three colours of a deadline, as the office reads them: red when overdue, yellow when few
working days remain, green otherwise. One rule for queues, filters, pages and due-soon notices.

DOMAIN.md quotes a district's practice for long deadlines (yellow from 10 days left). A task's own
deadline is short (签收 in 3 working days), so tasks turn yellow when ``YELLOW_WORKING_DAYS`` or
fewer remain; issue 5 makes this configurable per definition.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from .calendar import deadline_after

YELLOW_WORKING_DAYS = 2

GREEN, YELLOW, RED = "green", "yellow", "red"
COLOURS = (GREEN, YELLOW, RED)


def yellow_from(now: datetime, working_days: int = YELLOW_WORKING_DAYS) -> datetime:
    """Deadlines at or before this moment (and not yet past) are yellow."""
    return deadline_after(now, working_days)


def colour(due_at: datetime | None, now: datetime, working_days: int = YELLOW_WORKING_DAYS) -> str | None:
    """``red``, ``yellow``, ``green``, or None when there is no deadline."""
    if due_at is None:
        return None
    if due_at < now:
        return RED
    return YELLOW if due_at <= yellow_from(now, working_days) else GREEN


def move_deadline(target: Any, new_due: datetime) -> dict[str, Any]:
    """Move the deadline of a task, rectification item or clue (延期, or resuming a suspended case),
    keeping its first deadline in ``original_due_at``; returns the before and after for the audit."""
    before = {"due_at": target.due_at, "original_due_at": target.original_due_at}
    if target.original_due_at is None:
        target.original_due_at = target.due_at
    target.due_at = new_due
    return {"before": before, "after": {"due_at": target.due_at, "original_due_at": target.original_due_at}}
