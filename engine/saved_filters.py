"""常用筛选: named queue filters a person keeps for themselves (queue + the query parameters of
``engine.queues.TaskFilter``, and a sort). Names are unique per person; saving under a taken name is
a conflict unless ``replace`` says so. Nobody sees, changes or deletes another person's filters:
someone else's id is *not found*. Every change is recorded on the system audit stream.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from models import SavedFilter

from . import audit
from .actors import Actor
from .context import EngineContext
from .errors import Conflict, InvalidInput, NotFound
from .queues import (
    PARAMS,
    QUEUES,
    SORTS,
    TaskFilter,
    check_applies,
    filter_conditions,
    may_see_all,
    queue_condition,
)

MAX_NAME = 100
MAX_PER_USER = 50


def _name(raw: Any) -> str:
    name = raw.strip() if isinstance(raw, str) else ""
    if not name or len(name) > MAX_NAME:
        raise InvalidInput(f"筛选名称须为 1–{MAX_NAME} 个字。", f"A filter's name must be 1–{MAX_NAME} characters.",
                           {"parameter": "name", "value": raw})
    return name


def normalise(session: Session, actor: Actor, queue: Any, params: Mapping[str, Any], now: datetime
              ) -> tuple[str, dict[str, str]]:
    """The queue and parameters as they will be stored: checked exactly as the queue page checks
    them, organisations and users included (unknown keys are refused here, since a saved filter is
    nothing but its parameters)."""
    if queue not in QUEUES:
        raise InvalidInput(f"未知的队列：{queue}", f"Unknown queue: {queue}", {"parameter": "queue", "value": queue})
    if queue == "all":
        queue_condition(actor, queue)  # NotPermitted unless office / leading group
    allowed = (*PARAMS, "sort")
    unknown = sorted(set(params) - set(allowed))
    if unknown:
        raise InvalidInput(f"未知的筛选参数：{'、'.join(unknown)}", f"Unknown filter parameters: {', '.join(unknown)}",
                           {"parameter": unknown[0], "allowed": list(allowed)})
    found = TaskFilter.from_args(params)
    check_applies(queue, found)
    filter_conditions(session, found, now)
    stored = found.as_args()
    sort = params.get("sort")
    if sort not in (None, ""):
        if sort not in SORTS:
            raise InvalidInput(f"未知的排序方式：{sort}", f"Unknown sort: {sort}",
                               {"parameter": "sort", "value": sort, "allowed": list(SORTS)})
        stored["sort"] = str(sort)
    return queue, stored


def list_filters(session: Session, actor: Actor) -> list[SavedFilter]:
    """The actor's saved filters, by name; filters on 全部 only while the actor may still use it."""
    rows = session.execute(select(SavedFilter).where(SavedFilter.user_id == actor.user_id)
                           .order_by(SavedFilter.name)).scalars()
    return [f for f in rows if f.queue != "all" or may_see_all(actor)]


def _describe(row: SavedFilter) -> dict[str, Any]:
    return {"id": row.id, "name": row.name, "queue": row.queue, "params": row.params}


def save_filter(session: Session, ctx: EngineContext, actor: Actor, name: Any, queue: Any,
                params: Mapping[str, Any], *, replace: bool = False) -> tuple[SavedFilter, bool]:
    """Save under ``name``; returns (row, created). A taken name is a Conflict unless ``replace``."""
    name = _name(name)
    now = ctx.clock.now()
    queue, stored = normalise(session, actor, queue, params, now)
    existing = session.execute(select(SavedFilter).where(SavedFilter.user_id == actor.user_id,
                                                         SavedFilter.name == name).with_for_update()
                               ).scalar_one_or_none()
    if existing is not None and not replace:
        raise Conflict(f"已有名为“{name}”的常用筛选；可选择覆盖。",
                       f"You already have a saved filter named '{name}'; choose to replace it.",
                       {"parameter": "name", "value": name, "id": existing.id})
    if existing is not None:
        before = _describe(existing)
        existing.queue, existing.params = queue, stored
        session.flush()
        _record(session, actor, "saved_filter_replaced", {"before": before, "after": _describe(existing)}, now)
        return existing, False
    mine = session.execute(select(func.count()).select_from(SavedFilter)
                           .where(SavedFilter.user_id == actor.user_id)).scalar_one()
    if mine >= MAX_PER_USER:
        raise InvalidInput(f"常用筛选最多 {MAX_PER_USER} 个，请先删除不用的。",
                           f"At most {MAX_PER_USER} saved filters; delete one you no longer use first.",
                           {"limit": MAX_PER_USER})
    row = SavedFilter(user_id=actor.user_id, name=name, queue=queue, params=stored, created_at=now)
    session.add(row)
    session.flush()
    _record(session, actor, "saved_filter_created", {"before": None, "after": _describe(row)}, now)
    return row, True


def get_filter(session: Session, actor: Actor, filter_id: int) -> SavedFilter:
    row = session.get(SavedFilter, filter_id)
    if row is None or row.user_id != actor.user_id:
        raise NotFound("常用筛选不存在。", "The saved filter does not exist.", {"id": filter_id})
    return row


def delete_filter(session: Session, ctx: EngineContext, actor: Actor, filter_id: int) -> None:
    row = get_filter(session, actor, filter_id)
    before = _describe(row)
    session.delete(row)
    session.flush()
    _record(session, actor, "saved_filter_deleted", {"before": before, "after": None}, ctx.clock.now())


def _record(session: Session, actor: Actor, event_type: str, payload: dict[str, Any], now: Any) -> None:
    audit.record(session, audit.SYSTEM_STREAM, [audit.EventDraft(event_type, payload)], at=now,
                 actor_id=actor.user_id, actor_name=actor.username)
