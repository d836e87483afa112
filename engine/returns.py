"""退回: after a step sends a case back, the step that receives it goes to whoever did it last.

A returned 整改方案 belongs with the liaison who drafted it, not back in the unit's group queue
where anyone might pick it up without knowing why it came back. If that person can no longer take
the task (moved, recused, deactivated), it stays offered to the group as usual.
"""

from __future__ import annotations

import json
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from models import AuditEvent, HumanTask, NotificationKind, ProcessInstance, TaskStatus, User

from . import audit, notify
from .actors import Actor, actor_for
from .permissions import is_candidate, is_recused


def send_back(session: Session, instance: ProcessInstance, returned: HumanTask, actor: Actor, now: datetime,
              ready_before: set[str], reason: str | None) -> list[HumanTask]:
    """Hand each task the return opened to its previous performer; audit the return. Returns the
    tasks that were handed back."""
    opened = [t for t in session.execute(
        select(HumanTask).where(HumanTask.instance_id == instance.id, HumanTask.status == TaskStatus.READY)
        .order_by(HumanTask.id)).scalars() if t.task_guid not in ready_before]
    handed: list[HumanTask] = []
    targets = []
    for task in opened:
        previous = session.execute(
            select(HumanTask.completed_by_id).where(
                HumanTask.instance_id == instance.id, HumanTask.bpmn_id == task.bpmn_id, HumanTask.name == task.name,
                HumanTask.status == TaskStatus.COMPLETED, HumanTask.id != task.id)
            .order_by(HumanTask.completed_at.desc(), HumanTask.id.desc()).limit(1)).scalar()
        performer = _performer(session, previous, task, instance)
        if performer is None:
            targets.append({"task_id": task.id, "name": task.name, "assignee": None})
            continue
        task.assignee_id, task.claimed_at, task.revision = performer.user_id, now, task.revision + 1
        notify.withdraw_offers(session, task.id, now)
        notify.notify_user(session, performer.user_id, NotificationKind.RETURNED, task,
                           f"{notify.task_label(task)}：{actor.display_name} 退回，理由：{reason or '（未填写）'}", now)
        targets.append({"task_id": task.id, "name": task.name, "assignee": performer.username})
        handed.append(task)
    audit.record_case(session, instance, [audit.EventDraft("task_returned", {
        "task_id": returned.id, "bpmn_id": returned.bpmn_id, "name": returned.name, "reason": reason,
        "returned_to": targets}, instance.id)], at=now, actor_id=actor.user_id, actor_name=actor.username)
    return handed


def _performer(session: Session, user_id: int | None, task: HumanTask, instance: ProcessInstance) -> Actor | None:
    user = session.get(User, user_id) if user_id is not None else None
    if user is None or not user.active:  # deactivated since
        return None
    performer = actor_for(user)
    if not is_candidate(performer, task) or is_recused(performer, instance):
        return None
    return performer


def last_return(session: Session, task: HumanTask) -> dict[str, object] | None:
    """The return that opened this task, if one did: who sent it back, when, and why."""
    for event in session.execute(
            select(AuditEvent).where(AuditEvent.instance_id == task.instance_id,
                                     AuditEvent.event_type == "task_returned")
            .order_by(AuditEvent.seq.desc()).limit(20)).scalars():
        payload = json.loads(event.payload)
        if any(t.get("task_id") == task.id for t in payload.get("returned_to", [])):
            return {"by": event.actor_name, "at": event.at, "reason": payload.get("reason"),
                    "from": payload.get("name")}
    return None
