"""Who holds a task: claim, unclaim, assign, delegate and resolve.

Delegation follows Camunda's model. The holder (or the office on their behalf) delegates a task;
the delegate works on it and *resolves* it, which sends it back, with the delegate's form data as a
draft, to its owner, who reviews and completes it. While the delegation is pending, only the
delegate works on the task and nobody can complete it.

Every change bumps the task's ``revision`` (a form opened before the change is stale), is audited
with who held the task before and after, and notifies whoever now has work to do.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from models import (
    DelegationState,
    HumanTask,
    InstanceStatus,
    NotificationKind,
    ProcessInstance,
    TaskStatus,
    User,
)

from . import drafts, notify, queues
from .actors import Actor, load_actor
from .context import EngineContext
from .errors import (
    DelegationPending,
    InvalidInput,
    NotFound,
    NotPermitted,
    TaskAlreadyClaimed,
    TaskNotActive,
    TaskNotClaimedByYou,
)
from .permissions import can_assign, can_see_instance, is_candidate, is_recused
from .submission import validate_submission
from .taskaccess import audit_task, check_revision, holding, locked_task


def claim_task(session: Session, ctx: EngineContext, actor: Actor, task_id: int) -> HumanTask:
    """Take a task from the group queue. The conditional UPDATE decides between concurrent claimers."""
    task, instance = locked_task(session, actor, task_id)
    if task.assignee_id == actor.user_id:
        return task
    if not is_candidate(actor, task) or is_recused(actor, instance):
        raise NotPermitted("您不能办理此任务。", "You may not take this task.")
    if instance.status != InstanceStatus.RUNNING:
        raise TaskNotActive("案件当前不在办理状态（已中止或已结束）。",
                            "The case is not running (suspended or finished).", {"status": instance.status})
    _claim(session, ctx, actor, task, instance)
    return task


CLAIM_NEXT_ATTEMPTS = 5


def claim_next(session: Session, ctx: EngineContext, actor: Actor, *, filters: queues.TaskFilter | None = None,
               sort: str = "due") -> HumanTask | None:
    """签收下一件: claim the first task of the actor's group queue (in ``sort`` order, with the queue's
    filters) that nobody else is acting on right now, or None when there is none.

    Handlers who pick from the same list collide on its first rows; here each gets a different task.
    The case row is locked with SKIP LOCKED (PostgreSQL), so a case someone is claiming or completing
    is passed over instead of waited for (SQLite serialises writers anyway). The task's row was read
    before the lock, so a colleague may have claimed it in between: the claim's conditional UPDATE
    notices, and the next task is tried."""
    queues.check_sort(sort)
    now = ctx.clock.now()
    candidates = (queues.queue_query(session, actor, "group", filters or queues.TaskFilter(), now)
                  .add_columns(ProcessInstance)
                  .join(ProcessInstance, ProcessInstance.id == HumanTask.instance_id)
                  .where(ProcessInstance.status == InstanceStatus.RUNNING)
                  .order_by(*queues.SORTS[sort]).limit(1)
                  .with_for_update(of=ProcessInstance, skip_locked=True)
                  .execution_options(populate_existing=True))
    passed: list[int] = []
    for _attempt in range(CLAIM_NEXT_ATTEMPTS):
        found = session.execute(candidates.where(HumanTask.id.not_in(passed)) if passed else candidates).one_or_none()
        if found is None:
            return None
        task, instance = found
        try:
            _claim(session, ctx, actor, task, instance)  # writes nothing when it refuses
            return task
        except TaskAlreadyClaimed:
            passed.append(task.id)
    return None


def _claim(session: Session, ctx: EngineContext, actor: Actor, task: HumanTask, instance: ProcessInstance) -> None:
    """Make the actor the task's holder, if it is still free (the UPDATE re-checks under the row lock)."""
    now = ctx.clock.now()
    # RETURNING hands back what the row holds once this UPDATE has its lock: the new revision, and
    # whether the scheduler's offer sweep (which locks the row too) got there first.
    claimed = session.execute(
        update(HumanTask).where(HumanTask.id == task.id, HumanTask.assignee_id.is_(None),
                                HumanTask.status == TaskStatus.READY)
        .values(assignee_id=actor.user_id, claimed_at=now, revision=HumanTask.revision + 1)
        .returning(HumanTask.revision, HumanTask.offered_at)
        .execution_options(synchronize_session=False)
    ).one_or_none()
    if claimed is None:
        raise TaskAlreadyClaimed("该任务已被他人签收办理。", "Someone else has already claimed this task.")
    for name, value in (("assignee_id", actor.user_id), ("claimed_at", now), ("revision", claimed.revision),
                        ("offered_at", claimed.offered_at)):
        set_committed_value(task, name, value)
    if claimed.offered_at is not None:  # never offered yet: there is nothing to withdraw
        notify.withdraw_offers(session, task.id, now)
    audit_task(session, instance, actor, now, "task_claimed", task, {
        "assignee": actor.username, "before": {"assignee": None}, "after": {"assignee": actor.username}})


def unclaim_task(session: Session, ctx: EngineContext, actor: Actor, task_id: int) -> HumanTask:
    """Give a task back. A pending delegation goes back to its owner (the delegate declines, or the
    owner recalls it); otherwise the task returns to the group queue."""
    task, instance = locked_task(session, actor, task_id)
    if task.assignee_id is None:
        raise TaskNotClaimedByYou("此任务尚无人签收，无需退回。", "Nobody holds this task; there is nothing to return.")
    owner_recalls = task.delegation == DelegationState.PENDING and task.owner_id == actor.user_id
    if task.assignee_id != actor.user_id and not owner_recalls and not can_assign(actor, task):
        raise TaskNotClaimedByYou("此任务不在您名下。", "This task is not held by you.")
    now = ctx.clock.now()
    before, before_id = holding(session, task), task.assignee_id
    if task.delegation == DelegationState.PENDING and task.owner_id is not None:
        task.assignee_id, task.claimed_at = task.owner_id, now
        notify.notify_user(session, task.owner_id, NotificationKind.RETURNED, task,
                           f"{notify.task_label(task)}：委派已收回", now)
    else:
        task.assignee_id, task.claimed_at = None, None
    task.owner_id, task.delegation, task.revision = None, None, task.revision + 1
    audit_task(session, instance, actor, now, "task_unclaimed", task, {
        "previous_assignee_id": before_id, "before": before, "after": holding(session, task)})
    return task


def _target(session: Session, username: str, task: HumanTask, instance: ProcessInstance, *,
            viewers_too: bool) -> Actor:
    """The person a task is handed to: an active user who may take it (a candidate, or for a
    delegation anyone who may see the case), and who is not recused from it."""
    try:
        target = load_actor(session, username)
    except NotFound:
        raise InvalidInput(f"用户 {username} 不存在。", f"User {username} does not exist.",
                           {"user": username}) from None
    allowed = is_candidate(target, task) or (viewers_too and can_see_instance(target, instance))
    if not allowed or is_recused(target, instance):
        raise InvalidInput(f"{target.display_name} 不是此任务的办理人选。", f"{username} may not take this task.",
                           {"user": username})
    return target


def assign_task(session: Session, ctx: EngineContext, actor: Actor, task_id: int, username: str) -> HumanTask:
    """An office or leading-group member hands the task to a candidate (any delegation ends)."""
    task, instance = locked_task(session, actor, task_id)
    if not can_assign(actor, task):
        raise NotPermitted("只有巡察办或领导小组可以分派任务。",
                           "Only the office or the leading group may assign tasks.")
    target = _target(session, username, task, instance, viewers_too=False)
    if task.assignee_id == target.user_id and task.delegation is None:
        return task  # already theirs: nothing changes, nothing to record
    _hand_to(session, ctx, actor, task, instance, target, "task_assigned", owner=None, delegation=None,
             message=f"{notify.task_label(task)}（{actor.display_name} 分派）")
    return task


def delegate_task(session: Session, ctx: EngineContext, actor: Actor, task_id: int, username: str) -> HumanTask:
    """The holder (or the office on the holder's behalf) asks someone else to do the work; the task
    comes back to the holder — its owner — for approval when the delegate resolves it."""
    task, instance = locked_task(session, actor, task_id)
    if task.assignee_id is None:
        raise TaskNotClaimedByYou("请先签收此任务，再委派他人办理。", "Claim the task before delegating it.")
    if task.delegation == DelegationState.PENDING:
        raise DelegationPending("此任务已委派他人办理，请先收回。", "The task is already delegated; recall it first.")
    if task.assignee_id != actor.user_id and not can_assign(actor, task):
        raise NotPermitted("只有任务办理人或巡察办可以委派此任务。",
                           "Only the holder of the task or the office may delegate it.")
    target = _target(session, username, task, instance, viewers_too=True)
    if target.user_id == task.assignee_id:
        raise InvalidInput("不能委派给当前办理人本人。", "The task cannot be delegated to its current holder.",
                           {"user": username})
    _hand_to(session, ctx, actor, task, instance, target, "task_delegated", owner=task.assignee_id,
             delegation=DelegationState.PENDING,
             message=f"{notify.task_label(task)}（{actor.display_name} 委派，办理后交回审核）")
    return task


def _hand_to(session: Session, ctx: EngineContext, actor: Actor, task: HumanTask, instance: ProcessInstance,
             target: Actor, event_type: str, *, owner: int | None, delegation: str | None, message: str) -> None:
    """Give the task to ``target`` (with the owner and delegation state given), withdraw the group's
    offers, tell the target, and audit the holders before and after."""
    now = ctx.clock.now()
    before, before_id = holding(session, task), task.assignee_id
    task.owner_id, task.delegation = owner, delegation
    task.assignee_id, task.claimed_at, task.revision = target.user_id, now, task.revision + 1
    notify.withdraw_offers(session, task.id, now)
    notify.notify_user(session, target.user_id, NotificationKind.ASSIGNED, task, message, now)
    audit_task(session, instance, actor, now, event_type, task, {
        "previous_assignee_id": before_id, "assignee": target.username, "before": before,
        "after": holding(session, task)})
    session.flush()


def resolve_task(session: Session, ctx: EngineContext, actor: Actor, task_id: int, data: dict[str, Any], *,
                 expected_revision: int | None = None) -> HumanTask:
    """The delegate hands the work back: the form is validated, kept as the owner's draft, and the
    task returns to its owner to review and complete."""
    task, instance = locked_task(session, actor, task_id)
    if task.delegation != DelegationState.PENDING or task.assignee_id != actor.user_id or task.owner_id is None:
        raise TaskNotClaimedByYou("只有受委派人可以交回此任务。", "Only the delegate can resolve this task.")
    check_revision(task, expected_revision)
    clean = validate_submission(session, ctx, task, instance, data)
    now = ctx.clock.now()
    before = holding(session, task)
    owner = task.owner_id
    drafts.keep_draft(session, task.id, owner, clean, now)
    task.assignee_id, task.claimed_at, task.revision = owner, now, task.revision + 1
    task.delegation = DelegationState.RESOLVED
    notify.notify_user(session, owner, NotificationKind.RETURNED, task,
                       f"{notify.task_label(task)}：{actor.display_name} 已办理完毕，请审核", now)
    audit_task(session, instance, actor, now, "task_resolved", task, {
        "before": before, "after": holding(session, task), "data": clean})
    session.flush()
    return task


def candidate_users(session: Session, task: HumanTask) -> list[tuple[str, str]]:
    """(username, display name) of the people a task may be handed to: its candidates, less the
    recused — what the assign and delegate pickers offer."""
    rows = session.execute(select(User.username, User.display_name)
                           .where(User.id.in_(notify.candidate_ids(session, task)))
                           .order_by(User.display_name)).all()
    return [(row.username, row.display_name) for row in rows]
