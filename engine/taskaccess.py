"""Finding and locking a task for an action, with the visibility rule every action shares, and the
audit record of an action on a task (who, when, before and after)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from models import HumanTask, ProcessInstance, TaskStatus, User

from . import audit
from .actors import Actor
from .errors import NotFound, StaleState, TaskNotActive
from .permissions import can_see_instance, is_candidate, is_recused


def lock_instance(session: Session, instance_id: int) -> ProcessInstance:
    """Row lock: FOR UPDATE on PostgreSQL (SQLite already holds the write lock: BEGIN IMMEDIATE)."""
    instance = session.execute(
        select(ProcessInstance).where(ProcessInstance.id == instance_id).with_for_update()
        .execution_options(populate_existing=True)
    ).scalar_one_or_none()
    if instance is None:
        raise NotFound("流程实例不存在。", "The process instance does not exist.")
    return instance


def check_visible(actor: Actor, task: HumanTask, instance: ProcessInstance) -> None:
    """A task is visible to its holder, its owner (who delegated it), whoever completed it, its
    candidates and whoever may see the case — never to a recused person. Otherwise: not found."""
    if is_recused(actor, instance) or not (
        actor.user_id in (task.assignee_id, task.owner_id, task.completed_by_id)
        or is_candidate(actor, task) or can_see_instance(actor, instance)
    ):
        raise NotFound("任务不存在或无权查看。", "The task does not exist or is not visible to you.")


def get_task(session: Session, actor: Actor, task_id: int) -> HumanTask:
    """A task the actor may see; otherwise NotFound."""
    task = session.get(HumanTask, task_id)
    if task is None:
        raise NotFound("任务不存在。", "The task does not exist.")
    check_visible(actor, task, task.instance)
    return task


def locked_task(session: Session, actor: Actor, task_id: int) -> tuple[HumanTask, ProcessInstance]:
    """The ready task and its instance, the instance row locked first and the task read after the lock."""
    instance = session.execute(
        select(ProcessInstance).where(ProcessInstance.id == select(HumanTask.instance_id)
                                      .where(HumanTask.id == task_id).scalar_subquery())
        .with_for_update().execution_options(populate_existing=True)
    ).scalar_one_or_none()
    if instance is None:
        raise NotFound("任务不存在。", "The task does not exist.")
    task = session.execute(select(HumanTask).where(HumanTask.id == task_id)
                           .execution_options(populate_existing=True)).scalar_one()
    check_visible(actor, task, instance)
    require_ready(task)
    return task, instance


def require_ready(task: HumanTask) -> None:
    if task.status != TaskStatus.READY:
        raise TaskNotActive("该任务已办结或已取消。", "This task has already been completed or cancelled.",
                            {"status": task.status})


def task_changed(details: dict[str, Any] | None = None) -> StaleState:
    return StaleState("任务在您打开后已发生变化，请刷新后重新提交。",
                      "The task changed after you opened it; reload and submit again.", details)


def check_revision(task: HumanTask, expected_revision: int | None) -> None:
    """A form opened at another revision of the task (claimed, handed on, returned since) is stale."""
    if expected_revision is not None and expected_revision != task.revision:
        raise task_changed({"revision": task.revision})


def username_of(session: Session, user_id: int | None) -> str | None:
    if user_id is None:
        return None
    user = session.get(User, user_id)
    return user.username if user is not None else None


def holding(session: Session, task: HumanTask) -> dict[str, Any]:
    """Who holds the task, for the before/after of an audit event."""
    return {"assignee": username_of(session, task.assignee_id), "owner": username_of(session, task.owner_id),
            "delegation": task.delegation}


def audit_task(session: Session, instance: ProcessInstance, actor: Actor, now: datetime, event_type: str,
               task: HumanTask, extra: dict[str, Any]) -> None:
    instance.updated_at = now
    audit.record_case(session, instance, [audit.EventDraft(event_type, {
        "task_id": task.id, "bpmn_id": task.bpmn_id, "name": task.name, **extra}, instance.id)],
        at=now, actor_id=actor.user_id, actor_name=actor.username)
