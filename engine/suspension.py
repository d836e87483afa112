"""中止/挂起: the office over a case's scope pauses it, and later resumes it.

While a case is suspended its clocks stop: its open tasks can be neither claimed nor completed
(engine.handling, engine.runtime refuse a case that is not running) and its timers wait instead of
firing (engine.timers skips suspended cases). Resuming shifts every deadline still running — the open
tasks', the case's rectification items' and clue's — and every waiting timer (its ``timer`` row and
its due moment inside the workflow state) by the working days the case was paused. The first deadline
of each stays in ``original_due_at``. Both changes are audited and told to the holders of open tasks.

Paused working days are counted on the business calendar (engine.calendar) from the day of
suspension to the day of resumption: suspended on a Wednesday and resumed the next Monday is three
(Thursday, Friday, Monday); suspended and resumed on one day is none.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from models import (
    Clue,
    ClueStatus,
    HumanTask,
    InstanceStatus,
    ItemStatus,
    NotificationKind,
    ProcessInstance,
    RectificationItem,
    TaskStatus,
)

from . import audit, notify
from .actors import Actor
from .calendar import LOCAL_TZ, add_working_days, working_days_between
from .context import EngineContext
from .deadlines import move_deadline
from .definitions import SPEC_CACHE
from .errors import Conflict, FormInvalid, NotFound, NotPermitted
from .extensions import move_timers, waiting_timer_tasks
from .permissions import allows_on_case, can_see_instance
from .runtime import _persist, flush, restore
from .taskaccess import lock_instance

MAX_REASON = 500  # process_instance.suspend_reason
FINISHED_ITEMS = (ItemStatus.STRUCK_OFF,)
FINISHED_CLUES = (ClueStatus.CLOSED, ClueStatus.WITHDRAWN)


def may_suspend(actor: Actor, instance: ProcessInstance) -> bool:
    return allows_on_case(actor, "case", "suspend", instance)


def _locked(session: Session, actor: Actor, instance_id: int) -> ProcessInstance:
    instance = lock_instance(session, instance_id)
    if not can_see_instance(actor, instance):
        raise NotFound("流程实例不存在或无权查看。", "The process instance does not exist or is not visible to you.")
    if not may_suspend(actor, instance):
        raise NotPermitted("只有本级巡察办可以中止或恢复案件。",
                           "Only the office over the case may suspend or resume it.")
    return instance


def _reason(reason: str | None, *, required: bool) -> str | None:
    reason = (reason or "").strip() or None
    if reason is None and required:
        zh, en = "请填写中止理由。", "Give a reason for suspending the case."
    elif reason is not None and len(reason) > MAX_REASON:
        zh, en = f"理由不能超过 {MAX_REASON} 字。", f"The reason may not exceed {MAX_REASON} characters."
    else:
        return reason
    raise FormInvalid(zh, en, {"fields": {"reason": {"message_zh": zh, "message_en": en}}})


def _holders(session: Session, instance_id: int) -> list[HumanTask]:
    return list(session.execute(select(HumanTask).where(
        HumanTask.instance_id == instance_id, HumanTask.status == TaskStatus.READY,
        HumanTask.assignee_id.is_not(None))).scalars())


def suspend(session: Session, ctx: EngineContext, actor: Actor, instance_id: int, reason: str) -> ProcessInstance:
    """Pause a running case, with a reason."""
    instance = _locked(session, actor, instance_id)
    clean = _reason(reason, required=True)
    if instance.status != InstanceStatus.RUNNING:
        raise Conflict("只有办理中的案件可以中止。", "Only a running case can be suspended.",
                       {"status": instance.status})
    now = ctx.clock.now()
    instance.status, instance.suspended_at, instance.suspend_reason = InstanceStatus.SUSPENDED, now, clean
    instance.updated_at = now
    audit.record_case(session, instance, [audit.EventDraft("instance_suspended", {
        "reason": clean, "before": {"status": InstanceStatus.RUNNING},
        "after": {"status": InstanceStatus.SUSPENDED, "suspended_at": now}}, instance.id)],
        at=now, actor_id=actor.user_id, actor_name=actor.username)
    for task in _holders(session, instance.id):
        notify.notify_user(session, task.assignee_id or 0, NotificationKind.EXTENSION, task,
                           f"{notify.task_label(task)}：案件已中止（{clean}），期限暂停计算", now)
    flush(session)
    return instance


def paused_working_days(suspended_at: datetime, resumed_at: datetime) -> int:
    start, end = suspended_at.astimezone(LOCAL_TZ).date(), resumed_at.astimezone(LOCAL_TZ).date()
    return max(0, working_days_between(start, end))


def shift_by_working_days(moment: datetime, days: int) -> datetime:
    """The same local time of day, ``days`` working days later (Beijing calendar)."""
    local = moment.astimezone(LOCAL_TZ)
    moved = datetime.combine(add_working_days(local.date(), days), local.timetz())
    return moved.astimezone(moment.tzinfo)


def resume(session: Session, ctx: EngineContext, actor: Actor, instance_id: int, note: str | None = None
           ) -> ProcessInstance:
    """Set a suspended case running again, every running deadline and timer shifted by the paused working days."""
    instance = _locked(session, actor, instance_id)
    clean = _reason(note, required=False)
    if instance.status != InstanceStatus.SUSPENDED or instance.suspended_at is None:
        raise Conflict("只有已中止的案件可以恢复。", "Only a suspended case can be resumed.",
                       {"status": instance.status})
    now = ctx.clock.now()
    days = paused_working_days(instance.suspended_at, now)
    changes: dict[str, Any] = {"tasks": [], "items": [], "clue": None, "timers": []}
    workflow = restore(session, ctx, instance)
    if days:
        def shift(moment: datetime | None) -> datetime:
            assert moment is not None  # only rows with a deadline are selected
            return shift_by_working_days(moment, days)

        for task in session.execute(select(HumanTask).where(
                HumanTask.instance_id == instance.id, HumanTask.status == TaskStatus.READY,
                HumanTask.due_at.is_not(None)).order_by(HumanTask.id)).scalars():
            changes["tasks"].append({"task_id": task.id, **move_deadline(task, shift(task.due_at))})
            task.warned_at = None
        for item in session.execute(select(RectificationItem).where(
                RectificationItem.instance_id == instance.id, RectificationItem.due_at.is_not(None),
                RectificationItem.status.not_in(FINISHED_ITEMS)).order_by(RectificationItem.id)).scalars():
            changes["items"].append({"item_id": item.id, **move_deadline(item, shift(item.due_at))})
        clue = session.execute(select(Clue).where(Clue.instance_id == instance.id, Clue.due_at.is_not(None),
                                                  Clue.status.not_in(FINISHED_CLUES))).scalar_one_or_none()
        if clue is not None:
            changes["clue"] = {"clue_id": clue.id, **move_deadline(clue, shift(clue.due_at))}
        changes["timers"] = move_timers(session, instance, workflow, waiting_timer_tasks(workflow), shift)
    suspended_at, reason = instance.suspended_at, instance.suspend_reason
    instance.status = InstanceStatus.RUNNING
    instance.suspended_at, instance.suspend_reason = None, None
    session.flush()
    _persist(session, instance, workflow, SPEC_CACHE.for_definition_id(session, instance.definition_id, ctx.forms),
             now, [audit.EventDraft("instance_resumed", {
                 "note": clean, "paused_working_days": days, "suspended_at": suspended_at,
                 "suspend_reason": reason, **changes,
                 "before": {"status": InstanceStatus.SUSPENDED}, "after": {"status": InstanceStatus.RUNNING}},
                 instance.id)], actor)
    for task in _holders(session, instance.id):
        notify.notify_user(session, task.assignee_id or 0, NotificationKind.EXTENSION, task,
                           f"{notify.task_label(task)}：案件已恢复办理，期限顺延 {days} 个工作日", now)
    flush(session)
    return instance
