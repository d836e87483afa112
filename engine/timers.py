"""Firing BPMN timers exactly once, from the durable ``timer`` table.

Due timers are claimed a batch at a time with ``FOR UPDATE SKIP LOCKED`` on their rows and their
instances (PostgreSQL; SQLite's BEGIN IMMEDIATE serialises sweepers), each is stepped in a savepoint
and its row marked fired in the same commit. A sweeper that dies mid-way rolls back, and its timers
are still waiting for the next sweep: fired at least once by the commit, at most once by the lock.
Several schedulers may sweep side by side; each skips what another holds.

The engine's clock decides when a timer is due (see ``clock.workflow_time``), so tests move time
instead of sleeping.
"""

from __future__ import annotations

import logging
import os
import socket
from dataclasses import dataclass
from datetime import datetime

from SpiffWorkflow.util.task import TaskState
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, sessionmaker

from models import InstanceStatus, ProcessInstance, Timer, TimerStatus

from . import audit, escalation, incidents
from .context import EngineContext
from .db import transaction
from .errors import SandboxRefused, XunchaError
from .runtime import _parsed, _persist, _run, find_task, flush, restore

log = logging.getLogger(__name__)


def scheduler_id() -> str:
    """Which scheduler fired a timer (host/pid), kept in its audit event: several may run side by side."""
    return f"{socket.gethostname()}/{os.getpid()}"


# Timers fired per transaction: each commit costs a round trip and a WAL flush, so a batch of a few
# dozen halves a timer's cost; it also holds those instances for the batch (~0.1 s), no longer.
BATCH = 20


@dataclass
class SweepResult:
    fired: int = 0
    skipped: int = 0
    failed: int = 0

    @property
    def handled(self) -> int:
        return self.fired + self.skipped + self.failed


def _claim_due(session: Session, ctx: EngineContext, limit: int) -> list[tuple[Timer, ProcessInstance]]:
    """Up to ``limit`` due timers whose rows *and instances* nobody holds, all locked, earliest first.
    Taking the instance here too (and skipping it when busy) keeps one lock order with steps, which
    lock the instance before touching its timers: no deadlock between a sweep and a user's completion.
    Due means strictly before now, as SpiffWorkflow decides when the step runs."""
    rows = session.execute(
        select(Timer, ProcessInstance).join(ProcessInstance, Timer.instance_id == ProcessInstance.id)
        .where(Timer.status == TimerStatus.WAITING, Timer.due_at < ctx.clock.now(),
               ProcessInstance.status != InstanceStatus.SUSPENDED)  # 挂起: its timers wait
        .order_by(Timer.due_at).limit(limit).with_for_update(skip_locked=True, of=[Timer, ProcessInstance])
        .execution_options(populate_existing=True)
    ).all()
    return [(row[0], row[1]) for row in rows]


def next_due(session: Session, ctx: EngineContext) -> datetime | None:
    """When the next timer not yet due comes due (None if none waits): a scheduler may sleep till then."""
    return session.execute(select(func.min(Timer.due_at)).where(
        Timer.status == TimerStatus.WAITING, Timer.due_at >= ctx.clock.now())).scalar_one_or_none()


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
    fired = _run(ctx, workflow)
    timer.status, timer.fired_at = TimerStatus.FIRED, now
    parsed = _parsed(session, ctx, instance)
    drafts = [audit.EventDraft("timer_fired", {"timer_id": timer.id, "bpmn_id": timer.bpmn_id,
                                               "due_at": timer.due_at, "fired_at": now,
                                               "scheduler": scheduler_id()}, instance.id)]
    drafts += escalation.on_timers_fired(session, instance, parsed, fired, now, marked=timer.task_guid)
    _persist(session, instance, workflow, parsed, now, drafts, None)
    flush(session)
    return True


def sweep(factory: sessionmaker[Session], ctx: EngineContext, limit: int = 500, batch: int = BATCH) -> SweepResult:
    """Fire due timers, ``batch`` to a transaction, until none is due or ``limit`` were handled.

    Each timer fires in a savepoint of its batch's transaction and is marked fired in it: a sweeper
    that dies before the commit leaves every timer of the batch waiting, with no trace of the steps.
    One timer per instance in a batch (a step may settle its other timers); the rest wait for the
    next batch. A timer whose step fails (say, a diagram expression raises) is marked failed, with
    the error on its instance, so that one broken case never stops every other timer behind it.
    """
    result = SweepResult()
    while result.handled < limit:
        with transaction(factory) as session:
            claimed = _claim_due(session, ctx, min(batch, limit - result.handled))
            stepped: set[int] = set()
            for timer, instance in claimed:
                if instance.id in stepped:
                    continue
                stepped.add(instance.id)
                try:
                    with session.begin_nested():
                        fired = fire(session, ctx, timer, instance)
                except XunchaError as exc:
                    session.expire(instance)  # it may hold the failed step's state; the database does not
                    _record_failure(session, timer, f"{exc.message_en} ({exc.code})")
                    if isinstance(exc, SandboxRefused):  # the case's history says what was stopped
                        incidents.script_refused(session, instance, exc, at=ctx.clock.now(), actor_name="scheduler",
                                                 context={"timer_id": timer.id, "scheduler": scheduler_id()})
                    result.failed += 1
                    continue
                if fired:
                    result.fired += 1
                else:
                    result.skipped += 1
        if len(claimed) < batch and len(stepped) == len(claimed):
            break
    return result


def _record_failure(session: Session, timer: Timer, error: str) -> None:
    timer.status = TimerStatus.FAILED
    session.execute(update(ProcessInstance).where(ProcessInstance.id == timer.instance_id)
                    .values(last_error=f"timer {timer.bpmn_id}: {error}")
                    .execution_options(synchronize_session=False))
    log.error("timer %s of instance %s failed: %s", timer.id, timer.instance_id, error)
