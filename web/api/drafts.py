"""A task's draft: the caller's unfinished form data, kept without completing the task."""

from __future__ import annotations

from typing import Any

from flask import g

from engine import drafts, runtime

from ..db import committed, ctx, db
from ..reads import record_case_read
from .params import json_body, object_field, optional_int_field
from .serializers import iso


def _body(task_id: int, draft: drafts.Draft | None) -> dict[str, Any]:
    return {"task_id": task_id, "data": draft.data if draft else None,
            "saved_at": iso(draft.saved_at) if draft else None}


def get_draft(task_id: int) -> dict[str, Any]:
    """The caller's own draft of the task; ``data`` and ``saved_at`` are null when there is none."""
    task = runtime.get_task(db(), g.actor, task_id)
    draft = drafts.load_draft(db(), g.actor, task_id)
    if draft is not None:  # a clue task's draft is about the clue: reading it reads the clue
        record_case_read(task.instance, "api_task_draft")
    return _body(task_id, draft)


def save_draft(task_id: int) -> dict[str, Any]:
    body = json_body()
    draft = drafts.save_draft(db(), ctx(), g.actor, task_id, object_field(body, "data"),
                              expected_revision=optional_int_field(body, "revision"))
    return committed(_body(task_id, draft))
