"""中止/挂起: the office pauses a case — its tasks can be neither claimed nor completed, its timers wait —
and resuming shifts every running deadline and waiting timer (row and workflow state) by the paused
working days, the first deadlines kept."""

from __future__ import annotations

import json
from datetime import datetime

import pytest
from sqlalchemy import func, select

from engine import runtime, suspension, timers
from engine.calendar import LOCAL_TZ
from engine.db import transaction
from engine.errors import Conflict, FormInvalid, NotFound, NotPermitted, TaskNotActive
from models import AuditEvent, InstanceStatus, Notification, TimerStatus
from tests.engine.test_extensions import start, timer_row, workflow_due
from tests.helpers import clue_of, instance, open_clue, ready_task, ready_tasks, task_row


def local(*args: int) -> datetime:
    return datetime(*args, tzinfo=LOCAL_TZ)


def case_events(factory, iid: int, kind: str) -> list[dict]:  # type: ignore[no-untyped-def]
    with factory() as s:
        rows = s.execute(select(AuditEvent).where(AuditEvent.instance_id == iid, AuditEvent.event_type == kind)
                         .order_by(AuditEvent.id)).scalars()
        return [json.loads(row.payload) for row in rows]


def audit_count(factory, iid: int) -> int:  # type: ignore[no-untyped-def]
    with factory() as s:
        return s.scalar(select(func.count()).select_from(AuditEvent).where(AuditEvent.instance_id == iid)) or 0


def test_only_the_office_over_the_case_suspends_with_a_reason_and_refusals_write_nothing(factory, ctx, demo):
    iid = start(factory, ctx, demo)
    before = audit_count(factory, iid)
    with pytest.raises(NotPermitted), transaction(factory) as s:
        suspension.suspend(s, ctx, demo.actor("leader1"), iid, "等待审计结论")  # sees it, not the office
    with pytest.raises(NotFound), transaction(factory) as s:
        suspension.suspend(s, ctx, demo.actor("unit1"), iid, "等待审计结论")
    with pytest.raises(FormInvalid), transaction(factory) as s:
        suspension.suspend(s, ctx, demo.actor("office1"), iid, " ")
    with pytest.raises(Conflict), transaction(factory) as s:
        suspension.resume(s, ctx, demo.actor("office1"), iid)  # it is running
    assert audit_count(factory, iid) == before and instance(factory, iid).status == InstanceStatus.RUNNING

    with transaction(factory) as s:
        suspension.suspend(s, ctx, demo.actor("office1"), iid, "等待审计结论")
    row = instance(factory, iid)
    assert (row.status, row.suspend_reason, row.suspended_at) == (
        InstanceStatus.SUSPENDED, "等待审计结论", local(2026, 11, 25, 9, 0))
    (event,) = case_events(factory, iid, "instance_suspended")
    assert event["before"] == {"status": "running"} and event["after"]["status"] == "suspended"
    with factory() as s:  # the holder of the open task is told
        assert s.scalar(select(func.count()).select_from(Notification).where(
            Notification.user_id == demo.actor("office1").user_id)) == 1
    with pytest.raises(Conflict), transaction(factory) as s:
        suspension.suspend(s, ctx, demo.actor("office1"), iid, "再次中止")


def test_a_suspended_case_can_be_neither_claimed_nor_completed(factory, ctx, demo):
    iid = start(factory, ctx, demo)
    office1 = demo.actor("office1")
    with transaction(factory) as s:
        suspension.suspend(s, ctx, office1, iid, "等待审计结论")
    other, work = ready_task(factory, iid, "other"), ready_task(factory, iid, "work")
    with pytest.raises(TaskNotActive), transaction(factory) as s:
        runtime.claim_task(s, ctx, office1, other.id)
    with pytest.raises(TaskNotActive), transaction(factory) as s:
        runtime.complete_task(s, ctx, office1, work.id, {})
    assert task_row(factory, other.id).assignee_id is None
    with transaction(factory) as s:
        suspension.resume(s, ctx, office1, iid)
    with transaction(factory) as s:
        runtime.claim_task(s, ctx, office1, other.id)
    assert task_row(factory, other.id).assignee_id == office1.user_id


def test_timers_wait_while_suspended_and_resuming_shifts_them_by_the_paused_working_days(factory, ctx, clock, demo):
    iid = start(factory, ctx, demo)  # work due Wed 2 Dec 23:59:59; its timer due Fri 27 Nov 09:00
    office1 = demo.actor("office1")
    work = ready_task(factory, iid, "work")
    clock.set(local(2026, 11, 25, 10, 0))  # a Wednesday
    with transaction(factory) as s:
        suspension.suspend(s, ctx, office1, iid, "等待审计结论")

    clock.set(local(2026, 11, 30, 10, 0))  # the next Monday: Thursday, Friday and Monday were paused
    result = timers.sweep(factory, ctx)
    assert result.fired == 0
    assert timer_row(factory, iid).status == TimerStatus.WAITING  # not cancelled: it waits

    with transaction(factory) as s:
        suspension.resume(s, ctx, office1, iid, "审计结论已出")
    row = instance(factory, iid)
    assert (row.status, row.suspended_at, row.suspend_reason) == (InstanceStatus.RUNNING, None, None)
    task = task_row(factory, work.id)
    assert task.due_at == local(2026, 12, 7, 23, 59, 59)  # Wed 2 Dec + 3 working days (over the weekend)
    assert task.original_due_at == local(2026, 12, 2, 23, 59, 59)
    timer = timer_row(factory, iid)
    assert timer.due_at == local(2026, 12, 2, 9, 0)  # Fri 27 Nov + 3 working days: Mon, Tue, Wed
    assert workflow_due(factory, ctx, iid) == local(2026, 12, 2, 9, 0)
    (event,) = case_events(factory, iid, "instance_resumed")
    assert event["paused_working_days"] == 3 and event["note"] == "审计结论已出"
    assert event["tasks"][0]["before"]["due_at"].startswith("2026-12-02")
    assert event["timers"][0]["after"].startswith("2026-12-02 01:00")  # 09:00 in Beijing, stored in UTC

    # Another step before the new due moment does not fire the timer; the sweep fires it after.
    clock.set(local(2026, 12, 1, 9, 0))
    other = ready_task(factory, iid, "other")
    with transaction(factory) as s:
        runtime.claim_task(s, ctx, office1, other.id)
    with transaction(factory) as s:
        runtime.complete_task(s, ctx, office1, other.id, {})
    assert timers.sweep(factory, ctx).fired == 0
    assert [t.bpmn_id for t in ready_tasks(factory, iid)] == ["work"]
    clock.set(local(2026, 12, 2, 9, 1))
    assert timers.sweep(factory, ctx).fired == 1
    assert [t.bpmn_id for t in ready_tasks(factory, iid)] == ["escalated"]


def test_suspended_and_resumed_on_one_day_moves_nothing(factory, ctx, clock, demo):
    iid = start(factory, ctx, demo)
    work = ready_task(factory, iid, "work")
    with transaction(factory) as s:
        suspension.suspend(s, ctx, demo.actor("office1"), iid, "核实情况")
    clock.set(local(2026, 11, 25, 17, 0))
    with transaction(factory) as s:
        suspension.resume(s, ctx, demo.actor("office1"), iid)
    task = task_row(factory, work.id)
    assert task.due_at == local(2026, 12, 2, 23, 59, 59) and task.original_due_at is None
    assert timer_row(factory, iid).due_at == local(2026, 11, 27, 9, 0)


def test_resuming_a_clue_case_shifts_the_clue_deadline_too(factory, ctx, clock, demo):
    iid = open_clue(factory, ctx, demo)
    clue_due = clue_of(factory, iid).due_at
    assert clue_due is not None
    with transaction(factory) as s:
        suspension.suspend(s, ctx, demo.actor("office1"), iid, "等待上级意见")
    clock.set(local(2026, 11, 27, 9, 0))  # Wednesday to Friday: two working days
    with transaction(factory) as s:
        suspension.resume(s, ctx, demo.actor("office1"), iid)
    clue = clue_of(factory, iid)
    assert clue.original_due_at == clue_due
    assert clue.due_at == suspension.shift_by_working_days(clue_due, 2) and clue.due_at > clue_due
