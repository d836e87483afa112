"""The instance viewer's marks: what a case has done, where it stands and which timers wait, derived
from the pruned workflow, the task and timer rows and the audit steps — checked after each step of a
rectification (with a plan send-back and a rejected item inside the per-item sub-process) and of a
clue (with its 退回 loop and a progress loop), for whoever may see the case and nobody else."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from engine import definitions, instance_view, migration, runtime
from engine.actors import load_actor
from engine.db import transaction
from engine.errors import NotFound
from engine.timers import sweep
from models import AuditEvent, ProcessInstance
from tests.engine.test_migration import recheck_bpmn
from tests.helpers import PLAN_ROW, act, item_numbers, open_clue, open_rectification, ready_task, simple_bpmn

HANDOVER = {"handover_list": "问题线索报告 1 份"}
PASS = {"item_verify_decision": "通过"}
REJECT = {"item_verify_decision": "驳回", "item_verify_opinion": "佐证不足"}
RECTIFIED = {"item_progress": "已建立制度。", "item_completion": "已完成"}
STRUCK = {"strike_off_date": "2026-12-01"}
PLAN_TIMERS = {"warn_plan", "supervise_plan_timer", "report_plan_timer"}
ACK_TIMERS = {"warn_ack", "supervise_ack", "report_ack"}


def view(factory, ctx, iid, username="office1"):  # type: ignore[no-untyped-def]
    with factory() as session:
        return instance_view.instance_diagram(session, ctx, load_actor(session, username), iid)


def marked(diagram, mark):  # type: ignore[no-untyped-def]
    return {element for element, value in diagram.marks.items() if value == mark}


def plan(factory, iid):  # type: ignore[no-untyped-def]
    return {"plan_summary": "逐项整改。", "pledge_signed": True, "pledge_signer": "党组书记",
            "plan_measures": [{"item_number": n, **PLAN_ROW} for n in item_numbers(factory, iid)]}


FEEDBACK_DONE = {"start_rectification", "flow_start_feedback", "receive_feedback", "flow_feedback_plan"}
PLAN_SENT_BACK = FEEDBACK_DONE | {"draft_plan", "flow_plan_review", "review_plan", "flow_review_gw", "gw_plan",
                                  "flow_plan_back"}
PLAN_APPROVED = PLAN_SENT_BACK | {"flow_plan_approved", "item_start", "flow_item_start"}
ITEM_SENT_BACK = {"rectify_item", "flow_item_verify", "verify_item", "flow_item_verify_gw", "gw_item_verify",
                  "flow_item_rejected"}
ITEM_STRUCK_OFF = ITEM_SENT_BACK | {"flow_item_passed", "strike_off_item", "flow_item_record", "record_item_result",
                                    "flow_item_end", "item_end"}


def test_rectification_marks_follow_each_step_through_send_backs_and_the_per_item_sub_process(factory, ctx, demo):
    iid = open_rectification(factory, ctx, demo, problems=2)
    diagram = view(factory, ctx, iid)
    assert marked(diagram, "done") == {"start_rectification", "flow_start_feedback"}
    assert marked(diagram, "current") == {"receive_feedback"} and marked(diagram, "waiting") == set()
    assert diagram.definition.version == 1 and diagram.definition.key == "rectification"

    act(factory, ctx, "unit1", iid, "receive_feedback", {"feedback_received_on": "2026-11-25"})
    diagram = view(factory, ctx, iid)
    assert marked(diagram, "done") == FEEDBACK_DONE
    assert marked(diagram, "current") == {"draft_plan"}
    assert marked(diagram, "waiting") == PLAN_TIMERS  # 提醒, 督办 and 通报 wait on the plan
    assert {t.element_id: t.grade for t in diagram.timers} == {
        "warn_plan": "提醒", "supervise_plan_timer": "督办", "report_plan_timer": "通报"}
    assert all(t.attached_to == "draft_plan" for t in diagram.timers)
    assert diagram.timers[0].due_at < diagram.timers[1].due_at < diagram.timers[2].due_at

    # 退回修改: the back flow is taken, the approval flow is not; the plan is current again.
    act(factory, ctx, "unit1", iid, "draft_plan", plan(factory, iid))
    act(factory, ctx, "office1", iid, "review_plan", {"plan_decision": "退回修改", "plan_review_opinion": "补充"})
    diagram = view(factory, ctx, iid)
    assert marked(diagram, "done") == PLAN_SENT_BACK - {"draft_plan"}  # current again: that mark wins
    assert marked(diagram, "current") == {"draft_plan"} and marked(diagram, "waiting") == PLAN_TIMERS

    # Approved: both items enter the multi-instance sub-process, which is current with them.
    act(factory, ctx, "unit1", iid, "draft_plan", plan(factory, iid))
    act(factory, ctx, "office1", iid, "review_plan", {"plan_decision": "通过"})
    diagram = view(factory, ctx, iid)
    assert marked(diagram, "done") == PLAN_APPROVED
    assert marked(diagram, "current") == {"rectify_items", "rectify_item"}
    assert marked(diagram, "waiting") == set()
    assert len(diagram.at("rectify_item")) == 2  # "2 项在此"

    # Inside the sub-process: the first item is rejected once (a loop within one instance), then passes
    # and is struck off, while the second still waits to be rectified.
    act(factory, ctx, "unit1", iid, "rectify_item", RECTIFIED)
    act(factory, ctx, "group1", iid, "verify_item", REJECT)
    diagram = view(factory, ctx, iid)
    assert marked(diagram, "done") == PLAN_APPROVED | ITEM_SENT_BACK - {"rectify_item"}
    assert marked(diagram, "current") == {"rectify_items", "rectify_item"}
    assert len(diagram.at("rectify_item")) == 2

    act(factory, ctx, "unit1", iid, "rectify_item", RECTIFIED, index=1)  # the rejected one, reopened later
    act(factory, ctx, "group1", iid, "verify_item", PASS)
    diagram = view(factory, ctx, iid)
    assert marked(diagram, "current") == {"rectify_items", "rectify_item", "strike_off_item"}
    act(factory, ctx, "office1", iid, "strike_off_item", STRUCK)
    diagram = view(factory, ctx, iid)
    assert marked(diagram, "done") == PLAN_APPROVED | ITEM_STRUCK_OFF - {"rectify_item"}
    assert marked(diagram, "current") == {"rectify_items", "rectify_item"}
    assert len(diagram.at("rectify_item")) == 1
    assert "flow_items_report" not in diagram.marks  # the sub-process has not finished

    # The last item leaves the sub-process: it is done, and so is the flow to the report.
    act(factory, ctx, "unit1", iid, "rectify_item", RECTIFIED)
    act(factory, ctx, "group1", iid, "verify_item", PASS)
    act(factory, ctx, "office1", iid, "strike_off_item", STRUCK)
    diagram = view(factory, ctx, iid)
    assert marked(diagram, "done") == PLAN_APPROVED | ITEM_STRUCK_OFF | {"rectify_items", "flow_items_report"}
    assert marked(diagram, "current") == {"rectification_report"}


CLUE_RETURNED = {"start_clue", "flow_start_handover", "handover", "flow_handover_ack", "acknowledge",
                 "flow_ack_gw", "gw_acknowledge", "flow_ack_returned"}
CLUE_REHANDED = CLUE_RETURNED | {"handle_return", "flow_return_gw", "gw_return", "flow_return_rehandover"}
CLUE_DISPOSED = CLUE_REHANDED | {"flow_ack_accepted", "dispose", "flow_dispose_progress"}
CLUE_PROGRESS_LOOP = CLUE_DISPOSED | {"progress_report", "flow_progress_gw", "gw_progress", "flow_progress_again"}
CLUE_CLOSED = CLUE_PROGRESS_LOOP | {"flow_progress_finished", "result_feedback", "flow_result_verify",
                                    "verify_result", "flow_verify_gw", "gw_verify", "flow_verify_closed", "end_closed"}


def test_clue_marks_follow_its_return_loop_and_progress_loop_to_closure(factory, ctx, demo):
    iid = open_clue(factory, ctx, demo)
    act(factory, ctx, "office1", iid, "handover", HANDOVER)
    diagram = view(factory, ctx, iid, "jw1")
    assert marked(diagram, "current") == {"acknowledge"} and marked(diagram, "waiting") == ACK_TIMERS

    act(factory, ctx, "jw1", iid, "acknowledge", {"ack_decision": "退回", "return_reason": "材料不全"})
    diagram = view(factory, ctx, iid, "jw1")
    assert marked(diagram, "done") == CLUE_RETURNED
    assert marked(diagram, "current") == {"handle_return"} and marked(diagram, "waiting") == set()

    act(factory, ctx, "office1", iid, "handle_return", {"return_action": "重新移交"})
    diagram = view(factory, ctx, iid)
    assert marked(diagram, "done") == CLUE_REHANDED - {"acknowledge"}  # not the withdrawal's flow or end
    assert marked(diagram, "current") == {"acknowledge"} and marked(diagram, "waiting") == ACK_TIMERS

    act(factory, ctx, "jw1", iid, "acknowledge", {"ack_decision": "签收"})
    act(factory, ctx, "jw1", iid, "dispose", {"disposition_method": "初步核实", "disposition_opinion": "核实"})
    act(factory, ctx, "jw1", iid, "progress_report", {"progress_text": "调取资料", "handling_finished": False})
    diagram = view(factory, ctx, iid, "jw1")
    assert marked(diagram, "done") == CLUE_PROGRESS_LOOP - {"progress_report"}
    assert marked(diagram, "current") == {"progress_report"}

    act(factory, ctx, "jw1", iid, "progress_report", {"progress_text": "谈话完毕", "handling_finished": True})
    act(factory, ctx, "jw1", iid, "result_feedback", {"four_forms": "第二种形态", "result_summary": "警告处分"})
    act(factory, ctx, "office1", iid, "verify_result", {"verify_decision": "销号"})
    diagram = view(factory, ctx, iid)
    assert marked(diagram, "done") == CLUE_CLOSED  # end_withdrawn and the 退回补充 flow stay unmarked
    assert marked(diagram, "current") == set() and marked(diagram, "waiting") == set()
    assert diagram.current == [] and diagram.timers == []


def test_a_fired_escalation_is_done_with_its_path_and_the_later_ones_still_wait(factory, ctx, demo, clock):
    iid = open_rectification(factory, ctx, demo)
    act(factory, ctx, "unit1", iid, "receive_feedback", {"feedback_received_on": "2026-11-25"})
    due = ready_task(factory, iid, "draft_plan").due_at
    assert due is not None
    clock.set(due - timedelta(days=1))  # past 提醒, before 督办
    sweep(factory, ctx)
    diagram = view(factory, ctx, iid)
    assert {"warn_plan", "flow_warn_plan_end", "end_warn_plan"} <= marked(diagram, "done")
    assert marked(diagram, "waiting") == {"supervise_plan_timer", "report_plan_timer"}

    clock.set(due + timedelta(minutes=1))  # 督办: a task for the office, drawn after the event
    sweep(factory, ctx)
    diagram = view(factory, ctx, iid)
    assert {"supervise_plan_timer", "flow_supervise_plan"} <= marked(diagram, "done")
    assert marked(diagram, "current") == {"draft_plan", "supervise_plan"}
    assert [(t.element_id, t.grade) for t in diagram.timers] == [("report_plan_timer", "通报")]
    entries = [(h.event.event_type, h.element_id) for h in diagram.history]
    assert ("timer_fired", "supervise_plan_timer") in entries and ("task_created", "supervise_plan") in entries


def test_history_is_the_audit_stream_in_order_each_entry_naming_its_element(factory, ctx, demo):
    iid = open_clue(factory, ctx, demo)
    act(factory, ctx, "office1", iid, "handover", HANDOVER)
    diagram = view(factory, ctx, iid)
    assert [h.event.seq for h in diagram.history] == sorted(h.event.seq for h in diagram.history)
    assert [(h.event.event_type, h.element_id) for h in diagram.history][:5] == [
        ("instance_started", "start_clue"), ("task_created", "handover"), ("task_claimed", "handover"),
        ("task_completed", "handover"), ("case_updated", None)]


def test_the_clue_diagram_is_not_found_for_the_inspected_unit_or_another_body(factory, ctx, demo):
    iid = open_clue(factory, ctx, demo)
    for username in ("office1", "group1", "jw1", "leader1"):
        assert view(factory, ctx, iid, username).instance.id == iid
    for username in ("unit1", "zzb1", "unit2"):
        with pytest.raises(NotFound):
            view(factory, ctx, iid, username)


def test_a_rectification_diagram_is_seen_by_its_unit_and_not_by_another(factory, ctx, demo):
    iid = open_rectification(factory, ctx, demo)
    assert marked(view(factory, ctx, iid, "unit1"), "current") == {"receive_feedback"}
    with pytest.raises(NotFound):
        view(factory, ctx, iid, "unit2")
    assert view(factory, ctx, iid, "office1").tree is None  # technical details are for supervisors


def test_reading_the_diagram_writes_nothing_and_takes_no_lock(factory, ctx, demo):
    iid = open_rectification(factory, ctx, demo)
    with factory() as session:
        before = session.get(ProcessInstance, iid)
        assert before is not None
        version, events = before.version, session.scalar(select(func.count()).select_from(AuditEvent))
    with factory() as session:
        instance_view.instance_diagram(session, ctx, load_actor(session, "office1"), iid)
        assert not session.new and not session.dirty
        session.rollback()
    with factory() as session:
        after = session.get(ProcessInstance, iid)
        assert after is not None and after.version == version
        assert session.scalar(select(func.count()).select_from(AuditEvent)) == events


def test_an_instance_keeps_the_diagram_of_its_version_after_a_new_one_and_supervisors_see_its_tasks(
        factory, ctx, demo, clock):
    designer = demo.actor("designer1")
    with transaction(factory) as session:
        definitions.deploy(session, simple_bpmn("viewer_demo", task_id="handle"), designer, ctx.forms, at=clock.now())
    with transaction(factory) as session:
        iid = runtime.start_instance(session, ctx, designer, "viewer_demo", {},
                                     scope_path=designer.roles[0].org_path).id
    with transaction(factory) as session:
        definitions.deploy(session, simple_bpmn("viewer_demo", task_id="handle_v2"), designer, ctx.forms,
                           at=clock.now())
    diagram = view(factory, ctx, iid, "designer1")
    assert diagram.definition.version == 1
    assert marked(diagram, "current") == {"handle"} and marked(diagram, "done") == {"start", "f1"}
    assert diagram.tree is not None
    assert {(t.element_id, t.state) for t in diagram.tree} >= {("handle", "READY")}


def test_a_migrated_case_is_drawn_on_its_new_version_with_its_history_and_the_new_step_unmarked(
        factory, ctx, demo):
    iid = open_rectification(factory, ctx, demo, problems=2)
    act(factory, ctx, "unit1", iid, "receive_feedback", {"feedback_received_on": "2026-11-25"})
    act(factory, ctx, "unit1", iid, "draft_plan", plan(factory, iid))
    act(factory, ctx, "office1", iid, "review_plan", {"plan_decision": "通过"})
    act(factory, ctx, "unit1", iid, "rectify_item", RECTIFIED)
    with transaction(factory) as session:
        definitions.deploy(session, recheck_bpmn(), load_actor(session, "designer1"), ctx.forms, at=ctx.clock.now())
    run = migration.run_migration(factory, ctx, demo.actor("designer1"), "rectification", 1, 2, dry_run=False)
    assert run.moved == 1

    diagram = view(factory, ctx, iid)
    assert diagram.definition.version == 2
    assert marked(diagram, "current") == {"rectify_items", "rectify_item", "verify_item"}
    assert PLAN_APPROVED - {"flow_plan_back"} <= marked(diagram, "done")
    assert "flow_plan_back" not in diagram.marks  # approved the first time
    assert "recheck_item" not in diagram.marks  # the step the new version added, not reached yet
    assert ("instance_migrated", None) in [(h.event.event_type, h.element_id) for h in diagram.history]

    act(factory, ctx, "group1", iid, "verify_item", PASS)  # now through the new 复核
    diagram = view(factory, ctx, iid)
    assert marked(diagram, "current") == {"rectify_items", "rectify_item", "recheck_item"}
    assert {"gw_item_verify", "flow_item_passed", "verify_item"} <= marked(diagram, "done")


PARALLEL_AND_TIMER = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="Defs_pv" targetNamespace="http://xuncha.local/bpmn">
  <bpmn:process id="parallel_view" name="并行与定时" isExecutable="true">
    <bpmn:laneSet id="LaneSet_1">
      <bpmn:lane id="Lane_1" name="office">
        <bpmn:flowNodeRef>start</bpmn:flowNodeRef><bpmn:flowNodeRef>split</bpmn:flowNodeRef>
        <bpmn:flowNodeRef>task_a</bpmn:flowNodeRef><bpmn:flowNodeRef>task_b</bpmn:flowNodeRef>
        <bpmn:flowNodeRef>join</bpmn:flowNodeRef><bpmn:flowNodeRef>wait</bpmn:flowNodeRef>
        <bpmn:flowNodeRef>task_c</bpmn:flowNodeRef><bpmn:flowNodeRef>end</bpmn:flowNodeRef>
      </bpmn:lane>
    </bpmn:laneSet>
    <bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:parallelGateway id="split">
      <bpmn:incoming>f1</bpmn:incoming>
      <bpmn:outgoing>f2</bpmn:outgoing>
      <bpmn:outgoing>f3</bpmn:outgoing>
    </bpmn:parallelGateway>
    <bpmn:userTask id="task_a" name="甲">
      <bpmn:incoming>f2</bpmn:incoming>
      <bpmn:outgoing>f4</bpmn:outgoing>
    </bpmn:userTask>
    <bpmn:userTask id="task_b" name="乙">
      <bpmn:incoming>f3</bpmn:incoming>
      <bpmn:outgoing>f5</bpmn:outgoing>
    </bpmn:userTask>
    <bpmn:parallelGateway id="join">
      <bpmn:incoming>f4</bpmn:incoming>
      <bpmn:incoming>f5</bpmn:incoming>
      <bpmn:outgoing>f6</bpmn:outgoing>
    </bpmn:parallelGateway>
    <bpmn:intermediateCatchEvent id="wait" name="等一天">
      <bpmn:incoming>f6</bpmn:incoming><bpmn:outgoing>f7</bpmn:outgoing>
      <bpmn:timerEventDefinition id="wait_timer">
        <bpmn:timeDuration>"P1D"</bpmn:timeDuration>
      </bpmn:timerEventDefinition>
    </bpmn:intermediateCatchEvent>
    <bpmn:userTask id="task_c" name="丙">
      <bpmn:incoming>f7</bpmn:incoming>
      <bpmn:outgoing>f8</bpmn:outgoing>
    </bpmn:userTask>
    <bpmn:endEvent id="end"><bpmn:incoming>f8</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="split" />
    <bpmn:sequenceFlow id="f2" sourceRef="split" targetRef="task_a" />
    <bpmn:sequenceFlow id="f3" sourceRef="split" targetRef="task_b" />
    <bpmn:sequenceFlow id="f4" sourceRef="task_a" targetRef="join" />
    <bpmn:sequenceFlow id="f5" sourceRef="task_b" targetRef="join" />
    <bpmn:sequenceFlow id="f6" sourceRef="join" targetRef="wait" />
    <bpmn:sequenceFlow id="f7" sourceRef="wait" targetRef="task_c" />
    <bpmn:sequenceFlow id="f8" sourceRef="task_c" targetRef="end" />
  </bpmn:process>
</bpmn:definitions>
""".encode()


def test_parallel_branches_a_join_and_an_intermediate_timer_are_marked_as_they_are_passed(factory, ctx, demo, clock):
    office = demo.actor("office1")
    with transaction(factory) as session:
        definitions.deploy(session, PARALLEL_AND_TIMER, demo.actor("designer1"), ctx.forms, at=clock.now())
    with transaction(factory) as session:
        iid = runtime.start_instance(session, ctx, office, "parallel_view", {}, scope_path=office.roles[0].org_path).id
    diagram = view(factory, ctx, iid)
    assert marked(diagram, "done") == {"start", "f1", "split", "f2", "f3"}
    assert marked(diagram, "current") == {"task_a", "task_b"}

    act(factory, ctx, office, iid, "task_a", {})  # its flow reached the join, which waits for the other branch
    diagram = view(factory, ctx, iid)
    assert marked(diagram, "done") == {"start", "f1", "split", "f2", "f3", "task_a", "f4"}
    assert marked(diagram, "current") == {"task_b"}

    act(factory, ctx, office, iid, "task_b", {})  # through the join to the timer, which waits
    diagram = view(factory, ctx, iid)
    assert marked(diagram, "done") == {"start", "f1", "split", "f2", "f3", "task_a", "f4", "task_b", "f5", "join",
                                       "f6"}
    assert marked(diagram, "waiting") == {"wait"} and marked(diagram, "current") == set()
    assert [(t.element_id, t.grade, t.attached_to) for t in diagram.timers] == [("wait", None, None)]

    clock.advance(timedelta(days=2))
    sweep(factory, ctx)
    diagram = view(factory, ctx, iid)
    assert {"wait", "f7"} <= marked(diagram, "done") and marked(diagram, "current") == {"task_c"}

    act(factory, ctx, office, iid, "task_c", {})
    diagram = view(factory, ctx, iid)
    assert set(diagram.marks) == {"start", "f1", "split", "f2", "f3", "task_a", "f4", "task_b", "f5", "join", "f6",
                                  "wait", "f7", "task_c", "f8", "end"}
    assert marked(diagram, "done") == set(diagram.marks)
