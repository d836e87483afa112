"""Keep the rows queues read (human_task, timer) in step with the workflow, in the same transaction.

Queues, counts and dashboards query these rows and never deserialize a workflow.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, cast

from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition
from SpiffWorkflow.bpmn.specs.mixins.subworkflow_task import SubWorkflowTask
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.util.task import TaskState
from sqlalchemy import Table, insert, select, update
from sqlalchemy.orm import Session

from models import HumanTask, ProcessInstance, TaskStatus, Timer, TimerStatus

from .audit import EventDraft
from .calendar import deadline_after
from .definitions import ParsedDefinition
from .permissions import SCOPE, binding_path, org_id_of


def open_tasks(session: Session, instance_id: int) -> list[HumanTask]:
    return list(session.execute(
        select(HumanTask).where(HumanTask.instance_id == instance_id, HumanTask.status == TaskStatus.READY)
        .order_by(HumanTask.id)).scalars())


def _ready_user_tasks(workflow: BpmnWorkflow) -> list[Any]:
    return [t for t in workflow.get_tasks(state=TaskState.READY, manual=True)
            if not isinstance(t.task_spec, SubWorkflowTask)]


def sync(session: Session, instance: ProcessInstance, workflow: BpmnWorkflow, parsed: ParsedDefinition,
         now: datetime, ready_before: set[str] | None = None, done: str | None = None
         ) -> list[EventDraft]:
    """Bring the instance's human-task (and timer) rows in line with the workflow.

    ``ready_before``: the task ids that were ready when the workflow was loaded (then they are the
    open rows, and need not be queried); ``done``: the task just completed, already closed.
    Returns the audit drafts describing the changes.
    """
    ready = {str(t.id): t for t in _ready_user_tasks(workflow)}
    if ready_before is None:
        ready_before = set(session.execute(select(HumanTask.task_guid).where(
            HumanTask.instance_id == instance.id, HumanTask.status == TaskStatus.READY)).scalars())
    events: list[EventDraft] = []
    connection = session.connection()
    gone = ready_before - set(ready) - {done}
    if gone:
        cancelled = connection.execute(
            update(_TASKS).where(_TASKS.c.instance_id == instance.id, _TASKS.c.task_guid.in_(gone),
                                 _TASKS.c.status == TaskStatus.READY)
            .values(status=TaskStatus.CANCELLED, completed_at=now)
            .returning(_TASKS.c.id, _TASKS.c.bpmn_id, _TASKS.c.name)).all()
        events += [EventDraft("task_cancelled", {"task_id": row.id, "bpmn_id": row.bpmn_id, "name": row.name},
                              instance.id) for row in cancelled]
    fresh = [_new_task(instance, t, parsed, now) for guid, t in ready.items() if guid not in ready_before]
    for row in fresh:  # one statement each: RETURNING with several rows is not portable in one call
        row["id"] = connection.execute(_INSERT_TASK, row).scalar_one()
        events.append(EventDraft("task_created", {
            "task_id": row["id"], "bpmn_id": row["bpmn_id"], "name": row["name"], "lane": row["lane"],
            "candidate_group": row["candidate_group"], "candidate_org_id": row["candidate_org_id"],
            "due_at": row["due_at"]}, instance.id))
    if parsed.has_timers:
        _sync_timers(session, instance, workflow, now)
    return events


_TASKS = cast(Table, HumanTask.__table__)
_INSERT_TASK = insert(_TASKS).returning(_TASKS.c.id)


def ready_guids(workflow: BpmnWorkflow) -> set[str]:
    return {str(t.id) for t in _ready_user_tasks(workflow)}


def _new_task(instance: ProcessInstance, spiff_task: Any, parsed: ParsedDefinition, now: datetime
              ) -> dict[str, Any]:
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
    return dict(
        instance_id=instance.id, task_guid=str(spiff_task.id), bpmn_id=spec.bpmn_id, name=name[:300],
        process_key=instance.process_key, title=instance.title, reference=instance.reference, lane=lane,
        candidate_group=group, candidate_org_id=org_id_of(org_path), candidate_org_path=org_path,
        candidate_user_id=None if group else instance.started_by_id,
        scope_path=(instance.bindings or {}).get(SCOPE, ""), status=TaskStatus.READY,
        form_key=info.form_key if info else None, priority=90 if instance.case_kind == "clue" else 50,
        due_at=deadline_after(now, due_days) if due_days else None, created_at=now, revision=1,
        unit_path=instance.unit_path, round_id=instance.round_id)


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
