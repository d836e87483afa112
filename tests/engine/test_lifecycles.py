"""Both shipped lifecycles, start to close-out through the engine, including every send-back loop,
with the ledgers (clue, rectification items) following each step."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from engine import audit
from engine.db import transaction
from engine.serialization import WORKFLOW_CACHE
from models import Clue, ClueStatus, InstanceStatus, ItemStatus, RectificationItem
from tests.helpers import PLAN_ROW, act, instance, open_clue, open_rectification, ready_tasks

HANDOVER = {"handover_list": "问题线索报告 1 份"}


@pytest.fixture(params=[True, False], ids=["live-cache", "deserialize"])
def workflow_cache(request, monkeypatch):  # type: ignore[no-untyped-def]
    """Run a lifecycle once reusing live workflow objects between steps and once deserializing
    every step, so both ways of restoring a workflow are exercised end to end."""
    WORKFLOW_CACHE.clear()
    monkeypatch.setattr(WORKFLOW_CACHE, "enabled", request.param)
    yield request.param
    WORKFLOW_CACHE.clear()


def _clue(session, instance_id):  # type: ignore[no-untyped-def]
    return session.execute(select(Clue).where(Clue.instance_id == instance_id)).scalar_one()


def test_clue_runs_to_closure_through_every_send_back_loop(factory, ctx, demo, session, workflow_cache):
    office, jw = demo.actor("office1"), demo.actor("jw1")
    iid = open_clue(factory, ctx, demo)
    act(factory, ctx, office, iid, "handover", HANDOVER)
    act(factory, ctx, jw, iid, "acknowledge", {"ack_decision": "退回", "return_reason": "材料不全"})
    assert _clue(session, iid).status == ClueStatus.RETURNED
    act(factory, ctx, office, iid, "handle_return", {"return_action": "重新移交"})
    act(factory, ctx, jw, iid, "acknowledge", {"ack_decision": "签收"})
    act(factory, ctx, jw, iid, "dispose", {"disposition_method": "初步核实", "disposition_opinion": "核实"})
    act(factory, ctx, jw, iid, "progress_report", {"progress_text": "调取资料", "handling_finished": False})
    act(factory, ctx, jw, iid, "progress_report", {"progress_text": "谈话完毕", "handling_finished": True})
    act(factory, ctx, jw, iid, "result_feedback", {"four_forms": "第二种形态", "result_summary": "给予警告处分",
                                                    "sanctions": ["党纪处分：警告"]})
    act(factory, ctx, office, iid, "verify_result", {"verify_decision": "退回补充", "verify_opinion": "补充处分决定"})
    act(factory, ctx, jw, iid, "result_feedback", {"four_forms": "第二种形态", "result_summary": "已附处分决定"})
    act(factory, ctx, office, iid, "verify_result", {"verify_decision": "销号"})

    session.rollback()
    clue = _clue(session, iid)
    assert clue.status == ClueStatus.CLOSED and clue.four_forms == "第二种形态"
    assert clue.disposition_method == "初步核实" and clue.closed_at is not None
    assert instance(factory, iid).status == InstanceStatus.COMPLETED
    assert ready_tasks(factory, iid) == []
    events = [e.event_type for e in audit.stream_events(session, iid)]
    assert events[0] == "instance_started" and events[-1] == "instance_completed"
    assert events.count("task_completed") == 11
    assert audit.verify(session).ok


def test_returned_clue_can_be_withdrawn(factory, ctx, demo, session):
    office, zzb = demo.actor("office1"), demo.actor("zzb1")
    iid = open_clue(factory, ctx, demo, receiving="ZZB")
    act(factory, ctx, office, iid, "handover", HANDOVER)
    act(factory, ctx, zzb, iid, "acknowledge", {"ack_decision": "退回", "return_reason": "不属于本机关管辖"})
    act(factory, ctx, office, iid, "handle_return", {"return_action": "撤销移交",
                                                     "return_handling_note": "改由审计部门处理"})
    assert _clue(session, iid).status == ClueStatus.WITHDRAWN
    assert instance(factory, iid).status == InstanceStatus.COMPLETED


def test_rectification_runs_to_close_out_with_plan_and_item_send_backs(factory, ctx, demo, session, workflow_cache):
    office, group, unit = demo.actor("office1"), demo.actor("group1"), demo.actor("unit1")
    iid = open_rectification(factory, ctx, demo, problems=2)
    items = session.execute(select(RectificationItem).where(RectificationItem.instance_id == iid)
                            .order_by(RectificationItem.id)).scalars().all()
    plan = {"plan_summary": "逐项整改", "pledge_signed": True, "pledge_signer": "书记",
            "plan_measures": [{"item_number": i.number, **PLAN_ROW} for i in items]}
    act(factory, ctx, unit, iid, "receive_feedback", {"feedback_received_on": "2026-11-20"})
    act(factory, ctx, unit, iid, "draft_plan", plan)
    act(factory, ctx, office, iid, "review_plan", {"plan_decision": "退回修改", "plan_review_opinion": "措施不具体"})
    act(factory, ctx, unit, iid, "draft_plan", plan)
    act(factory, ctx, office, iid, "review_plan", {"plan_decision": "通过"})
    session.rollback()
    assert {i.status for i in session.execute(select(RectificationItem).where(
        RectificationItem.instance_id == iid)).scalars()} == {ItemStatus.IN_PROGRESS}

    rectify = ready_tasks(factory, iid, "rectify_item")
    assert len(rectify) == 2 and all(t.candidate_group == "unit" for t in rectify)
    for _ in items:
        act(factory, ctx, unit, iid, "rectify_item", {"item_progress": "已整改", "item_completion": "已完成"})
    verify = ready_tasks(factory, iid, "verify_item")
    assert {t.candidate_group for t in verify} == {"inspection_group"}
    act(factory, ctx, group, iid, "verify_item", {"item_verify_decision": "驳回", "item_verify_opinion": "佐证不足"})
    session.rollback()
    assert sorted(i.status for i in session.execute(select(RectificationItem).where(
        RectificationItem.instance_id == iid)).scalars()) == [ItemStatus.REJECTED, ItemStatus.SUBMITTED]
    act(factory, ctx, group, iid, "verify_item", {"item_verify_decision": "通过"})
    act(factory, ctx, unit, iid, "rectify_item", {"item_progress": "补充佐证", "item_completion": "已完成"})
    act(factory, ctx, group, iid, "verify_item", {"item_verify_decision": "通过"})
    for _ in items:
        act(factory, ctx, office, iid, "strike_off_item", {"strike_off_date": "2026-12-01"})
    act(factory, ctx, unit, iid, "rectification_report", {"report_summary": "全部完成", "report_date": "2026-12-02"})
    act(factory, ctx, office, iid, "disclosure", {"publish": True, "public_text": "整改情况公开"})
    act(factory, ctx, office, iid, "close_out", {"archive_note": "立卷归档"})

    session.rollback()
    final = session.execute(select(RectificationItem).where(RectificationItem.instance_id == iid)).scalars().all()
    assert {i.status for i in final} == {ItemStatus.STRUCK_OFF}
    assert all(i.struck_off_by_id == demo.users["office1"].id for i in final)
    assert instance(factory, iid).status == InstanceStatus.COMPLETED
    with transaction(factory) as s:
        assert audit.verify(s).ok


def test_item_tasks_name_their_item_and_are_offered_to_the_units_liaison_only(factory, ctx, demo):
    unit = demo.actor("unit1")
    iid = open_rectification(factory, ctx, demo, problems=1)
    act(factory, ctx, unit, iid, "receive_feedback", {"feedback_received_on": "2026-11-20"})
    (task,) = ready_tasks(factory, iid, "draft_plan")
    assert task.candidate_org_id == demo.orgs["U-EDU"].id
    assert task.due_at is not None and task.due_at > ctx.clock.now()
