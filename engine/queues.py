"""Work queues read from the human_task projection: mine, my groups', done by me, and all (oversight)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, Select, and_, exists, func, or_, select
from sqlalchemy.orm import Session

from models import HumanTask, Recusal, TaskStatus

from .actors import Actor
from .errors import InvalidInput, NotPermitted
from .ledgers import Page
from .permissions import OVERSIGHT_ROLES, candidate_filter, oversight_filter

QUEUES = ("mine", "group", "done", "all")
SORTS: dict[str, Any] = {
    "due": (HumanTask.due_at.is_(None), HumanTask.due_at, HumanTask.id),
    "-due": (HumanTask.due_at.is_(None), HumanTask.due_at.desc(), HumanTask.id),
    "priority": (HumanTask.priority.desc(), HumanTask.id),
    "created": (HumanTask.created_at, HumanTask.id),
    "-created": (HumanTask.created_at.desc(), HumanTask.id.desc()),
}
MAX_PER_PAGE = 100


def _queue_condition(actor: Actor, queue: str) -> ColumnElement[bool]:
    if queue == "mine":
        return and_(HumanTask.assignee_id == actor.user_id, HumanTask.status == TaskStatus.READY)
    if queue == "group":
        return and_(HumanTask.status == TaskStatus.READY, HumanTask.assignee_id.is_(None), candidate_filter(actor))
    if queue == "done":
        return HumanTask.completed_by_id == actor.user_id
    if queue == "all":
        if not any(actor.has_role(r) for r in OVERSIGHT_ROLES):
            raise NotPermitted("只有巡察办和领导小组可以查看全部任务。",
                               "Only the office and the leading group may see all tasks.")
        return oversight_filter(actor)
    raise InvalidInput(f"未知的队列：{queue}", f"Unknown queue: {queue}", {"queue": queue})


def _query(actor: Actor, queue: str, status: str | None, q: str | None) -> Select[Any]:
    recused = exists().where(Recusal.instance_id == HumanTask.instance_id, Recusal.user_id == actor.user_id)
    stmt = select(HumanTask).where(_queue_condition(actor, queue), ~recused)
    if status:
        if status not in (TaskStatus.READY, TaskStatus.COMPLETED, TaskStatus.CANCELLED):
            raise InvalidInput(f"未知的状态：{status}", f"Unknown status: {status}", {"status": status})
        stmt = stmt.where(HumanTask.status == status)
    elif queue == "all":
        stmt = stmt.where(HumanTask.status == TaskStatus.READY)
    if q:
        like = f"%{q.strip()}%"
        stmt = stmt.where(or_(HumanTask.reference.ilike(like), HumanTask.title.ilike(like),
                              HumanTask.name.ilike(like)))
    return stmt


def list_tasks(session: Session, actor: Actor, queue: str = "mine", *, status: str | None = None,
               q: str | None = None, sort: str = "due", page: int = 1, per_page: int = 20) -> Page[HumanTask]:
    if sort not in SORTS:
        raise InvalidInput(f"未知的排序方式：{sort}", f"Unknown sort: {sort}", {"sort": sort})
    if page < 1 or not 1 <= per_page <= MAX_PER_PAGE:
        raise InvalidInput("分页参数无效。", "Invalid page parameters.", {"page": page, "per_page": per_page})
    if queue == "done":
        sort = "-created" if sort == "due" else sort
    stmt = _query(actor, queue, status, q)
    total = session.execute(select(func.count()).select_from(stmt.subquery())).scalar_one()
    items = list(session.execute(stmt.order_by(*SORTS[sort]).limit(per_page).offset((page - 1) * per_page))
                 .scalars())
    return Page(items, total, page, per_page)


def queue_counts(session: Session, actor: Actor) -> dict[str, int]:
    counts = {}
    for queue in ("mine", "group"):
        stmt = _query(actor, queue, None, None)
        counts[queue] = session.execute(select(func.count()).select_from(stmt.subquery())).scalar_one()
    return counts
