"""Waiting BPMN timers are projected into the timer table and fired once, when the engine's clock says."""

from __future__ import annotations

import json
from datetime import timedelta

from sqlalchemy import select

from engine import timers
from models import AuditEvent, InstanceStatus, TimerStatus
from tests.helpers import act, instance, ready_tasks, start_cases, timers_of

TIMER_DIAGRAM = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d" targetNamespace="x">
  <bpmn:process id="reminder_test" name="催办测试" isExecutable="true">
    <bpmn:laneSet id="ls"><bpmn:lane id="L" name="office"><bpmn:flowNodeRef>work</bpmn:flowNodeRef>
      <bpmn:flowNodeRef>escalated</bpmn:flowNodeRef></bpmn:lane></bpmn:laneSet>
    <bpmn:startEvent id="s"/>
    <bpmn:sequenceFlow id="f1" sourceRef="s" targetRef="work"/>
    <bpmn:userTask id="work" name="办理"/>
    <bpmn:sequenceFlow id="f2" sourceRef="work" targetRef="e"/>
    <bpmn:endEvent id="e"/>
    <bpmn:boundaryEvent id="late" attachedToRef="work" cancelActivity="true">
      <bpmn:timerEventDefinition><bpmn:timeDuration>"PT2H"</bpmn:timeDuration></bpmn:timerEventDefinition>
    </bpmn:boundaryEvent>
    <bpmn:sequenceFlow id="f3" sourceRef="late" targetRef="escalated"/>
    <bpmn:userTask id="escalated" name="督办"/>
    <bpmn:sequenceFlow id="f4" sourceRef="escalated" targetRef="e2"/>
    <bpmn:endEvent id="e2"/>
  </bpmn:process>
</bpmn:definitions>""".encode()


def _start(factory, ctx, demo) -> int:  # type: ignore[no-untyped-def]
    (iid,) = start_cases(factory, ctx, demo, TIMER_DIAGRAM, "reminder_test")
    return iid


def test_timer_is_projected_and_fires_once_when_the_clock_passes_it(factory, ctx, clock, demo):
    iid = _start(factory, ctx, demo)
    (timer,) = timers_of(factory, iid)
    assert timer.status == TimerStatus.WAITING and timer.bpmn_id == "late"
    assert timedelta(hours=1, minutes=59) < timer.due_at - clock.now() <= timedelta(hours=2, minutes=1)

    assert timers.sweep(factory, ctx).fired == 0
    clock.advance(timedelta(hours=3))
    assert timers.sweep(factory, ctx).fired == 1
    assert timers.sweep(factory, ctx).fired == 0

    (timer,) = timers_of(factory, iid)
    assert timer.status == TimerStatus.FIRED and timer.fired_at == clock.now()
    assert [t.bpmn_id for t in ready_tasks(factory, iid)] == ["escalated"]


def test_timer_of_a_completed_task_is_cancelled_and_never_fires(factory, ctx, clock, demo):
    iid = _start(factory, ctx, demo)
    act(factory, ctx, "office1", iid, "work", {"comment": "按时办结"})
    (timer,) = timers_of(factory, iid)
    assert timer.status == TimerStatus.CANCELLED
    clock.advance(timedelta(days=1))
    assert timers.sweep(factory, ctx).fired == 0
    assert instance(factory, iid).status == InstanceStatus.COMPLETED


def test_a_timer_whose_step_fails_is_set_aside_and_the_others_still_fire(factory, ctx, clock, demo):
    broken_diagram = TIMER_DIAGRAM.replace(b'id="reminder_test"', b'id="broken_reminder"').replace(
        b'<bpmn:sequenceFlow id="f3" sourceRef="late" targetRef="escalated"/>',
        b'<bpmn:sequenceFlow id="f3" sourceRef="late" targetRef="check"/>'
        b'<bpmn:exclusiveGateway id="check" default="f5"/>'
        b'<bpmn:sequenceFlow id="f6" sourceRef="check" targetRef="escalated">'
        b'<bpmn:conditionExpression>no_such_variable == 1</bpmn:conditionExpression></bpmn:sequenceFlow>'
        b'<bpmn:sequenceFlow id="f5" sourceRef="check" targetRef="escalated"/>')
    (broken,) = start_cases(factory, ctx, demo, broken_diagram, "broken_reminder")
    healthy = _start(factory, ctx, demo)
    clock.advance(timedelta(hours=3))

    result = timers.sweep(factory, ctx)

    assert (result.fired, result.failed) == (1, 1)
    assert [t.status for t in timers_of(factory, broken)] == [TimerStatus.FAILED]
    assert "no_such_variable" in (instance(factory, broken).last_error or "")
    assert [t.bpmn_id for t in ready_tasks(factory, broken)] == ["work"]  # the failed step left nothing behind
    assert [t.bpmn_id for t in ready_tasks(factory, healthy)] == ["escalated"]
    assert timers.sweep(factory, ctx).failed == 0  # not retried forever


TWO_TIMERS = TIMER_DIAGRAM.replace(b'id="reminder_test"', b'id="two_timers"').replace(
    b'<bpmn:sequenceFlow id="f3" sourceRef="late" targetRef="escalated"/>',
    b'<bpmn:sequenceFlow id="f3" sourceRef="late" targetRef="escalated"/>'
    b'<bpmn:boundaryEvent id="remind" attachedToRef="work" cancelActivity="false">'
    b'<bpmn:timerEventDefinition><bpmn:timeDuration>"PT1H"</bpmn:timeDuration></bpmn:timerEventDefinition>'
    b'</bpmn:boundaryEvent><bpmn:sequenceFlow id="f7" sourceRef="remind" targetRef="reminded"/>'
    b'<bpmn:endEvent id="reminded"/>')


def test_two_timers_of_one_case_due_in_one_sweep_take_one_step_each_at_most(factory, ctx, clock, demo):
    (iid,) = start_cases(factory, ctx, demo, TWO_TIMERS, "two_timers")
    assert sorted(t.bpmn_id for t in timers_of(factory, iid)) == ["late", "remind"]
    clock.advance(timedelta(hours=3))  # both overdue: the first step fires both in SpiffWorkflow

    result = timers.sweep(factory, ctx)

    assert result.failed == 0 and result.fired == 1
    assert {t.status for t in timers_of(factory, iid)} <= {TimerStatus.FIRED, TimerStatus.CANCELLED}
    assert [t.bpmn_id for t in ready_tasks(factory, iid)] == ["escalated"]
    assert timers.sweep(factory, ctx).handled == 0


def test_a_sweep_fires_many_due_timers_in_batches_each_once(factory, ctx, clock, demo):
    ids = start_cases(factory, ctx, demo, TIMER_DIAGRAM, "reminder_test", count=45)
    clock.advance(timedelta(hours=3))

    result = timers.sweep(factory, ctx, batch=20)  # three transactions: 20, 20, 5

    assert (result.fired, result.skipped, result.failed) == (45, 0, 0)
    with factory() as s:
        fired = s.execute(select(AuditEvent.payload).where(AuditEvent.event_type == "timer_fired")).scalars().all()
    assert len(fired) == 45 and len({json.loads(p)["timer_id"] for p in fired}) == 45
    assert all([t.bpmn_id for t in ready_tasks(factory, iid)] == ["escalated"] for iid in ids)
    assert timers.sweep(factory, ctx).handled == 0


def test_limit_bounds_a_sweep_and_the_rest_wait_for_the_next(factory, ctx, clock, demo):
    start_cases(factory, ctx, demo, TIMER_DIAGRAM, "reminder_test", count=5)
    clock.advance(timedelta(hours=3))
    assert timers.sweep(factory, ctx, limit=3, batch=2).fired == 3
    assert timers.sweep(factory, ctx, limit=3, batch=2).fired == 2
    with factory() as s:
        assert timers.next_due(s, ctx) is None
