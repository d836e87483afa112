"""Graded escalation (提醒 / 督办 / 通报) driven by the diagram's timer boundary events.

A supervisor decides when and how far work escalates by editing the diagram: a timer boundary event
on a user task carries ``escalation`` (the grade) and ``notify`` (who is told: ``holder`` and/or
group keys — ``unit_leader`` for the unit's responsible leader, ``office`` for 巡察办,
``leading_group`` for 领导小组). When the scheduler fires it, this module tells each of them, about
the task the event is attached to; whatever else should happen (a 督办 task for the office) is drawn
in the diagram after the event. Recipients are filtered by the one permission rule: nobody who may
not see the case hears of it (a clue never reaches its unit), and nobody recused.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session, selectinload

from models import HumanTask, NotificationKind, ProcessInstance, TaskStatus, Timer, TimerStatus, User

from . import notify
from .actors import actor_for
from .audit import EventDraft
from .calendar import LOCAL_TZ, working_days_between
from .definitions import HOLDER, Escalation, ParsedDefinition
from .permissions import binding_path, can_see_instance, is_candidate, is_recused


def on_timers_fired(session: Session, instance: ProcessInstance, parsed: ParsedDefinition, fired: list[Any],
                    now: datetime, *, marked: str | None = None) -> list[EventDraft]:
    """Timer events of this instance that fired in a step: their timer rows are marked fired (one
    step can fire several, e.g. a 提醒 and a 督办 both overdue; ``marked`` is the one the scheduler
    is firing and has marked itself), and escalating ones tell their audiences. Returns the audit
    drafts."""
    guids = [str(t.id) for t in fired if str(t.id) != marked]
    if guids:
        session.connection().execute(
            update(Timer).where(Timer.instance_id == instance.id, Timer.task_guid.in_(guids),
                                Timer.status == TimerStatus.WAITING).values(status=TimerStatus.FIRED, fired_at=now))
    drafts: list[EventDraft] = []
    for timer_task in fired:
        drafts += _escalate(session, instance, parsed, timer_task, now)
    return drafts


def _escalate(session: Session, instance: ProcessInstance, parsed: ParsedDefinition, timer_task: Any,
              now: datetime) -> list[EventDraft]:
    escalation = parsed.escalations.get(timer_task.task_spec.bpmn_id)
    if escalation is None:
        return []
    task = _attached_task(session, instance, escalation, timer_task)
    if task is None:
        return []
    message = f"【{escalation.grade}】{notify.task_label(task)}：{_lateness(task, now)}"
    recipients = _recipients(session, instance, task, escalation)
    for user in recipients:
        notify.notify_user(session, user.id, NotificationKind.ESCALATED, task, message, now)
    return [EventDraft("escalated", {
        "grade": escalation.grade, "event_id": escalation.event_id, "task_id": task.id, "name": task.name,
        "audiences": list(escalation.audiences), "recipients": sorted(u.username for u in recipients),
        "message": message}, instance.id)]


def _attached_task(session: Session, instance: ProcessInstance, escalation: Escalation, timer_task: Any
                   ) -> HumanTask | None:
    """The open human task the boundary event sits on (its sibling under the boundary split)."""
    parent = timer_task.parent
    guids = [str(t.id) for t in (parent.children if parent is not None else [])
             if getattr(t.task_spec, "bpmn_id", None) == escalation.attached_to]
    if not guids:
        return None
    return session.execute(select(HumanTask).where(
        HumanTask.instance_id == instance.id, HumanTask.task_guid.in_(guids),
        HumanTask.status == TaskStatus.READY)).scalar_one_or_none()


def _lateness(task: HumanTask, now: datetime) -> str:
    if task.due_at is None:
        return "请及时办理"
    due_day = task.due_at.astimezone(LOCAL_TZ).date()
    today = now.astimezone(LOCAL_TZ).date()
    if task.due_at >= now:
        left = working_days_between(today, due_day)
        return f"将于 {due_day:%Y-%m-%d} 到期（还剩 {left} 个工作日）"
    return f"已于 {due_day:%Y-%m-%d} 到期，逾期 {max(1, working_days_between(due_day, today))} 个工作日"


def _recipients(session: Session, instance: ProcessInstance, task: HumanTask, escalation: Escalation) -> list[User]:
    user_ids: set[int] = set()
    for audience in escalation.audiences:
        if audience == HOLDER:
            user_ids |= {task.assignee_id} if task.assignee_id is not None else set(notify.candidate_ids(session, task))
            continue
        path = binding_path(instance, audience)
        if path:
            user_ids |= set(session.execute(notify.candidates(audience, path)).scalars())
    if not user_ids:
        return []
    users = session.execute(select(User).where(User.id.in_(user_ids), User.active.is_(True))
                            .options(selectinload(User.memberships)).order_by(User.id)).scalars()
    allowed = []
    for user in users:
        actor = actor_for(user)
        if not is_recused(actor, instance) and (can_see_instance(actor, instance) or is_candidate(actor, task)
                                                or task.assignee_id == user.id):
            allowed.append(user)
    return allowed
