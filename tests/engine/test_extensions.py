"""延期: the holder asks, the approver the diagram names decides; an approved extension moves the task's
deadline (the first one kept), the item's or clue's where it applies, and the task's boundary timers —
in the timer table and inside the workflow state, so no later step fires them at their old time."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select, update

from engine import extensions, runtime, timers
from engine.calendar import LOCAL_TZ
from engine.db import transaction
from engine.definitions import deploy
from engine.errors import Conflict, DefinitionInvalid, FormInvalid, NotFound, NotPermitted, TaskNotActive
from engine.runtime import find_task, restore
from models import (
    AuditEvent,
    ExtensionRequest,
    ExtensionStatus,
    Notification,
    NotificationKind,
    ProcessInstance,
    Timer,
    TimerStatus,
)
from tests.helpers import add_user, clue_of, open_clue, ready_task, ready_tasks, start_cases, task_row, timers_of

DIAGRAM = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core" id="d" targetNamespace="x">
  <bpmn:process id="extension_test" name="延期测试" isExecutable="true">
    <bpmn:laneSet id="ls"><bpmn:lane id="L" name="office"><bpmn:flowNodeRef>work</bpmn:flowNodeRef>
      <bpmn:flowNodeRef>other</bpmn:flowNodeRef><bpmn:flowNodeRef>escalated</bpmn:flowNodeRef></bpmn:lane></bpmn:laneSet>
    <bpmn:startEvent id="s"/>
    <bpmn:sequenceFlow id="f0" sourceRef="s" targetRef="split"/>
    <bpmn:parallelGateway id="split"/>
    <bpmn:sequenceFlow id="f1" sourceRef="split" targetRef="work"/>
    <bpmn:sequenceFlow id="f1b" sourceRef="split" targetRef="other"/>
    <bpmn:userTask id="work" name="办理"><bpmn:extensionElements><spiffworkflow:properties>
      <spiffworkflow:property name="dueWorkingDays" value="5"/>APPROVER
    </spiffworkflow:properties></bpmn:extensionElements></bpmn:userTask>
    <bpmn:userTask id="other" name="另一环节"/>
    <bpmn:sequenceFlow id="f2" sourceRef="work" targetRef="e"/>
    <bpmn:endEvent id="e"/>
    <bpmn:sequenceFlow id="f2b" sourceRef="other" targetRef="e3"/>
    <bpmn:endEvent id="e3"/>
    <bpmn:boundaryEvent id="late" attachedToRef="work" cancelActivity="true">
      <bpmn:timerEventDefinition><bpmn:timeDuration>"P2D"</bpmn:timeDuration></bpmn:timerEventDefinition>
    </bpmn:boundaryEvent>
    <bpmn:sequenceFlow id="f3" sourceRef="late" targetRef="escalated"/>
    <bpmn:userTask id="escalated" name="督办"/>
    <bpmn:sequenceFlow id="f4" sourceRef="escalated" targetRef="e2"/>
    <bpmn:endEvent id="e2"/>
  </bpmn:process>
</bpmn:definitions>"""


def diagram(approver: str | None = None, process_id: str = "extension_test") -> bytes:
    prop = f'<spiffworkflow:property name="extensionApprover" value="{approver}"/>' if approver else ""
    return DIAGRAM.replace("APPROVER", prop).replace("extension_test", process_id).encode()


def start(factory, ctx, demo, approver: str | None = None) -> int:  # type: ignore[no-untyped-def]
    (iid,) = start_cases(factory, ctx, demo, diagram(approver), "extension_test")
    with transaction(factory) as s:
        runtime.claim_task(s, ctx, demo.actor("office1"), ready_task(factory, iid, "work").id)
    return iid


def local(*args: int) -> datetime:
    return datetime(*args, tzinfo=LOCAL_TZ)


NEW_DUE = local(2026, 12, 9, 23, 59, 59)  # the task is due on 2 December (five working days from 25 November)


def ask(factory, ctx, actor, task_id: int, due: datetime = NEW_DUE, reason: str = "材料需补充调取",  # type: ignore[no-untyped-def]
        **kw: Any) -> int:
    with transaction(factory) as s:
        return extensions.request_extension(s, ctx, actor, task_id, due, reason, **kw).id


def counts(factory, iid: int) -> tuple[int, int, int]:  # type: ignore[no-untyped-def]
    """Requests, audit events of the case, notifications: what a refused action must leave as it was."""
    with factory() as s:
        return (s.scalar(select(func.count()).select_from(ExtensionRequest)) or 0,
                s.scalar(select(func.count()).select_from(AuditEvent).where(AuditEvent.instance_id == iid)) or 0,
                s.scalar(select(func.count()).select_from(Notification)) or 0)


def timer_row(factory, iid: int) -> Timer:  # type: ignore[no-untyped-def]
    (timer,) = [t for t in timers_of(factory, iid) if t.bpmn_id == "late"]
    return timer


def workflow_due(factory, ctx, iid: int) -> datetime:  # type: ignore[no-untyped-def]
    """When the boundary timer is due according to the workflow state itself."""
    work = ready_task(factory, iid, "work")
    with factory() as s:
        instance = s.get(ProcessInstance, iid)
        workflow = restore(s, ctx, instance, to_step=False)
        (timer,) = extensions.waiting_timer_tasks(workflow, str(find_task(workflow, work.task_guid).id))
        return extensions._due_of(timer._get_internal_data("event_value"))


def events(factory, iid: int, kind: str) -> list[tuple[str, dict[str, Any]]]:  # type: ignore[no-untyped-def]
    """(actor name, payload) of the case's audit events of one kind."""
    with factory() as s:
        rows = s.execute(select(AuditEvent).where(AuditEvent.instance_id == iid, AuditEvent.event_type == kind)
                         .order_by(AuditEvent.id)).scalars()
        return [(row.actor_name or "", json.loads(row.payload)) for row in rows]


def notices(factory, username_id: int) -> list[Notification]:  # type: ignore[no-untyped-def]
    with factory() as s:
        return list(s.execute(select(Notification).where(Notification.user_id == username_id,
                                                         Notification.kind == NotificationKind.EXTENSION)).scalars())


def test_only_the_holder_asks_with_a_reason_for_a_later_date_once_and_refusals_write_nothing(factory, ctx, demo):
    iid = start(factory, ctx, demo)
    work = ready_task(factory, iid, "work")
    other = ready_task(factory, iid, "other")
    office1, leader = demo.actor("office1"), demo.actor("leader1")
    before = counts(factory, iid)
    with pytest.raises(NotPermitted):
        ask(factory, ctx, leader, work.id)  # sees the case, does not hold the task
    with pytest.raises(NotFound):
        ask(factory, ctx, demo.actor("unit1"), work.id)  # may not even know it exists
    with pytest.raises(NotPermitted):
        ask(factory, ctx, office1, other.id)  # nobody holds it yet
    with pytest.raises(FormInvalid) as empty:
        ask(factory, ctx, office1, work.id, reason="  ")
    assert "reason" in empty.value.details["fields"]
    with pytest.raises(FormInvalid) as early:
        ask(factory, ctx, office1, work.id, due=local(2026, 12, 2, 12, 0))
    assert "requested_due_at" in early.value.details["fields"] and "2026-12-02" in early.value.message_zh
    with pytest.raises(FormInvalid):
        ask(factory, ctx, office1, work.id, item_id=999)
    assert counts(factory, iid) == before

    rid = ask(factory, ctx, office1, work.id)
    with pytest.raises(Conflict) as twice:
        ask(factory, ctx, office1, work.id, due=local(2026, 12, 10, 23, 59, 59))
    assert twice.value.details["request_id"] == rid
    with factory() as s:
        row = s.get(ExtensionRequest, rid)
        assert row is not None
        assert (row.status, row.reason, row.requested_by_id) == (
            ExtensionStatus.PENDING, "材料需补充调取", office1.user_id)
        assert row.current_due_at == local(2026, 12, 2, 23, 59, 59) and row.requested_due_at == NEW_DUE
    ((actor_name, payload),) = events(factory, iid, "extension_requested")
    assert payload["after"] == {"status": "pending"} and payload["approver_group"] == "office"
    assert actor_name == "office1"
    assert task_row(factory, work.id).due_at == local(2026, 12, 2, 23, 59, 59)  # nothing moves until approved


def test_approval_moves_the_deadline_and_the_boundary_timer_in_the_row_and_the_workflow(factory, ctx, clock, demo):
    iid = start(factory, ctx, demo)
    work = ready_task(factory, iid, "work")
    office2 = add_user(factory, "office2", "OFFICE", [("office", "CITY")])
    old_timer = timer_row(factory, iid)
    assert old_timer.due_at == local(2026, 11, 27, 9, 0)
    rid = ask(factory, ctx, demo.actor("office1"), work.id)
    assert [n.message for n in notices(factory, office2.user_id)] == [
        "办理：巡察办 王明 申请延期至 2026-12-09，请审批"]

    before = counts(factory, iid)
    # One's own request (though of the approving group); then someone who sees the case but is no approver.
    with pytest.raises(NotPermitted), transaction(factory) as s:
        extensions.approve(s, ctx, demo.actor("office1"), rid)
    with pytest.raises(NotPermitted), transaction(factory) as s:
        extensions.approve(s, ctx, demo.actor("leader1"), rid)
    with pytest.raises(NotFound), transaction(factory) as s:
        extensions.approve(s, ctx, demo.actor("unit1"), rid)
    assert counts(factory, iid) == before

    with transaction(factory) as s:
        extensions.approve(s, ctx, office2, rid, "同意")
    task = task_row(factory, work.id)
    assert task.due_at == NEW_DUE and task.original_due_at == local(2026, 12, 2, 23, 59, 59)
    moved = timer_row(factory, iid)
    assert moved.id == old_timer.id and moved.status == TimerStatus.WAITING
    assert moved.due_at == local(2026, 12, 4, 9, 0)  # seven days later, as the deadline
    assert workflow_due(factory, ctx, iid) == local(2026, 12, 4, 9, 0)
    with factory() as s:
        row = s.get(ExtensionRequest, rid)
        assert row is not None and (row.status, row.decided_by_id, row.decision_note) == (
            ExtensionStatus.APPROVED, office2.user_id, "同意")
    ((actor_name, payload),) = events(factory, iid, "extension_approved")
    assert actor_name == "office2"
    assert payload["task"]["before"]["due_at"].startswith("2026-12-02")
    assert payload["task"]["after"]["due_at"].startswith("2026-12-09")
    assert payload["timers"][0]["after"].startswith("2026-12-04")
    assert [n.message for n in notices(factory, demo.actor("office1").user_id)] == [
        "办理：延期申请已批准，期限延至 2026-12-09"]
    with pytest.raises(Conflict), transaction(factory) as s:
        extensions.refuse(s, ctx, office2, rid)

    # A second extension keeps the first deadline as the original.
    rid2 = ask(factory, ctx, demo.actor("office1"), work.id, due=local(2026, 12, 11, 23, 59, 59))
    with transaction(factory) as s:
        extensions.approve(s, ctx, office2, rid2)
    task = task_row(factory, work.id)
    assert task.due_at == local(2026, 12, 11, 23, 59, 59) and task.original_due_at == local(2026, 12, 2, 23, 59, 59)
    assert timer_row(factory, iid).due_at == local(2026, 12, 6, 9, 0)


def test_a_moved_timer_does_not_fire_at_its_old_time_even_when_another_step_runs(factory, ctx, clock, demo):
    iid = start(factory, ctx, demo)
    office1 = demo.actor("office1")
    office2 = add_user(factory, "office2", "OFFICE", [("office", "CITY")])
    with transaction(factory) as s:
        extensions.approve(s, ctx, office2, ask(factory, ctx, office1, ready_task(factory, iid, "work").id))

    clock.set(local(2026, 11, 30, 9, 0))  # well past the timer's first due moment (27 November)
    assert timers.sweep(factory, ctx).fired == 0
    other = ready_task(factory, iid, "other")
    with transaction(factory) as s:
        runtime.claim_task(s, ctx, office1, other.id)
    with transaction(factory) as s:
        runtime.complete_task(s, ctx, office1, other.id, {})  # this step refreshes the workflow's timers
    assert [t.bpmn_id for t in ready_tasks(factory, iid)] == ["work"]
    assert timer_row(factory, iid).status == TimerStatus.WAITING

    clock.set(local(2026, 12, 4, 9, 1))
    assert timers.sweep(factory, ctx).fired == 1
    assert [t.bpmn_id for t in ready_tasks(factory, iid)] == ["escalated"]


def test_moving_only_the_timer_row_would_let_the_next_step_fire_it_early(factory, ctx, clock, demo):
    """Why the workflow state moves too: the control case of the test above."""
    iid = start(factory, ctx, demo)
    office1 = demo.actor("office1")
    with transaction(factory) as s:
        s.execute(update(Timer).where(Timer.instance_id == iid).values(due_at=local(2026, 12, 4, 9, 0)))
    clock.set(local(2026, 11, 30, 9, 0))
    other = ready_task(factory, iid, "other")
    with transaction(factory) as s:
        runtime.claim_task(s, ctx, office1, other.id)
    with transaction(factory) as s:
        runtime.complete_task(s, ctx, office1, other.id, {})
    assert [t.bpmn_id for t in ready_tasks(factory, iid)] == ["escalated"]


def test_refusal_and_withdrawal_move_nothing_and_only_the_requester_withdraws(factory, ctx, demo):
    iid = start(factory, ctx, demo)
    work = ready_task(factory, iid, "work")
    office1 = demo.actor("office1")
    office2 = add_user(factory, "office2", "OFFICE", [("office", "CITY")])
    rid = ask(factory, ctx, office1, work.id)
    with pytest.raises(NotPermitted), transaction(factory) as s:
        extensions.withdraw(s, ctx, office2, rid)
    with transaction(factory) as s:
        extensions.refuse(s, ctx, office2, rid, "期限充足")
    task = task_row(factory, work.id)
    assert task.due_at == local(2026, 12, 2, 23, 59, 59) and task.original_due_at is None
    assert timer_row(factory, iid).due_at == local(2026, 11, 27, 9, 0)
    assert [n.message for n in notices(factory, office1.user_id)] == ["办理：延期申请未获批准（期限充足）"]
    ((_, payload),) = events(factory, iid, "extension_refused")
    assert payload["before"] == {"status": "pending"} and payload["after"] == {"status": "refused"}

    rid2 = ask(factory, ctx, office1, work.id)  # refused is no longer pending: one may ask again
    with transaction(factory) as s:
        extensions.withdraw(s, ctx, office1, rid2)
    with factory() as s:
        assert s.get(ExtensionRequest, rid2).status == ExtensionStatus.WITHDRAWN  # type: ignore[union-attr]
    with pytest.raises(Conflict), transaction(factory) as s:
        extensions.approve(s, ctx, office2, rid2)
    assert len(events(factory, iid, "extension_withdrawn")) == 1


def test_a_request_on_a_finished_task_can_be_refused_but_not_granted(factory, ctx, demo):
    iid = start(factory, ctx, demo)
    work = ready_task(factory, iid, "work")
    office1 = demo.actor("office1")
    office2 = add_user(factory, "office2", "OFFICE", [("office", "CITY")])
    rid = ask(factory, ctx, office1, work.id)
    with transaction(factory) as s:
        runtime.complete_task(s, ctx, office1, work.id, {})
    before = counts(factory, iid)
    with pytest.raises(TaskNotActive), transaction(factory) as s:
        extensions.approve(s, ctx, office2, rid)
    assert counts(factory, iid) == before
    with transaction(factory) as s:
        assert extensions.refuse(s, ctx, office2, rid).status == ExtensionStatus.REFUSED


def test_the_diagram_names_the_approving_group_and_deploy_checks_it(factory, ctx, demo):
    with pytest.raises(DefinitionInvalid) as bad, transaction(factory) as s:
        deploy(s, diagram("no_such_group", "bad_approver"), None, ctx.forms, at=ctx.clock.now())
    assert any(p["element_id"] == "work" and "extensionApprover" in p["message_en"]
               for p in bad.value.details["problems"])

    iid = start(factory, ctx, demo, approver="领导小组")  # the group's Chinese name works as in lanes
    work = ready_task(factory, iid, "work")
    office2 = add_user(factory, "office2", "OFFICE", [("office", "CITY")])
    rid = ask(factory, ctx, demo.actor("office1"), work.id)
    with factory() as s:
        assert [v.request.id for v in extensions.list_requests(s, ctx, demo.actor("leader1"))] == [rid]
        assert extensions.list_requests(s, ctx, office2) == []
        assert [v.request.id for v in extensions.list_requests(s, ctx, demo.actor("office1"), mine=True)] == [rid]
    with pytest.raises(NotPermitted), transaction(factory) as s:
        extensions.approve(s, ctx, office2, rid)
    with transaction(factory) as s:
        extensions.approve(s, ctx, demo.actor("leader1"), rid)
    assert task_row(factory, work.id).due_at == NEW_DUE
    with factory() as s:
        assert extensions.list_requests(s, ctx, demo.actor("leader1"), status="pending") == []
        assert len(extensions.list_requests(s, ctx, demo.actor("leader1"), status="approved")) == 1


def test_an_extension_past_the_clue_deadline_moves_the_clue_deadline_too(factory, ctx, demo):
    iid = open_clue(factory, ctx, demo)
    (task,) = ready_tasks(factory, iid)
    clue_due = clue_of(factory, iid).due_at
    assert clue_due is not None
    holder = demo.actor("office1") if task.candidate_group == "office" else demo.actor("jw1")
    with transaction(factory) as s:
        runtime.claim_task(s, ctx, holder, task.id)
    approver = add_user(factory, "office2", "OFFICE", [("office", "CITY")])
    later = clue_due + timedelta(days=10)
    with transaction(factory) as s:
        extensions.approve(s, ctx, approver, ask(factory, ctx, holder, task.id, due=later))
    clue = clue_of(factory, iid)
    assert clue.due_at == later and clue.original_due_at == clue_due
    assert task_row(factory, task.id).due_at == later
