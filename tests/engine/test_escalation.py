"""Graded escalation from the diagrams' timer boundary events: 提醒 before the deadline to the
holder and the unit's leader, 督办 at the deadline to the office (with a 督办 task), 通报 after it to
the leading group — each once, each only to people who may see the case."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select

from engine import definitions, runtime
from engine.db import transaction
from engine.errors import DefinitionInvalid
from engine.timers import sweep
from models import AuditEvent, Notification, NotificationKind, User
from tests.helpers import (
    PLAN_ROW,
    act,
    item_numbers,
    open_clue,
    open_rectification,
    ready_task,
    ready_tasks,
    simple_bpmn,
)


def _escalations(factory, iid):  # type: ignore[no-untyped-def]
    with factory() as s:
        return [json.loads(e.payload) for e in s.execute(
            select(AuditEvent).where(AuditEvent.instance_id == iid, AuditEvent.event_type == "escalated")
            .order_by(AuditEvent.seq)).scalars()]


def _told(factory, task_id):  # type: ignore[no-untyped-def]
    with factory() as s:
        return sorted(s.execute(select(User.username).join(Notification, Notification.user_id == User.id).where(
            Notification.task_id == task_id, Notification.kind == NotificationKind.ESCALATED)).scalars())


def test_an_overdue_plan_escalates_step_by_step_up_the_hierarchy(factory, ctx, demo, clock):
    iid = open_rectification(factory, ctx, demo)
    act(factory, ctx, "unit1", iid, "receive_feedback", {"feedback_received_on": "2026-11-25"})
    plan = ready_task(factory, iid, "draft_plan")
    assert plan.due_at is not None

    clock.set(plan.due_at - timedelta(days=1))  # past the 提醒 point (3 working days before), not yet due
    sweep(factory, ctx)
    grades = [e["grade"] for e in _escalations(factory, iid)]
    assert grades == ["提醒"]
    assert _told(factory, plan.id) == ["unit1", "unitlead1"]  # the liaisons and the unit's leader

    clock.set(plan.due_at + timedelta(minutes=1))  # overdue: 督办 to the office, and a 督办 task for it
    sweep(factory, ctx)
    assert [e["grade"] for e in _escalations(factory, iid)] == ["提醒", "督办"]
    assert "office1" in _told(factory, plan.id)
    supervise = ready_task(factory, iid, "supervise_plan")
    assert supervise.candidate_group == "office"
    assert ready_task(factory, iid, "draft_plan").id == plan.id  # the unit still owes the plan

    clock.set(plan.due_at + timedelta(days=10))
    sweep(factory, ctx)
    sweep(factory, ctx)  # fired once only
    assert [e["grade"] for e in _escalations(factory, iid)] == ["提醒", "督办", "通报"]
    assert "leader1" in _told(factory, plan.id)
    notice = _escalations(factory, iid)[-1]
    assert "逾期" in notice["message"]

    act(factory, ctx, "office1", iid, "supervise_plan", {"supervise_method": "发督办函", "supervise_note": "已发函。"})
    assert not ready_tasks(factory, iid, "supervise_plan")


def test_a_plan_handed_in_on_time_escalates_nothing(factory, ctx, demo, clock):
    iid = open_rectification(factory, ctx, demo)
    act(factory, ctx, "unit1", iid, "receive_feedback", {"feedback_received_on": "2026-11-25"})
    act(factory, ctx, "unit1", iid, "draft_plan", {
        "plan_summary": "逐项整改。", "pledge_signed": True, "pledge_signer": "党组书记",
        "plan_measures": [{"item_number": n, **PLAN_ROW} for n in item_numbers(factory, iid)]})
    clock.advance(timedelta(days=60))
    sweep(factory, ctx)
    assert _escalations(factory, iid) == []


def test_a_clue_escalation_never_reaches_the_inspected_unit(factory, ctx, demo, clock):
    iid = open_clue(factory, ctx, demo)
    act(factory, ctx, "office1", iid, "handover", {"handover_list": "清单"})
    ack = ready_task(factory, iid, "acknowledge")
    clock.set(ack.due_at + timedelta(minutes=1))
    sweep(factory, ctx)
    assert [e["grade"] for e in _escalations(factory, iid)] == ["提醒", "督办"]
    told = _told(factory, ack.id)
    assert "leader1" not in told  # 通报 comes later
    assert "jw1" in told and "office1" in told
    assert not {"unit1", "unitlead1"} & set(told)


def test_deploy_refuses_an_unknown_grade_or_audience_naming_the_event(factory, ctx, demo, clock):
    xml = simple_bpmn("esc", form="rect_supervise.schema.json").decode().replace(
        '</bpmn:process>',
        '<bpmn:boundaryEvent id="bad_grade" cancelActivity="false" attachedToRef="handle">'
        '<bpmn:extensionElements><spiffworkflow:properties>'
        '<spiffworkflow:property name="escalation" value="严重" />'
        '<spiffworkflow:property name="notify" value="holder,nobody" />'
        '</spiffworkflow:properties></bpmn:extensionElements>'
        '<bpmn:timerEventDefinition><bpmn:timeDate>deadline_in(1)</bpmn:timeDate></bpmn:timerEventDefinition>'
        '</bpmn:boundaryEvent></bpmn:process>')
    with transaction(factory) as s:
        try:
            definitions.deploy(s, xml.encode(), demo.actor("designer1"), ctx.forms, at=clock.now())
        except DefinitionInvalid as exc:
            problems = exc.details["problems"]
        else:
            raise AssertionError("deployed")
    assert any(p["element_id"] == "bad_grade" and "严重" in p["message_zh"] for p in problems)


def test_deadline_in_uses_the_engine_clock_and_working_days(ctx, clock):
    from engine.clock import workflow_time
    with workflow_time(clock):  # 2026-11-25 (Wed) 09:00 Beijing → 3 working days → Mon 30th, end of day
        assert runtime.deadline_in(3).startswith("2026-11-30T23:59:59")


def test_a_clue_left_unsigned_escalates_to_the_office_then_the_leading_group_across_national_day(
        factory, ctx, demo, clock):  # type: ignore[no-untyped-def]
    """Handed over on the eve of National Day 2026 (1–7 October off, Saturday 10 October a make-up
    working day): the holiday does not count, the make-up Saturday does."""
    beijing = ZoneInfo("Asia/Shanghai")
    clock.set(datetime(2026, 9, 30, 9, 0, tzinfo=beijing))
    iid = open_clue(factory, ctx, demo)
    act(factory, ctx, "office1", iid, "handover", {"handover_list": "清单"})
    ack = ready_task(factory, iid, "acknowledge")
    assert ack.due_at == datetime(2026, 10, 10, 23, 59, 59, tzinfo=beijing)  # 8th, 9th, Saturday 10th

    def at(day: int, hour: int = 12) -> list[str]:
        clock.set(datetime(2026, 10, day, hour, 0, tzinfo=beijing))
        sweep(factory, ctx)
        return [e["grade"] for e in _escalations(factory, iid)]

    assert at(7) == []  # a week of holiday later: not a working day has passed
    assert at(10) == ["提醒"]  # the make-up Saturday is the last day
    assert "jw1" in _told(factory, ack.id) and "office1" not in _told(factory, ack.id)
    assert at(11) == ["提醒", "督办"]  # overdue on Sunday: the office is told
    assert "office1" in _told(factory, ack.id) and "leader1" not in _told(factory, ack.id)
    assert at(14) == ["提醒", "督办"]  # 3 working days overdue ends on Wednesday evening …
    assert at(15, 9) == ["提醒", "督办", "通报"]  # … then the leading group hears of it
    assert "leader1" in _told(factory, ack.id)
    assert not {"unit1", "unitlead1"} & set(_told(factory, ack.id))
