"""Firing BPMN timers exactly once, from the durable ``timer`` table.

Each due timer is fired in its own transaction: the timer row is claimed with ``FOR UPDATE SKIP
LOCKED`` (PostgreSQL; SQLite's BEGIN IMMEDIATE serialises sweepers), the instance is locked and
stepped, and the row is marked fired in the same commit. A sweeper that dies mid-way rolls back,
and the timer is still waiting for the next sweep: fired at least once by the commit, at most once
by the lock.

The engine's clock decides when a timer is due (see ``clock.workflow_time``), so tests move time
instead of sleeping.
"""

from __future__ import annotations

import logging
import os
import socket
from dataclasses import dataclass

from SpiffWorkflow.util.task import TaskState
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from models import InstanceStatus, ProcessInstance, Timer, TimerStatus

from . import audit
from .context import EngineContext
from .db import transaction
from .errors import XunchaError
from .runtime import _parsed, _persist, _run, find_task, flush, restore

log = logging.getLogger(__name__)


def scheduler_id() -> str:
    """Which scheduler fired a timer (host/pid), kept in its audit event: several may run side by side."""
    return f"{socket.gethostname()}/{os.getpid()}"


@dataclass
class SweepResult:
    fired: int = 0
    skipped: int = 0
    failed: int = 0


def _claim_next_due(session: Session, ctx: EngineContext) -> tuple[Timer, ProcessInstance] | None:
    """The next due timer whose row *and instance* nobody holds, both locked. Taking the instance
    here too (and skipping it when busy) keeps one lock order with steps, which lock the instance
    before touching its timers: no deadlock between a sweep and a user's completion."""
    row = session.execute(
        select(Timer, ProcessInstance).join(ProcessInstance, Timer.instance_id == ProcessInstance.id)
        .where(Timer.status == TimerStatus.WAITING, Timer.due_at <= ctx.clock.now(),
               ProcessInstance.status != InstanceStatus.SUSPENDED)  # 挂起: its timers wait
        .order_by(Timer.due_at).limit(1).with_for_update(skip_locked=True, of=[Timer, ProcessInstance])
        .execution_options(populate_existing=True)
    ).one_or_none()
    return (row[0], row[1]) if row is not None else None


def fire(session: Session, ctx: EngineContext, timer: Timer, instance: ProcessInstance) -> bool:
    """Fire one claimed timer of its (locked) instance; False if its task is no longer waiting (it is
    then cancelled)."""
    now = ctx.clock.now()
    workflow = restore(session, ctx, instance)
    task = find_task(workflow, timer.task_guid)
    if instance.status == InstanceStatus.SUSPENDED:
        return False  # 挂起: the timer waits; resuming moves it (engine.suspension)
    if instance.status != InstanceStatus.RUNNING or task is None or task.state != TaskState.WAITING:
        timer.status = TimerStatus.CANCELLED
        return False
    _run(ctx, workflow)
    timer.status, timer.fired_at = TimerStatus.FIRED, now
    _persist(session, instance, workflow, _parsed(session, ctx, instance), now, [
        audit.EventDraft("timer_fired", {"timer_id": timer.id, "bpmn_id": timer.bpmn_id,
                                         "due_at": timer.due_at, "fired_at": now,
                                         "scheduler": scheduler_id()}, instance.id)], None)
    flush(session)
    return True


def sweep(factory: sessionmaker[Session], ctx: EngineContext, limit: int = 500) -> SweepResult:
    """Fire due timers one transaction each, until none is due or ``limit`` is reached.

    A timer whose step fails (say, a diagram expression raises) is marked failed, with the error on
    its instance, so that one broken case never stops every other timer behind it.
    """
    result = SweepResult()
    for _ in range(limit):
        with transaction(factory) as session:
            claimed = _claim_next_due(session, ctx)
            if claimed is None:
                break
            timer, instance = claimed
            try:
                with session.begin_nested():
                    fired = fire(session, ctx, timer, instance)
            except XunchaError as exc:
                _record_failure(session, timer, f"{exc.message_en} ({exc.code})")
                result.failed += 1
                continue
            if fired:
                result.fired += 1
            else:
                result.skipped += 1
    return result


def _record_failure(session: Session, timer: Timer, error: str) -> None:
    timer.status = TimerStatus.FAILED
    session.execute(update(ProcessInstance).where(ProcessInstance.id == timer.instance_id)
                    .values(last_error=f"timer {timer.bpmn_id}: {error}")
                    .execution_options(synchronize_session=False))
    log.error("timer %s of instance %s failed: %s", timer.id, timer.instance_id, error)
