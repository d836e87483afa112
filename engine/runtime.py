"""Running instances: start, complete, return (and, via engine.handling, claim, unclaim, assign,
delegate, resolve) — each inside the caller's transaction,
under a row lock on the instance, with the projections and the audit written in the same unit.

A persisted step is: lock the instance row → restore the workflow from its spec-free state and the
cached spec → run → write the new state, the human-task and timer projections, the case's own rows
and the audit events → the caller commits. Any error before the commit leaves nothing behind.
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass
from typing import Any, cast
from uuid import UUID

from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine
from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.exceptions import WorkflowException
from SpiffWorkflow.util.task import TaskState
from sqlalchemy import Table, bindparam, insert, select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.exc import StaleDataError

from models import (
    DelegationState,
    HumanTask,
    InstanceStatus,
    ProcessDefinition,
    ProcessInstance,
    Recusal,
    TaskStatus,
)

from . import audit, cases, escalation, notify, projection, returns
from .actors import Actor
from .clock import workflow_time
from .context import EngineContext
from .definitions import SPEC_CACHE, ParsedDefinition
from .drafts import discard_drafts
from .errors import (
    DelegationPending,
    EngineFailure,
    FormInvalid,
    InvalidInput,
    NotFound,
    ReturnNotAllowed,
    SandboxRefused,
    StaleState,
    TaskNotActive,
    TaskNotClaimedByYou,
)
from .handling import assign_task, claim_task, delegate_task, resolve_task, unclaim_task
from .permissions import SCOPE, can_see_instance, is_candidate, is_recused, org_id_of
from .sandbox import SandboxEnvironment, deadline_in, refusal_in
from .serialization import WORKFLOW_CACHE, dump_state, load_state
from .submission import validate_submission
from .taskaccess import check_revision, check_visible, get_task, lock_instance, require_ready, task_changed
from .versions import current_definition

# Task-holding actions live in engine.handling; they are part of this module's interface too.
__all__ = ["assign_task", "claim_task", "complete_task", "deadline_in", "delegate_task", "get_instance", "get_task",
           "lock_instance", "resolve_task", "restore", "return_task", "start_instance", "task_view",
           "unclaim_task"]


# Conditions, scripts and timer expressions run in the sandbox (engine.sandbox: RestrictedPython,
# allow-listed builtins and domain functions, time and size limits) — the same one deploy checks with.
SCRIPT_ENGINE = PythonScriptEngine(environment=SandboxEnvironment())


def _parsed(session: Session, ctx: EngineContext, instance: ProcessInstance) -> ParsedDefinition:
    return SPEC_CACHE.for_definition_id(session, instance.definition_id, ctx.forms)


def _run(ctx: EngineContext, workflow: BpmnWorkflow, task: Any = None) -> list[Any]:
    """Run ``task`` (if given) and then the engine steps up to the next wait, on the engine's clock.
    Returns the timer events that fired meanwhile (any step may find a timer due, not only the
    scheduler's), for ``escalation.on_timers_fired``."""
    waiting = [t for t in workflow.get_tasks(state=TaskState.WAITING)
               if isinstance(getattr(t.task_spec, "event_definition", None), TimerEventDefinition)]
    try:
        with workflow_time(ctx.clock):
            if task is not None:
                task.run()
            workflow.refresh_timers()
            workflow.do_engine_steps()
    except WorkflowException as exc:
        spec = getattr(exc, "task_spec", None)
        element_id = getattr(spec, "bpmn_id", None)
        refused = refusal_in(exc)
        if refused is not None:
            name = getattr(spec, "bpmn_name", None) or element_id
            raise SandboxRefused(f"沙箱拦下了流程元素“{name}”（{element_id}）的代码：{refused.message_zh}",
                                 f"The sandbox stopped the code of element '{name}' ({element_id}): "
                                 f"{refused.message_en}", {"element_id": element_id, "kind": refused.kind}) from exc
        raise EngineFailure(f"流程运行出错：{exc}", f"The process failed while running: {exc}",
                            {"element_id": element_id}) from exc
    return [t for t in waiting if t.state == TaskState.COMPLETED]


def restore(session: Session, ctx: EngineContext, instance: ProcessInstance, *, to_step: bool = True
            ) -> BpmnWorkflow:
    """The instance's workflow as stored. A step (``to_step``) takes the live object this process
    saved for that very state when it has one; a read deserializes, leaving the cache to the next step.
    The caller owns the object it gets (it is never shared)."""
    workflow = WORKFLOW_CACHE.take(instance.id, instance.state) if to_step else None
    if workflow is None:
        parsed = _parsed(session, ctx, instance)
        workflow = load_state(instance.state, parsed.spec, parsed.subprocess_specs)
        workflow.script_engine = SCRIPT_ENGINE
    return workflow


def _persist(session: Session, instance: ProcessInstance, workflow: BpmnWorkflow, parsed: ParsedDefinition,
             now: _dt.datetime, drafts: list[audit.EventDraft], actor: Actor | None, *,
             ready_before: set[str] | None = None, done: str | None = None) -> None:
    """Write a step: the projections, the audit events and the new state, as plain statements.

    The instance row is updated last, guarded by its version (the second line of defence after the
    row lock), and carries the case's new audit head.
    """
    state = dump_state(workflow)
    events = projection.sync(session, instance, workflow, parsed, now, ready_before, done)
    drafts = [*drafts, *events]
    values: dict[str, Any] = {"state": state, "updated_at": now, "version": instance.version + 1,
                              "status": instance.status, "completed_at": instance.completed_at}
    if workflow.is_completed():
        values.update(status=InstanceStatus.COMPLETED, completed_at=now)
        drafts.append(audit.EventDraft("instance_completed", {}, instance.id))
    values["audit_seq"], values["audit_hash"] = audit.chain_case(
        session, instance, drafts, at=now, actor_id=actor.user_id or None if actor else None,
        actor_name=actor.username if actor else "scheduler")
    written = session.connection().execute(SAVE_INSTANCE, {
        **values, "instance_id": instance.id, "seen_version": instance.version})
    if written.rowcount != 1:
        raise _stale_case()
    for key, value in values.items():
        set_committed_value(instance, key, value)
    WORKFLOW_CACHE.put(instance.id, state, workflow)


def _stale_case() -> StaleState:
    return StaleState("案件已被他人修改，请刷新后重试。", "The case was changed by someone else; reload and retry.")


def flush(session: Session) -> None:
    """Write the unit of work now; a concurrent change to the instance surfaces as StaleState."""
    try:
        session.flush()
    except StaleDataError as exc:
        raise _stale_case() from exc


def start_instance(session: Session, ctx: EngineContext, actor: Actor, process_key: str, data: dict[str, Any],
                   *, scope_path: str, title: str = "", reference: str | None = None,
                   case_kind: str | None = None, bindings: dict[str, str] | None = None,
                   confidential: bool = False, recused_user_ids: list[int] | None = None,
                   unit_path: str | None = None, round_id: int | None = None) -> ProcessInstance:
    """Start the current version of ``process_key`` (see ``versions.current_definition``) with ``data``
    and run it to its first wait."""
    if not isinstance(data, dict):
        raise InvalidInput("启动数据必须是对象。", "Start data must be a JSON object.")
    now = ctx.clock.now()
    definition = current_definition(session, process_key)
    parsed = SPEC_CACHE.get(session, definition, ctx.forms)
    workflow = BpmnWorkflow(parsed.spec, parsed.subprocess_specs, script_engine=SCRIPT_ENGINE)
    start = workflow.get_tasks(state=TaskState.READY)[0]
    start.data.update(data)
    _run(ctx, workflow)
    instance = ProcessInstance(
        definition=definition, definition_id=definition.id, process_key=definition.key, state="",
        title=title or definition.name, reference=reference, case_kind=case_kind, confidential=confidential,
        scope_org_id=org_id_of(scope_path), bindings={SCOPE: scope_path, **(bindings or {})},
        recused_user_ids=list(recused_user_ids or []), unit_path=unit_path, round_id=round_id,
        started_by_id=actor.user_id or None,
        started_at=now, updated_at=now)
    session.add(instance)
    session.flush()
    if instance.recused_user_ids:
        session.execute(insert(Recusal), [{"instance_id": instance.id, "user_id": user_id}
                                          for user_id in instance.recused_user_ids])
    _persist(session, instance, workflow, parsed, now, [audit.EventDraft("instance_started", {
        "process_key": definition.key, "version": definition.version, "definition_sha256": definition.sha256,
        "title": instance.title, "reference": reference, "data": data}, instance.id)], actor, ready_before=set())
    flush(session)
    return instance


def get_instance(session: Session, actor: Actor, instance_id: int) -> ProcessInstance:
    instance = session.get(ProcessInstance, instance_id)
    if instance is None or not can_see_instance(actor, instance):
        raise NotFound("流程实例不存在或无权查看。", "The process instance does not exist or is not visible to you.")
    return instance


def complete_task(session: Session, ctx: EngineContext, actor: Actor, task_id: int, data: dict[str, Any], *,
                  expected_revision: int | None = None, claim_if_free: bool = False) -> ProcessInstance:
    """Submit a task's form: validate, run the diagram on, persist — all or nothing."""
    return _finish(session, ctx, actor, task_id, data, None, expected_revision, claim_if_free)


def return_task(session: Session, ctx: EngineContext, actor: Actor, task_id: int, reason: str, *,
                expected_revision: int | None = None, claim_if_free: bool = False) -> ProcessInstance:
    """退回: send the case back where the diagram says (the task's ``returnWith`` decision), with a
    reason. The step that receives it goes back to whoever did it last, and they are told why."""
    return _finish(session, ctx, actor, task_id, None, reason, expected_revision, claim_if_free)


def _submission(session: Session, ctx: EngineContext, task: HumanTask, parsed: ParsedDefinition,
                data: dict[str, Any] | None, reason: str | None) -> dict[str, Any]:
    if data is not None:
        return validate_submission(session, ctx, task, task.instance, data)
    info = parsed.task(task.bpmn_id)
    if info is None or info.return_with is None:
        raise ReturnNotAllowed("流程图未允许在此环节退回。", "The diagram allows no return from this step.")
    reason = (reason or "").strip()
    if not reason or len(reason) > MAX_REASON:
        zh, en = ("请填写退回理由。", "Give a reason for the return.") if not reason else (
            f"退回理由不能超过 {MAX_REASON} 字。", f"The reason may not exceed {MAX_REASON} characters.")
        raise FormInvalid(zh, en, {"fields": {"return_reason": {"message_zh": zh, "message_en": en}}})
    field_name, value = info.return_with
    return {field_name: value, "return_reason": reason}


MAX_REASON = 1000


def _finish(session: Session, ctx: EngineContext, actor: Actor, task_id: int, data: dict[str, Any] | None,
            reason: str | None, expected_revision: int | None, claim_if_free: bool) -> ProcessInstance:
    """Complete (``data``) or return (``reason``) a task. The hot path of the product, so it is a
    handful of plain statements: read the task and lock the instance, close the task with an UPDATE
    whose WHERE re-checks what was read, then the projections, audit and state (see ``_persist``)."""
    # One statement reads the task and locks its instance (and brings the definition's row, without its
    # XML, which the answer names). Should it wait for the lock, the task's values may be older than the
    # instance's: _close_task's WHERE and the READY check on the freshly locked state catch any change.
    found = session.execute(
        select(HumanTask, ProcessInstance, ProcessDefinition)
        .join(ProcessInstance, HumanTask.instance_id == ProcessInstance.id)
        .join(ProcessDefinition, ProcessDefinition.id == ProcessInstance.definition_id)
        .where(HumanTask.id == task_id).with_for_update(of=ProcessInstance)
        .execution_options(populate_existing=True)).one_or_none()
    if found is None:
        raise NotFound("任务不存在。", "The task does not exist.")
    task, instance, definition = found
    set_committed_value(instance, "definition", definition)  # held: the session keeps rows only weakly
    check_visible(actor, task, instance)
    require_ready(task)
    check_revision(task, expected_revision)
    if task.delegation == DelegationState.PENDING:
        raise DelegationPending("委派的任务须由受委派人办理后交回委派人审核办结。",
                                "A delegated task goes back to its owner, who completes it.")
    claim = task.assignee_id is None and claim_if_free and is_candidate(actor, task) and not is_recused(actor, instance)
    if task.assignee_id != actor.user_id and not claim:
        raise TaskNotClaimedByYou("请先签收此任务再办理。" if task.assignee_id is None else "此任务由他人办理中。",
                                  "Claim this task before completing it." if task.assignee_id is None
                                  else "Someone else holds this task.")
    if instance.status != InstanceStatus.RUNNING:
        raise TaskNotActive("案件当前不在办理状态。", "The case is not running.", {"status": instance.status})
    parsed = _parsed(session, ctx, instance)
    clean = _submission(session, ctx, task, parsed, data, reason)
    now = ctx.clock.now()
    workflow = restore(session, ctx, instance)
    spiff_task = find_task(workflow, task.task_guid)
    if spiff_task is None or spiff_task.state != TaskState.READY:
        raise TaskNotActive("该任务已不在待办状态。", "The task is no longer ready.")
    ready_before = projection.ready_guids(workflow)
    spiff_task.data.update(clean)
    fired = _run(ctx, workflow, spiff_task)
    _close_task(session, task, actor, now, claimed=claim)
    drafts = [audit.EventDraft("task_claimed", {"task_id": task.id, "bpmn_id": task.bpmn_id, "name": task.name,
                                                "assignee": actor.username}, instance.id)] if claim else []
    drafts.append(audit.EventDraft("task_completed", {
        "task_id": task.id, "task_guid": task.task_guid, "bpmn_id": task.bpmn_id, "name": task.name,
        "data": clean}, instance.id))
    drafts += cases.on_task_completed(session, instance, task, dict(spiff_task.data), clean, actor, now)
    discard_drafts(session, task.id)
    if claim and task.offered_at is not None:  # not yet offered: there is nothing to withdraw
        notify.withdraw_offers(session, task.id, now)
    if fired:
        drafts += escalation.on_timers_fired(session, instance, parsed, fired, now)
    returned = _is_return(parsed, task, clean)
    _persist(session, instance, workflow, parsed, now, drafts, actor, ready_before=ready_before, done=task.task_guid)
    if returned:
        returns.send_back(session, instance, task, actor, now, ready_before, clean.get("return_reason"))
    flush(session)
    return instance


def _is_return(parsed: ParsedDefinition, task: HumanTask, clean: dict[str, Any]) -> bool:
    """A step sends the case back when its ``returnWith`` decision was taken — by the 退回 button or
    by choosing that option in the form: both mean the same and are handled the same."""
    info = parsed.task(task.bpmn_id)
    return info is not None and info.return_with is not None and clean.get(info.return_with[0]) == info.return_with[1]


_TASKS = cast(Table, HumanTask.__table__)
_INSTANCES = cast(Table, ProcessInstance.__table__)


def _close_statement(claimed: bool) -> Any:
    holder = _TASKS.c.assignee_id.is_(None) if claimed else _TASKS.c.assignee_id == bindparam("holder")
    return (update(_TASKS).where(_TASKS.c.id == bindparam("task_id"), _TASKS.c.status == TaskStatus.READY,
                                 _TASKS.c.revision == bindparam("seen_revision"), holder)
            .values(status=TaskStatus.COMPLETED, completed_at=bindparam("now"),
                    completed_by_id=bindparam("actor_id"), assignee_id=bindparam("actor_id"),
                    claimed_at=bindparam("claimed_at")))


# Built once: the hot path's statements then skip SQLAlchemy's construction and compilation work.
CLOSE_CLAIMING, CLOSE_HELD = _close_statement(True), _close_statement(False)
SAVE_INSTANCE = (
    update(_INSTANCES).where(_INSTANCES.c.id == bindparam("instance_id"),
                             _INSTANCES.c.version == bindparam("seen_version"))
    .values({name: bindparam(name) for name in (
        "state", "version", "updated_at", "status", "completed_at", "audit_seq", "audit_hash")}))


def _close_task(session: Session, task: HumanTask, actor: Actor, now: _dt.datetime, *, claimed: bool) -> None:
    """Mark the task completed; the WHERE repeats the checks made on the row as read before the lock."""
    claimed_at = now if claimed else task.claimed_at
    written = session.connection().execute(CLOSE_CLAIMING if claimed else CLOSE_HELD, {
        "task_id": task.id, "seen_revision": task.revision, "holder": actor.user_id, "now": now,
        "actor_id": actor.user_id, "claimed_at": claimed_at})
    values = {"status": TaskStatus.COMPLETED, "completed_at": now, "completed_by_id": actor.user_id,
              "assignee_id": actor.user_id, "claimed_at": claimed_at}
    if written.rowcount != 1:
        raise task_changed()
    for key, value in values.items():
        set_committed_value(task, key, value)


def find_task(workflow: BpmnWorkflow, guid: str) -> Any | None:
    """The workflow's task with this id, in the top process or a subprocess; None if it is gone."""
    task_id = UUID(guid)
    for tasks in (workflow.tasks, *(sub.tasks for sub in workflow.subprocesses.values())):
        if task_id in tasks:
            return tasks[task_id]
    return None


@dataclass
class TaskView:
    context: dict[str, Any]  # everything the task sees (case data, the item of a per-item task …)
    form_data: dict[str, Any]  # the values its form starts from


def task_view(session: Session, ctx: EngineContext, task: HumanTask) -> TaskView:
    """What a task page or the API shows beside a task. A finished task may be gone from the
    workflow (history is pruned); its context then lives on the case page and in the audit trail."""
    spiff_task = find_task(restore(session, ctx, task.instance, to_step=False), task.task_guid)
    context = dict(spiff_task.data) if spiff_task is not None else {}
    fields = ctx.forms.get(task.form_key).field_names()
    return TaskView(context, {k: context[k] for k in fields if k in context})


def instance_data(session: Session, ctx: EngineContext, instance: ProcessInstance) -> dict[str, Any]:
    """The case's data as the process sees it now: workflow data merged with the last task's data."""
    workflow = restore(session, ctx, instance, to_step=False)
    data = dict(workflow.data)
    finished = [t for t in workflow.tasks.values() if t.has_state(TaskState.FINISHED_MASK)]
    last = workflow.last_task or max(finished, key=lambda t: t.last_state_change, default=None)
    if last is not None:
        data.update(last.data)
    return data
