"""Drafts: form data the holder of a task keeps without completing it.

A draft is one person's unfinished copy of a task's form, one per task and person. It is checked
only for what could never become valid — fields the form does not have, and more than
``MAX_DRAFT_BYTES`` of JSON — never for required fields or types: text that is not yet a date or a
number is kept as typed. Only the holder of a ready task saves one; saving changes neither the task
nor its revision, so the form the draft came from can still be submitted. Completing the task
discards every draft of it (``discard_drafts``). Drafts are not audited: see docs/architecture.md.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, bindparam, delete
from sqlalchemy.orm import Session

from models import TaskDraft

from .actors import Actor
from .context import EngineContext
from .errors import InvalidInput, TaskNotClaimedByYou, TooLarge
from .forms import check_known_fields
from .taskaccess import check_revision, get_task, locked_task

MAX_DRAFT_BYTES = 256 * 1024

_DRAFTS = cast(Table, TaskDraft.__table__)
# Built once: completing a task (the hot path) runs it.
DISCARD_DRAFTS = delete(_DRAFTS).where(_DRAFTS.c.task_id == bindparam("task_id"))


@dataclass(frozen=True)
class Draft:
    task_id: int
    data: dict[str, Any]
    saved_at: datetime


def _encoded_size(data: dict[str, Any]) -> int:
    try:
        text = json.dumps(data, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    except (TypeError, ValueError):
        raise InvalidInput("草稿内容必须是 JSON 数据。", "A draft must be JSON data.") from None
    return len(text.encode("utf-8"))


def save_draft(session: Session, ctx: EngineContext, actor: Actor, task_id: int, data: dict[str, Any], *,
               expected_revision: int | None = None) -> Draft:
    """Keep ``data`` as the actor's draft of the task, replacing any earlier one.

    Under the case's row lock, like every action on a task, so a draft never outlives the
    completion that discards it. A form opened at another revision is stale (409), as on submit.
    """
    if not isinstance(data, dict):
        raise InvalidInput("草稿内容必须是 JSON 对象。", "A draft must be a JSON object.")
    size = _encoded_size(data)
    if size > MAX_DRAFT_BYTES:
        raise TooLarge(f"草稿过大（{size // 1024} KB），上限为 {MAX_DRAFT_BYTES // 1024} KB。",
                       f"The draft is too large ({size // 1024} KB); the limit is {MAX_DRAFT_BYTES // 1024} KB.",
                       {"bytes": size, "limit": MAX_DRAFT_BYTES})
    task, _instance = locked_task(session, actor, task_id)
    if task.assignee_id != actor.user_id:
        raise TaskNotClaimedByYou("只有任务的办理人可以保存草稿，请先签收。",
                                  "Only the holder of the task can save a draft; claim it first.")
    check_revision(task, expected_revision)
    check_known_fields(ctx.forms.get(task.form_key), data)
    return keep_draft(session, task.id, actor.user_id, data, ctx.clock.now())


def keep_draft(session: Session, task_id: int, user_id: int, data: dict[str, Any], now: datetime) -> Draft:
    """Store ``data`` as this person's draft of the task, replacing an earlier one (the caller has
    checked who may, and holds the case's lock)."""
    row = session.get(TaskDraft, (task_id, user_id))
    if row is None:
        session.add(TaskDraft(task_id=task_id, user_id=user_id, data=data, saved_at=now))
    else:
        row.data, row.saved_at = data, now
    session.flush()
    return Draft(task_id, data, now)


def load_draft(session: Session, actor: Actor, task_id: int) -> Draft | None:
    """The actor's own draft of a task they may see (NotFound otherwise), or None."""
    get_task(session, actor, task_id)
    row = session.get(TaskDraft, (task_id, actor.user_id))
    return Draft(row.task_id, dict(row.data), row.saved_at) if row is not None else None


def discard_drafts(session: Session, task_id: int) -> None:
    """Delete every draft of the task (its completion made them pointless): one statement."""
    session.connection().execute(DISCARD_DRAFTS, {"task_id": task_id})
