"""延期: a task's holder asks for more time, with a reason; the approver the diagram names decides.

The approver is the group a user task names in its ``extensionApprover`` property (checked at deploy
like a lane; the office by default), held over the organisation the case binds to that group (its
scope unless the case binds the group elsewhere). One request may be pending per task and per
rectification item; the requested date must be later than the task's deadline.

On approval, under the instance lock and in the caller's transaction:

- the task's ``due_at`` becomes the requested date, its ``original_due_at`` keeps the first deadline
  (set once, never overwritten by later extensions);
- a rectification item the request names, and a clue case's own result deadline, move to the
  requested date when it is later than theirs (a step may not run past its case's deadline);
- every waiting timer attached to the task (its boundary timers) moves by the same amount — the
  ``timer`` row *and* SpiffWorkflow's own record of when it is due (the boundary event's
  ``internal_data['event_value']``), which ``refresh_timers`` re-reads on every step: moving only the
  row would let the next step of the case fire the timer at its old time.

Every decision is audited on the case with the deadlines before and after, and the requester (on a
decision) or the approvers (on a request) are notified.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition
from SpiffWorkflow.bpmn.specs.mixins.events.intermediate_event import BoundaryEvent
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.util.task import TaskState
from sqlalchemy import false, or_, select
from sqlalchemy.orm import Session

from models import (
    Clue,
    ExtensionRequest,
    ExtensionStatus,
    HumanTask,
    NotificationKind,
    ProcessInstance,
    RectificationItem,
    Recusal,
    TaskStatus,
    Timer,
    TimerStatus,
    User,
)

from . import audit, notify
from .actors import Actor
from .calendar import END_OF_DAY, LOCAL_TZ
from .context import EngineContext
from .deadlines import move_deadline
from .definitions import SPEC_CACHE
from .errors import Conflict, FormInvalid, InvalidInput, NotFound, NotPermitted, TaskNotActive
from .permissions import binding_path, can_see_instance, is_recused
from .runtime import _persist, find_task, flush, restore
from .taskaccess import lock_instance, locked_task, username_of

MAX_REASON = 1000
DEFAULT_APPROVER = "office"


# ---- who decides -------------------------------------------------------------------------------------------

def approver_group(session: Session, ctx: EngineContext, instance: ProcessInstance, bpmn_id: str) -> str:
    """The group key deciding extensions of this user task (the diagram's ``extensionApprover``)."""
    parsed = SPEC_CACHE.for_definition_id(session, instance.definition_id, ctx.forms)
    info = parsed.task(bpmn_id)
    return info.extension_approver if info is not None else DEFAULT_APPROVER


def may_decide(actor: Actor, instance: ProcessInstance, group: str) -> bool:
    return not is_recused(actor, instance) and actor.role_covers(group, binding_path(instance, group))


# ---- moving timers (shared with engine.suspension) ---------------------------------------------------------

def _shifted_value(value: Any, shift: Callable[[datetime], datetime]) -> Any:
    """A timer's ``event_value`` with its due moment moved; None if it holds no moment we can read."""
    if isinstance(value, dict):  # cycle timers: the next firing
        moved = _shifted_value(value.get("next"), shift)
        return None if moved is None else {**value, "next": moved}
    if not isinstance(value, str) or value.upper().startswith("P"):
        return None
    try:
        due = TimerEventDefinition.get_datetime(value)
    except (ValueError, TypeError):
        return None
    return shift(due).isoformat()


def _due_of(value: Any) -> datetime | None:
    if isinstance(value, dict):
        value = value.get("next")
    return TimerEventDefinition.get_datetime(value) if isinstance(value, str) else None


def waiting_timer_tasks(workflow: BpmnWorkflow, attached_to: str | None = None) -> list[Any]:
    """The workflow's waiting timer events — all of them, or the boundary timers of the task ``attached_to``."""
    found = []
    for task in workflow.get_tasks(state=TaskState.WAITING):
        if not isinstance(getattr(task.task_spec, "event_definition", None), TimerEventDefinition):
            continue
        if attached_to is not None:
            parent = task.parent
            siblings = parent.children if parent is not None else []
            if not isinstance(task.task_spec, BoundaryEvent) or not any(str(s.id) == attached_to for s in siblings):
                continue
        found.append(task)
    return found


def move_timers(session: Session, instance: ProcessInstance, workflow: BpmnWorkflow, spiff_tasks: list[Any],
                shift: Callable[[datetime], datetime]) -> list[dict[str, Any]]:
    """Move each waiting timer's due moment — inside the workflow state and on its ``timer`` row, to
    the same instant, so the projection keeps the row — and return what moved (for the audit)."""
    moved: list[dict[str, Any]] = []
    rows = {row.task_guid: row for row in session.execute(select(Timer).where(
        Timer.instance_id == instance.id, Timer.status == TimerStatus.WAITING)).scalars()}
    for task in spiff_tasks:
        before = task._get_internal_data("event_value")
        after = _shifted_value(before, shift)
        if after is None:
            continue
        task._set_internal_data(event_value=after)
        old_due, new_due = _due_of(before), _due_of(after)
        row = rows.get(str(task.id))
        if row is not None and new_due is not None:
            row.due_at = new_due
        moved.append({"timer_id": row.id if row is not None else None, "bpmn_id": task.task_spec.bpmn_id,
                      "before": old_due, "after": new_due})
    return moved


# ---- requesting --------------------------------------------------------------------------------------------

def _field_error(field: str, zh: str, en: str) -> FormInvalid:
    return FormInvalid(zh, en, {"fields": {field: {"message_zh": zh, "message_en": en}}})


def _local_day(moment: datetime | None) -> str:
    return f"{moment.astimezone(LOCAL_TZ):%Y-%m-%d}" if moment is not None else "—"


def due_from_text(raw: Any) -> datetime:
    """A requested deadline as people and clients give it: ``YYYY-MM-DD`` (the end of that working day,
    Beijing time, as deadlines are) or an ISO 8601 moment with its offset."""
    text = raw.strip() if isinstance(raw, str) else ""
    try:
        if len(text) == 10:
            return datetime.combine(date.fromisoformat(text), END_OF_DAY, tzinfo=LOCAL_TZ)
        moment = datetime.fromisoformat(text)
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        raise _field_error("requested_due_at", "请填写有效的日期（如 2026-12-31）。",
                           "Give a valid date (e.g. 2026-12-31) or a date-time with its offset.")
    return moment


def request_extension(session: Session, ctx: EngineContext, actor: Actor, task_id: int,
                      requested_due_at: datetime, reason: str, *, item_id: int | None = None) -> ExtensionRequest:
    """The holder of a ready task asks that its deadline move to ``requested_due_at``."""
    task, instance = locked_task(session, actor, task_id)
    if task.assignee_id != actor.user_id:
        raise NotPermitted("只有任务的办理人可以申请延期。", "Only the holder of the task may ask for an extension.")
    if task.due_at is None:
        raise Conflict("此任务没有办理期限，无需延期。", "This task has no deadline to extend.")
    reason = (reason or "").strip()
    if not reason:
        raise _field_error("reason", "请填写延期理由。", "Give a reason for the extension.")
    if len(reason) > MAX_REASON:
        raise _field_error("reason", f"延期理由不能超过 {MAX_REASON} 字。",
                           f"The reason may not exceed {MAX_REASON} characters.")
    if requested_due_at.tzinfo is None:
        raise InvalidInput("申请的期限须带时区。", "The requested deadline needs a time zone.")
    if requested_due_at <= task.due_at:
        raise _field_error("requested_due_at", f"申请的期限须晚于当前期限（{_local_day(task.due_at)}）。",
                           f"The requested deadline must be later than the current one ({_local_day(task.due_at)}).")
    if item_id is not None:
        item = session.get(RectificationItem, item_id)
        if item is None or item.instance_id != instance.id:
            raise _field_error("item_id", "所选整改事项不属于此案件。",
                               "That rectification item is not part of this case.")
    pending = session.execute(select(ExtensionRequest.id).where(
        ExtensionRequest.status == ExtensionStatus.PENDING,
        or_(ExtensionRequest.task_id == task.id,
            ExtensionRequest.item_id == item_id if item_id is not None else false()))).first()
    if pending is not None:
        raise Conflict("已有待审批的延期申请，请等待审批结果或先撤回。",
                       "An extension request is already pending; wait for the decision or withdraw it.",
                       {"request_id": pending[0]})
    now = ctx.clock.now()
    row = ExtensionRequest(instance_id=instance.id, task_id=task.id, item_id=item_id, requested_by_id=actor.user_id,
                           reason=reason, current_due_at=task.due_at, requested_due_at=requested_due_at,
                           status=ExtensionStatus.PENDING, created_at=now)
    session.add(row)
    session.flush()
    group = approver_group(session, ctx, instance, task.bpmn_id)
    _audit(session, instance, actor, now, "extension_requested", row, task, {
        "reason": reason, "approver_group": group, "current_due_at": task.due_at,
        "requested_due_at": requested_due_at, "before": {"status": None}, "after": {"status": row.status}})
    message = (f"{notify.task_label(task)}：{actor.display_name} 申请延期至 {_local_day(requested_due_at)}，请审批")
    for user_id in _approvers(session, instance, group):
        if user_id != actor.user_id:
            notify.notify_user(session, user_id, NotificationKind.EXTENSION, task, message, now)
    flush(session)
    return row


def _approvers(session: Session, instance: ProcessInstance, group: str) -> list[int]:
    path = binding_path(instance, group)
    if path is None:
        return []
    recused = select(Recusal.user_id).where(Recusal.instance_id == instance.id)
    users = notify.candidates(group, path).where(User.id.not_in(recused)).distinct()
    return sorted(session.execute(users).scalars())


# ---- deciding ----------------------------------------------------------------------------------------------

def _locked_request(session: Session, actor: Actor, request_id: int) -> tuple[ExtensionRequest, ProcessInstance]:
    """The request (read again after its case is locked), if the actor may see it."""
    instance_id = session.execute(
        select(ExtensionRequest.instance_id).where(ExtensionRequest.id == request_id)).scalar()
    if instance_id is None:
        raise NotFound("延期申请不存在。", "The extension request does not exist.")
    instance = lock_instance(session, instance_id)
    row = session.execute(select(ExtensionRequest).where(ExtensionRequest.id == request_id)
                          .execution_options(populate_existing=True)).scalar_one()
    if row.requested_by_id != actor.user_id and not can_see_instance(actor, instance):
        raise NotFound("延期申请不存在或无权查看。", "The extension request does not exist or is not visible to you.")
    return row, instance


def _require_pending(row: ExtensionRequest) -> None:
    if row.status != ExtensionStatus.PENDING:
        raise Conflict("此延期申请已处理。", "This extension request has already been decided or withdrawn.",
                       {"status": row.status})


def _task_of(session: Session, row: ExtensionRequest) -> HumanTask:
    task = session.get(HumanTask, row.task_id) if row.task_id is not None else None
    if task is None:
        raise NotFound("任务不存在。", "The task does not exist.")
    return task


def _decider(session: Session, ctx: EngineContext, actor: Actor, row: ExtensionRequest,
             instance: ProcessInstance, task: HumanTask) -> None:
    group = approver_group(session, ctx, instance, task.bpmn_id)
    if not may_decide(actor, instance, group):
        raise NotPermitted("您无权审批此延期申请。", "You may not decide this extension request.",
                           {"approver_group": group})
    if row.requested_by_id == actor.user_id:
        raise NotPermitted("不能审批本人提出的延期申请。", "You may not decide your own extension request.")


def _note(note: str | None) -> str | None:
    note = (note or "").strip() or None
    if note is not None and len(note) > MAX_REASON:
        raise _field_error("note", f"审批意见不能超过 {MAX_REASON} 字。",
                           f"The note may not exceed {MAX_REASON} characters.")
    return note


def approve(session: Session, ctx: EngineContext, actor: Actor, request_id: int, note: str | None = None
            ) -> ExtensionRequest:
    """Grant the request: the task's deadline, the item's or clue's where it applies, and the task's
    waiting boundary timers all move; audited and told to the requester."""
    row, instance = _locked_request(session, actor, request_id)
    task = _task_of(session, row)
    _decider(session, ctx, actor, row, instance, task)
    _require_pending(row)
    note = _note(note)
    if task.status != TaskStatus.READY:
        raise TaskNotActive("该任务已办结或已取消，延期申请只能驳回。",
                            "The task is no longer open; the request can only be refused.", {"status": task.status})
    if task.due_at is None or row.requested_due_at <= task.due_at:
        raise Conflict("申请的期限已不晚于任务当前期限，无需批准。",
                       "The requested deadline is no longer later than the task's; there is nothing to grant.")
    now = ctx.clock.now()
    delta = row.requested_due_at - task.due_at
    changes: dict[str, Any] = {"task": move_deadline(task, row.requested_due_at)}
    task.warned_at = None  # a new deadline earns a new due-soon notice
    if row.item_id is not None:
        item = session.get(RectificationItem, row.item_id)
        if item is not None and item.due_at is not None and row.requested_due_at > item.due_at:
            changes["item"] = {"item_id": item.id, **move_deadline(item, row.requested_due_at)}
    if instance.case_kind == "clue":
        clue = session.execute(select(Clue).where(Clue.instance_id == instance.id)).scalar_one_or_none()
        if clue is not None and clue.due_at is not None and row.requested_due_at > clue.due_at:
            changes["clue"] = {"clue_id": clue.id, **move_deadline(clue, row.requested_due_at)}
    workflow = restore(session, ctx, instance)
    spiff_task = find_task(workflow, task.task_guid)
    timers = move_timers(session, instance, workflow, waiting_timer_tasks(workflow, str(spiff_task.id)),
                         lambda due: due + delta) if spiff_task is not None else []
    row.status, row.decided_by_id = ExtensionStatus.APPROVED, actor.user_id
    row.decided_at, row.decision_note = now, note
    session.flush()
    draft = _draft("extension_approved", row, task, {
        "note": note, "shift_seconds": delta.total_seconds(), "timers": timers, **changes,
        "before": {"status": ExtensionStatus.PENDING}, "after": {"status": row.status}})
    _persist(session, instance, workflow, SPEC_CACHE.for_definition_id(session, instance.definition_id, ctx.forms),
             now, [draft], actor)
    notify.notify_user(session, row.requested_by_id, NotificationKind.EXTENSION, task,
                       f"{notify.task_label(task)}：延期申请已批准，期限延至 {_local_day(row.requested_due_at)}", now)
    flush(session)
    return row


def refuse(session: Session, ctx: EngineContext, actor: Actor, request_id: int, note: str | None = None
           ) -> ExtensionRequest:
    """Turn the request down; nothing moves. Audited and told to the requester."""
    row, instance = _locked_request(session, actor, request_id)
    task = _task_of(session, row)
    _decider(session, ctx, actor, row, instance, task)
    _require_pending(row)
    note = _note(note)
    now = ctx.clock.now()
    row.status, row.decided_by_id = ExtensionStatus.REFUSED, actor.user_id
    row.decided_at, row.decision_note = now, note
    _audit(session, instance, actor, now, "extension_refused", row, task, {
        "note": note, "before": {"status": ExtensionStatus.PENDING}, "after": {"status": row.status}})
    message = f"{notify.task_label(task)}：延期申请未获批准" + (f"（{note}）" if note else "")
    notify.notify_user(session, row.requested_by_id, NotificationKind.EXTENSION, task, message, now)
    flush(session)
    return row


def withdraw(session: Session, ctx: EngineContext, actor: Actor, request_id: int) -> ExtensionRequest:
    """The requester takes a pending request back."""
    row, instance = _locked_request(session, actor, request_id)
    task = _task_of(session, row)
    if row.requested_by_id != actor.user_id:
        raise NotPermitted("只有申请人可以撤回延期申请。", "Only the person who asked may withdraw the request.")
    _require_pending(row)
    now = ctx.clock.now()
    row.status, row.decided_at = ExtensionStatus.WITHDRAWN, now
    _audit(session, instance, actor, now, "extension_withdrawn", row, task, {
        "before": {"status": ExtensionStatus.PENDING}, "after": {"status": row.status}})
    flush(session)
    return row


def _draft(event_type: str, row: ExtensionRequest, task: HumanTask, extra: dict[str, Any]) -> audit.EventDraft:
    return audit.EventDraft(event_type, {"request_id": row.id, "task_id": task.id, "bpmn_id": task.bpmn_id,
                                         "name": task.name, "item_id": row.item_id, **extra}, row.instance_id)


def _audit(session: Session, instance: ProcessInstance, actor: Actor, now: datetime, event_type: str,
           row: ExtensionRequest, task: HumanTask, extra: dict[str, Any]) -> None:
    instance.updated_at = now
    audit.record_case(session, instance, [_draft(event_type, row, task, extra)], at=now,
                      actor_id=actor.user_id, actor_name=actor.username)


# ---- reading -----------------------------------------------------------------------------------------------

@dataclass
class ExtensionView:
    request: ExtensionRequest
    task: HumanTask
    instance: ProcessInstance
    requested_by: str | None
    decided_by: str | None
    may_decide: bool  # the reader may approve or refuse it now
    may_withdraw: bool

    @property
    def extension(self) -> timedelta:
        return self.request.requested_due_at - (self.request.current_due_at or self.request.requested_due_at)


def _view(session: Session, ctx: EngineContext, actor: Actor, row: ExtensionRequest, task: HumanTask,
          instance: ProcessInstance) -> ExtensionView:
    pending = row.status == ExtensionStatus.PENDING
    decides = (pending and row.requested_by_id != actor.user_id
               and may_decide(actor, instance, approver_group(session, ctx, instance, task.bpmn_id)))
    return ExtensionView(row, task, instance, username_of(session, row.requested_by_id),
                         username_of(session, row.decided_by_id), decides,
                         pending and row.requested_by_id == actor.user_id)


def get_request(session: Session, ctx: EngineContext, actor: Actor, request_id: int) -> ExtensionView:
    row = session.get(ExtensionRequest, request_id)
    instance = session.get(ProcessInstance, row.instance_id) if row is not None else None
    if row is None or instance is None or (row.requested_by_id != actor.user_id
                                           and not can_see_instance(actor, instance)):
        raise NotFound("延期申请不存在或无权查看。", "The extension request does not exist or is not visible to you.")
    return _view(session, ctx, actor, row, _task_of(session, row), instance)


def for_task(session: Session, ctx: EngineContext, actor: Actor, task: HumanTask) -> list[ExtensionView]:
    """A task's requests, newest first (the task page; the caller has checked the task is visible)."""
    rows = session.execute(select(ExtensionRequest).where(ExtensionRequest.task_id == task.id)
                           .order_by(ExtensionRequest.id.desc())).scalars()
    return [_view(session, ctx, actor, row, task, task.instance) for row in rows]


STATUSES = (ExtensionStatus.PENDING, ExtensionStatus.APPROVED, ExtensionStatus.REFUSED, ExtensionStatus.WITHDRAWN)
MAX_LISTED = 500


def list_requests(session: Session, ctx: EngineContext, actor: Actor, *, status: str | None = None,
                  mine: bool = False) -> list[ExtensionView]:
    """Requests the actor may decide (or, with ``mine``, made), newest first, at most ``MAX_LISTED``.
    The decider test is the diagram's per task, so candidates are narrowed in SQL to cases the actor
    is not recused from and checked here one by one."""
    if status is not None and status not in STATUSES:
        raise InvalidInput(f"参数 status 的值无效：{status}", f"Invalid value for 'status': {status}",
                           {"status": status, "allowed": list(STATUSES)})
    query = (select(ExtensionRequest, HumanTask, ProcessInstance)
             .join(HumanTask, HumanTask.id == ExtensionRequest.task_id)
             .join(ProcessInstance, ProcessInstance.id == ExtensionRequest.instance_id)
             .where(~select(Recusal.user_id).where(Recusal.instance_id == ProcessInstance.id,
                                                   Recusal.user_id == actor.user_id).exists())
             .order_by(ExtensionRequest.id.desc()).limit(MAX_LISTED))
    if status is not None:
        query = query.where(ExtensionRequest.status == status)
    if mine:
        query = query.where(ExtensionRequest.requested_by_id == actor.user_id)
    views = []
    for row, task, instance in session.execute(query).all():
        if mine or (row.requested_by_id != actor.user_id and may_decide(
                actor, instance, approver_group(session, ctx, instance, task.bpmn_id))):
            views.append(_view(session, ctx, actor, row, task, instance))
    return views
