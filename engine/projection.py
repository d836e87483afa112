"""Keep the rows queues read (human_task, timer) in step with the workflow, in the same transaction.

Queues, counts and dashboards query these rows and never deserialize a workflow.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition
from SpiffWorkflow.bpmn.specs.mixins.subworkflow_task import SubWorkflowTask
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.util.task import TaskState
from sqlalchemy import select
from sqlalchemy.orm import Session

from models import HumanTask, ProcessInstance, TaskStatus, Timer, TimerStatus

from .audit import EventDraft
from .calendar import deadline_after
from .definitions import ParsedDefinition
from .permissions import SCOPE, binding_path, org_id_of

_PENDING = "xuncha_pending_events"


def _queue_event(session: Session, instance: ProcessInstance, draft: EventDraft) -> None:
    session.info.setdefault(_PENDING, {}).setdefault(instance.id, []).append(draft)


def drain_events(session: Session, instance: ProcessInstance) -> list[EventDraft]:
    """Audit drafts produced by the last sync of this instance (taken once)."""
    return list(session.info.get(_PENDING, {}).pop(instance.id, []))


def open_tasks(session: Session, instance_id: int) -> list[HumanTask]:
    return list(session.execute(
        select(HumanTask).where(HumanTask.instance_id == instance_id, HumanTask.status == TaskStatus.READY)
        .order_by(HumanTask.id)).scalars())


def _ready_user_tasks(workflow: BpmnWorkflow) -> list[Any]:
    return [t for t in workflow.get_tasks(state=TaskState.READY, manual=True)
            if not isinstance(t.task_spec, SubWorkflowTask)]


def sync(session: Session, instance: ProcessInstance, workflow: BpmnWorkflow, parsed: ParsedDefinition,
         now: datetime) -> list[HumanTask]:
    """Bring the instance's human-task and timer rows in line with the workflow; return the open tasks."""
    ready = {str(t.id): t for t in _ready_user_tasks(workflow)}
    existing = {row.task_guid: row for row in open_tasks(session, instance.id)}
    current = []
    for guid, row in existing.items():
        if guid in ready:
            current.append(row)
        elif row.status == TaskStatus.READY:  # (a row completed in this unit of work is not yet flushed)
            row.status, row.completed_at = TaskStatus.CANCELLED, now
            _queue_event(session, instance, EventDraft("task_cancelled", {
                "task_id": row.id, "bpmn_id": row.bpmn_id, "name": row.name}, instance.id))
    created = [_new_task(instance, t, parsed, now) for guid, t in ready.items() if guid not in existing]
    if created:
        session.add_all(created)
        session.flush()
    for row in created:
        _queue_event(session, instance, EventDraft("task_created", {
            "task_id": row.id, "bpmn_id": row.bpmn_id, "name": row.name, "lane": row.lane,
            "candidate_group": row.candidate_group, "candidate_org_id": row.candidate_org_id,
            "due_at": row.due_at}, instance.id))
    if parsed.has_timers:
        _sync_timers(session, instance, workflow, now)
    return sorted(current + created, key=lambda row: row.id)


def _new_task(instance: ProcessInstance, spiff_task: Any, parsed: ParsedDefinition, now: datetime) -> HumanTask:
    spec = spiff_task.task_spec
    info = parsed.task(spec.bpmn_id)
    lane = spec.lane
    group = info.group_key if info else parsed.lane_groups.get(lane) if lane else None
    org_path = binding_path(instance, group) if group else None
    due_days = info.due_working_days if info else None
    item = spiff_task.data.get("item")
    name = (info.name if info else (spec.bpmn_name or spec.bpmn_id)).strip()
    if isinstance(item, dict) and item.get("number"):
        name = f"{name}（{item['number']}）"
    return HumanTask(
        instance_id=instance.id, task_guid=str(spiff_task.id), bpmn_id=spec.bpmn_id, name=name[:300],
        process_key=instance.process_key, title=instance.title, reference=instance.reference, lane=lane,
        candidate_group=group, candidate_org_id=org_id_of(org_path), candidate_org_path=org_path,
        candidate_user_id=None if group else instance.started_by_id,
        scope_path=(instance.bindings or {}).get(SCOPE, ""), status=TaskStatus.READY,
        form_key=info.form_key if info else None, priority=90 if instance.case_kind == "clue" else 50,
        due_at=deadline_after(now, due_days) if due_days else None, created_at=now)


def _sync_timers(session: Session, instance: ProcessInstance, workflow: BpmnWorkflow, now: datetime) -> None:
    waiting: dict[tuple[str, str], Any] = {}
    for task in workflow.get_tasks(state=TaskState.WAITING):
        event_definition = getattr(task.task_spec, "event_definition", None)
        if not isinstance(event_definition, TimerEventDefinition):
            continue
        pending = event_definition.details(task)
        due = _parse_due(pending.value)
        if due is not None:
            waiting[(str(task.id), due.isoformat())] = (task, due)
    rows = session.execute(select(Timer).where(Timer.instance_id == instance.id,
                                               Timer.status == TimerStatus.WAITING)).scalars()
    known = set()
    for row in rows:
        key = (row.task_guid, row.due_at.isoformat())
        if key in waiting:
            known.add(key)
        else:
            row.status = TimerStatus.CANCELLED
    for key, (task, due) in waiting.items():
        if key not in known:
            session.add(Timer(instance_id=instance.id, task_guid=key[0], bpmn_id=task.task_spec.bpmn_id,
                              due_at=due, created_at=now))


def _parse_due(value: Any) -> datetime | None:
    if isinstance(value, dict):  # cycle timers keep their next firing here
        value = value.get("next")
    if not isinstance(value, str):
        return None
    try:
        return TimerEventDefinition.get_datetime(value)
    except (ValueError, TypeError):
        return None
