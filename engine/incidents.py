"""Incidents: what a case shows when its diagram's code was stopped by the sandbox, or a timer's step
failed — the office over the case and the supervisors who fix diagrams must learn of it.

A timer's step fails inside its savepoint in the scheduler, where nobody sees the error: the scheduler
marks the timer failed, writes the error on the instance (``last_error``) and, through this module, a
``script_refused`` event on the case's audit chain. A user's step that the sandbox stops fails as a
whole (``errors.SandboxRefused``, HTTP 422) and changes nothing; the web layer then records the same
incident in a transaction of its own (:func:`record_refused_step`), so the office learns of a broken
diagram from the case rather than from whoever happened to hit it.

A case has an open incident while ``last_error`` is set or one of its timers is failed. Like a timer's,
a user step's incident stays until someone marks it dealt with (:func:`resolve`) — a later step that
succeeds does not clear it: the case still carries the diagram that refused, and the next person to reach
that element meets it again. Marking it clears ``last_error`` (which the migration of instances refuses)
and sends its failed timers back to waiting, so the next sweep tries them again.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, exists, or_, select, update
from sqlalchemy.orm import Session

from models import AuditEvent, HumanTask, ProcessDefinition, ProcessInstance, Timer, TimerStatus

from . import audit
from .actors import Actor
from .errors import InvalidInput, NotFound, SandboxRefused
from .paging import Page
from .permissions import CASE_ROLES, can_see_instance, case_prefilter, require
from .taskaccess import lock_instance

log = logging.getLogger(__name__)

SCRIPT_REFUSED = "script_refused"
INCIDENT_RESOLVED = "incident_resolved"
MAX_NOTE = 500


def script_refused(session: Session, instance: ProcessInstance, error: SandboxRefused, *, at: datetime,
                   actor_name: str, actor_id: int | None = None, context: dict[str, object] | None = None) -> None:
    """Record on the case (its row locked by the caller) that the sandbox stopped its code."""
    payload = {"element_id": error.details.get("element_id"), "kind": error.details.get("kind"),
               "message_zh": error.message_zh, "message_en": error.message_en, **(context or {})}
    audit.record_case(session, instance, [audit.EventDraft(SCRIPT_REFUSED, payload, instance.id)], at=at,
                      actor_id=actor_id, actor_name=actor_name)
    log.warning("sandbox refused code of instance %s: %s", instance.id, error.message_en)


def record_refused_step(session: Session, actor: Actor, error: SandboxRefused, *, at: datetime,
                        task_id: int | None = None, instance_id: int | None = None) -> int | None:
    """After a person's step on a task (or, without one, on a case) was stopped by the sandbox and rolled
    back: the same incident a timer leaves — the audit event, with the acting person and the task, and
    ``last_error`` — in the caller's new transaction. Returns the case's id, or None when the task or
    case is gone (nothing to record it on)."""
    task = session.get(HumanTask, task_id) if task_id is not None else None
    if task is not None:
        instance_id = task.instance_id
    if instance_id is None:
        return None
    try:
        instance = lock_instance(session, instance_id)
    except NotFound:
        return None
    where = {"task_id": task.id, "bpmn_id": task.bpmn_id, "task_name": task.name} if task else {}
    script_refused(session, instance, error, at=at, actor_name=actor.username, actor_id=actor.user_id or None,
                   context=where)
    where_text = f"task {task.bpmn_id}" if task else f"element {error.details.get('element_id')}"
    # A plain UPDATE like the scheduler's: no version bump, so nobody's open form goes stale over it.
    session.execute(update(ProcessInstance).where(ProcessInstance.id == instance.id)
                    .values(last_error=f"{where_text}: {error.message_en} ({error.code})")
                    .execution_options(synchronize_session=False))
    return instance.id


def resolve(session: Session, actor: Actor, instance_id: int, *, at: datetime, note: str = "") -> int:
    """标记已处理: the office or a supervisor has dealt with the case's incident (fixed the data, or the
    diagram and is about to move the case): clear ``last_error``, send failed timers back to waiting (the
    next sweep fires them; should one fail again, the incident is open again), and say so on the case's
    audit chain. Returns how many timers were sent back."""
    require(actor, "incident", "resolve")
    instance = lock_instance(session, instance_id)
    if not can_see_instance(actor, instance):
        raise NotFound("流程实例不存在或无权查看。", "The process instance does not exist or is not visible to you.")
    note = note.strip()
    if len(note) > MAX_NOTE:
        raise InvalidInput(f"说明不能超过 {MAX_NOTE} 字。", f"The note may not exceed {MAX_NOTE} characters.")
    failed = list(session.execute(select(Timer).where(Timer.instance_id == instance.id,
                                                      Timer.status == TimerStatus.FAILED)).scalars())
    if instance.last_error is None and not failed:
        raise InvalidInput("此案件没有未处理的流程故障。", "The case has no open incident.")
    audit.record_case(session, instance, [audit.EventDraft(INCIDENT_RESOLVED, {
        "last_error": instance.last_error, "timers_retried": [t.id for t in failed], "note": note}, instance.id)],
        at=at, actor_id=actor.user_id, actor_name=actor.username)
    session.execute(update(ProcessInstance).where(ProcessInstance.id == instance.id).values(last_error=None)
                    .execution_options(synchronize_session=False))
    for timer in failed:
        timer.status = TimerStatus.WAITING
    session.flush()
    return len(failed)


# -- what people see --------------------------------------------------------------------------------------------

@dataclass
class Incident:
    """A case's open incident: the last refusal recorded on it (what, where, who, when) and its failed
    timers; ``at`` is the latest of those moments (the listing's order)."""

    instance: ProcessInstance
    refusal: dict[str, Any] | None = None
    refused_at: datetime | None = None
    refused_by: str | None = None
    failed_timers: list[Timer] = field(default_factory=list)

    @property
    def at(self) -> datetime:
        moments = [m for m in (self.refused_at, *(t.due_at for t in self.failed_timers)) if m is not None]
        return max(moments) if moments else self.instance.updated_at


def _open() -> ColumnElement[bool]:
    failed = exists().where(Timer.instance_id == ProcessInstance.id, Timer.status == TimerStatus.FAILED)
    return or_(ProcessInstance.last_error.is_not(None), failed)


def _visible_prefilter(actor: Actor) -> ColumnElement[bool]:
    """SQL narrowing for the kinds that have one (clues, rectification); ``can_see_instance`` decides."""
    kinds = list(CASE_ROLES)
    return or_(ProcessInstance.case_kind.is_(None), ProcessInstance.case_kind.not_in(kinds),
               *[(ProcessInstance.case_kind == kind) & case_prefilter(actor, kind) for kind in kinds])


def _describe(session: Session, instances: list[ProcessInstance]) -> list[Incident]:
    """Each case's last ``script_refused`` event and failed timers, in two statements."""
    found = {i.id: Incident(i) for i in instances}
    events = session.execute(select(AuditEvent).where(
        AuditEvent.instance_id.in_(found), AuditEvent.event_type == SCRIPT_REFUSED).order_by(AuditEvent.seq))
    for event in events.scalars():  # the last one per case wins
        incident = found[event.instance_id or 0]
        incident.refusal, incident.refused_at, incident.refused_by = (json.loads(event.payload), event.at,
                                                                      event.actor_name)
    timers = session.execute(select(Timer).where(Timer.instance_id.in_(found), Timer.status == TimerStatus.FAILED)
                             .order_by(Timer.due_at))
    for timer in timers.scalars():
        found[timer.instance_id].failed_timers.append(timer)
    return list(found.values())


def _visible(session: Session, actor: Actor, definition_id: int | None) -> list[ProcessInstance]:
    query = select(ProcessInstance).where(_open(), _visible_prefilter(actor))
    if definition_id is not None:
        query = query.where(ProcessInstance.definition_id == definition_id)
    return [i for i in session.execute(query).scalars() if can_see_instance(actor, i)]


def open_incidents(session: Session, actor: Actor, *, definition_id: int | None = None, page: int = 1,
                   per_page: int = 50) -> Page[Incident]:
    """Cases with an open incident that the actor may see, newest incident first.

    Incidents are few (each is a diagram's fault to fix), so the visible ones are cut into pages in
    memory: 回避 lives in a JSON list SQL cannot filter portably, as for the ledgers."""
    incidents = _describe(session, _visible(session, actor, definition_id))
    incidents.sort(key=lambda incident: (incident.at, incident.instance.id), reverse=True)
    return Page.cut(incidents, page, per_page)


def definitions_with_incidents(session: Session, actor: Actor) -> list[ProcessDefinition]:
    """The diagram versions behind the open incidents the actor may see: the listing's filter."""
    ids = {i.definition_id for i in _visible(session, actor, None)}
    if not ids:
        return []
    return list(session.execute(select(ProcessDefinition).where(ProcessDefinition.id.in_(ids))
                                .order_by(ProcessDefinition.key, ProcessDefinition.version)).scalars())


def incident_of(session: Session, instance: ProcessInstance) -> Incident | None:
    """The case's open incident, if it has one (the caller has checked the reader may see the case)."""
    if instance.last_error is None and not session.execute(select(exists().where(
            Timer.instance_id == instance.id, Timer.status == TimerStatus.FAILED))).scalar():
        return None
    return _describe(session, [instance])[0]
