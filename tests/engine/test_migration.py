"""Moving running rectifications from v1 to a v2 that adds 复核 before 销号: dry run, bulk run, holders,
deadlines and timers kept, a v3 that removes a current task refused, one failure leaving its case untouched."""

from __future__ import annotations

import json
import threading
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from lxml import etree
from sqlalchemy import select

from engine import audit, migration, projection, runtime, suspension, timers
from engine.actors import load_actor
from engine.db import transaction
from engine.definitions import deploy
from engine.errors import InvalidInput, NotFound, NotPermitted
from models import (
    AuditEvent,
    HumanTask,
    InstanceStatus,
    MigrationRun,
    ProcessDefinition,
    ProcessInstance,
    TaskStatus,
    Timer,
    TimerStatus,
)
from tests.helpers import RECTIFIED, act, approve_plan, instance, open_rectification, ready_task, ready_tasks

SHIPPED = Path(__file__).resolve().parents[2] / "workflows" / "rectification.bpmn"
NS = {"bpmn": "http://www.omg.org/spec/BPMN/20100524/MODEL", "bpmndi": "http://www.omg.org/spec/BPMN/20100524/DI",
      "dc": "http://www.omg.org/spec/DD/20100524/DC", "di": "http://www.omg.org/spec/DD/20100524/DI"}


def _q(prefix: str, tag: str) -> str:
    return f"{{{NS[prefix]}}}{tag}"


def _one(root: Any, xpath: str) -> Any:
    found = root.xpath(xpath, namespaces=NS)
    assert len(found) == 1, xpath
    return found[0]


def recheck_bpmn() -> bytes:
    """The shipped rectification with a 复核 (``recheck_item``, office) between the verify gateway's 通过
    flow and ``strike_off_item`` in the per-item sub-process, drawn with its shape and edges."""
    root = etree.fromstring(SHIPPED.read_bytes())
    sub = _one(root, "//bpmn:subProcess[@id='rectify_items']")
    strike = _one(sub, "bpmn:userTask[@id='strike_off_item']")
    task = etree.Element(_q("bpmn", "userTask"), id="recheck_item", name="复核")
    etree.SubElement(task, _q("bpmn", "incoming")).text = "flow_item_passed"
    etree.SubElement(task, _q("bpmn", "outgoing")).text = "flow_item_recheck"
    strike.addprevious(task)
    _one(strike, "bpmn:incoming").text = "flow_item_recheck"
    _one(sub, "bpmn:sequenceFlow[@id='flow_item_passed']").set("targetRef", "recheck_item")
    flow = etree.SubElement(sub, _q("bpmn", "sequenceFlow"), id="flow_item_recheck", sourceRef="recheck_item",
                            targetRef="strike_off_item")
    _one(sub, "bpmn:sequenceFlow[@id='flow_item_record']").addprevious(flow)
    lane = _one(root, "//bpmn:lane[@id='Lane_rc_office']")
    etree.SubElement(lane, _q("bpmn", "flowNodeRef")).text = "recheck_item"
    plane = _one(root, "//bpmndi:BPMNPlane")
    shape = etree.SubElement(plane, _q("bpmndi", "BPMNShape"), id="recheck_item_di", bpmnElement="recheck_item")
    etree.SubElement(shape, _q("dc", "Bounds"), x="960", y="140", width="100", height="80")
    passed = _one(plane, "bpmndi:BPMNEdge[@bpmnElement='flow_item_passed']")
    for point in passed.findall(_q("di", "waypoint")):
        passed.remove(point)
    for x, y in ((1150, 395), (1150, 300), (1010, 300), (1010, 220)):
        passed.insert(0 if x == 1150 and y == 395 else len(passed.findall(_q("di", "waypoint"))),
                      etree.Element(_q("di", "waypoint"), x=str(x), y=str(y)))
    edge = etree.SubElement(plane, _q("bpmndi", "BPMNEdge"), id="flow_item_recheck_di", bpmnElement="flow_item_recheck")
    for x, y in ((1060, 180), (1100, 180)):
        etree.SubElement(edge, _q("di", "waypoint"), x=str(x), y=str(y))
    return bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8"))


def without_verify_bpmn() -> bytes:
    """v3: v2 without 核查 (``verify_item``) and its gateway — 整改 goes straight on to 复核."""
    root = etree.fromstring(recheck_bpmn())
    sub = _one(root, "//bpmn:subProcess[@id='rectify_items']")
    for element_id in ("verify_item", "gw_item_verify", "flow_item_verify_gw", "flow_item_rejected"):
        element = _one(sub, f"*[@id='{element_id}']")
        sub.remove(element)
    _one(sub, "bpmn:sequenceFlow[@id='flow_item_verify']").set("targetRef", "recheck_item")
    _one(sub, "bpmn:sequenceFlow[@id='flow_item_passed']").getparent().remove(
        _one(sub, "bpmn:sequenceFlow[@id='flow_item_passed']"))
    recheck = _one(sub, "bpmn:userTask[@id='recheck_item']")
    _one(recheck, "bpmn:incoming").text = "flow_item_verify"
    rectify = _one(sub, "bpmn:userTask[@id='rectify_item']")
    rectify.remove(_one(rectify, "bpmn:incoming[text()='flow_item_rejected']"))
    lanes = root.xpath("//bpmn:lane/bpmn:flowNodeRef[text()='verify_item' or text()='gw_item_verify']",
                       namespaces=NS)
    for ref in lanes:
        ref.getparent().remove(ref)
    plane = _one(root, "//bpmndi:BPMNPlane")
    for element_id in ("verify_item", "gw_item_verify", "flow_item_verify_gw", "flow_item_rejected",
                       "flow_item_passed"):
        plane.remove(_one(plane, f"*[@bpmnElement='{element_id}']"))
    return bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8"))


def deploy_xml(factory, ctx, xml: bytes) -> int:  # type: ignore[no-untyped-def]
    with transaction(factory) as s:
        return int(deploy(s, xml, load_actor(s, "designer1"), ctx.forms, at=ctx.clock.now()).definition.version)


def to_items(factory, ctx, demo, problems: int = 3) -> int:  # type: ignore[no-untyped-def]
    """A rectification whose plan was approved: every item waits at 整改."""
    iid = open_rectification(factory, ctx, demo, problems=problems)
    approve_plan(factory, ctx, iid)
    return iid
PASSED = {"item_verify_decision": "通过"}


def spread(factory, ctx, demo) -> dict[str, int]:  # type: ignore[no-untyped-def]
    """Cases at different places: at 整改方案 (claimed, its timers waiting), inside the items (one item each at
    整改, 核查 and 销号), and at 整改报告."""
    at_plan = open_rectification(factory, ctx, demo, problems=2)
    act(factory, ctx, "unit1", at_plan, "receive_feedback", {"feedback_received_on": "2026-11-25"})
    plan_task = ready_task(factory, at_plan, "draft_plan").id
    with transaction(factory) as s:
        runtime.claim_task(s, ctx, load_actor(s, "unit1"), plan_task)
    in_items = to_items(factory, ctx, demo, problems=3)
    act(factory, ctx, "unit1", in_items, "rectify_item", RECTIFIED)
    act(factory, ctx, "unit1", in_items, "rectify_item", RECTIFIED)
    act(factory, ctx, "group1", in_items, "verify_item", PASSED)  # item 1 now at 销号, item 2 at 核查, 3 at 整改
    at_report = to_items(factory, ctx, demo, problems=1)
    act(factory, ctx, "unit1", at_report, "rectify_item", RECTIFIED)
    act(factory, ctx, "group1", at_report, "verify_item", PASSED)
    act(factory, ctx, "office1", at_report, "strike_off_item", {"strike_off_date": "2026-12-01"})
    return {"at_plan": at_plan, "in_items": in_items, "at_report": at_report}


def run(factory, ctx, frm: int, to: int, *, dry_run: bool, user: str = "designer1") -> MigrationRun:  # type: ignore[no-untyped-def]
    with factory() as s:
        actor = load_actor(s, user)
    return migration.run_migration(factory, ctx, actor, "rectification", frm, to, dry_run=dry_run)


def entry(run_row: MigrationRun, instance_id: int) -> dict[str, Any]:
    return next(e for e in run_row.report if e["instance_id"] == instance_id)


def version_of(factory, instance_id: int) -> int:  # type: ignore[no-untyped-def]
    with factory() as s:
        return int(s.execute(select(ProcessDefinition.version).join(
            ProcessInstance, ProcessInstance.definition_id == ProcessDefinition.id)
            .where(ProcessInstance.id == instance_id)).scalar_one())


def _open(factory, instance_id: int) -> dict[str, HumanTask]:  # type: ignore[no-untyped-def]
    return {f"{t.bpmn_id}#{t.id}": t for t in ready_tasks(factory, instance_id)}


def _timers(factory, instance_id: int) -> list[tuple[int, str, Any]]:  # type: ignore[no-untyped-def]
    with factory() as s:
        return [(t.id, t.bpmn_id, t.due_at) for t in s.execute(select(Timer).where(
            Timer.instance_id == instance_id, Timer.status == TimerStatus.WAITING).order_by(Timer.id)).scalars()]


def test_the_recheck_diagram_deploys_as_v2_with_its_diagram_shapes(factory, ctx, demo):
    assert deploy_xml(factory, ctx, recheck_bpmn()) == 2
    root = etree.fromstring(recheck_bpmn())
    shapes = {el.get("bpmnElement") for el in root.iter(_q("bpmndi", "BPMNShape"), _q("bpmndi", "BPMNEdge"))}
    assert {"recheck_item", "flow_item_recheck", "flow_item_passed"} <= shapes


def test_dry_run_reports_every_case_movable_with_its_changed_ready_tasks_and_writes_no_case(factory, ctx, clock, demo):
    cases = spread(factory, ctx, demo)
    deploy_xml(factory, ctx, recheck_bpmn())
    before = {iid: (instance(factory, iid).version, instance(factory, iid).state) for iid in cases.values()}
    report = run(factory, ctx, 1, 2, dry_run=True)
    assert report.dry_run and report.status == "finished"
    assert (report.total, report.movable, report.moved, report.failed) == (3, 3, 0, 0)
    items = entry(report, cases["in_items"])
    assert items["movable"] and items["outcome"] == "dry_run"
    assert sorted(items["current"]) == ["rectify_item", "strike_off_item", "verify_item"]
    changed = {c["bpmn_id"] for c in items["changed"]}
    assert changed == {"strike_off_item"}  # its incoming flow now comes from 复核; 整改 and 核查 are as they were
    assert entry(report, cases["at_plan"])["changed"] == []
    after = {iid: (instance(factory, iid).version, instance(factory, iid).state) for iid in cases.values()}
    assert after == before
    assert all(version_of(factory, iid) == 1 for iid in cases.values())


def test_bulk_run_moves_cases_and_they_continue_on_v2_through_recheck(factory, ctx, clock, demo):
    cases = spread(factory, ctx, demo)
    deploy_xml(factory, ctx, recheck_bpmn())
    open_before = {iid: _open(factory, iid) for iid in cases.values()}
    clock.advance(timedelta(days=3))
    result = run(factory, ctx, 1, 2, dry_run=False)
    assert (result.total, result.moved, result.failed) == (3, 3, 0)
    assert all(e["outcome"] == "moved" for e in result.report)
    for iid in cases.values():
        row = instance(factory, iid)
        assert version_of(factory, iid) == 2 and row.status == InstanceStatus.RUNNING
        after = _open(factory, iid)
        assert set(after) == set(open_before[iid])  # the same rows: nothing cancelled, nothing new
        for name, task in after.items():
            old = open_before[iid][name]
            assert (task.assignee_id, task.claimed_at, task.due_at, task.revision) == (
                old.assignee_id, old.claimed_at, old.due_at, old.revision)
    in_items = cases["in_items"]
    act(factory, ctx, "group1", in_items, "verify_item", PASSED)  # item 2 passes verification on v2 …
    assert [t.bpmn_id for t in ready_tasks(factory, in_items, "recheck_item")] == ["recheck_item"]  # … into 复核
    act(factory, ctx, "office1", in_items, "strike_off_item", {"strike_off_date": "2026-12-01"})  # item 1 goes on
    act(factory, ctx, "office1", in_items, "recheck_item", {"comment": "复核无误"})
    assert len(ready_tasks(factory, in_items, "strike_off_item")) == 1
    act(factory, ctx, "unit1", in_items, "rectify_item", RECTIFIED)
    act(factory, ctx, "group1", in_items, "verify_item", PASSED)
    assert len(ready_tasks(factory, in_items, "recheck_item")) == 1
    act(factory, ctx, "unit1", cases["at_report"], "rectification_report",
        {"report_summary": "整改完成。", "report_date": "2026-12-10"})
    assert ready_tasks(factory, cases["at_report"], "disclosure")


def test_a_moved_case_keeps_its_waiting_timers_and_their_original_due_times(factory, ctx, clock, demo):
    cases = spread(factory, ctx, demo)
    at_plan = cases["at_plan"]
    timers_before = _timers(factory, at_plan)
    assert {b for _, b, _ in timers_before} == {"warn_plan", "supervise_plan_timer", "report_plan_timer"}
    deploy_xml(factory, ctx, recheck_bpmn())
    clock.advance(timedelta(days=5))  # a fresh deadline_in(22) would now be a week later
    run(factory, ctx, 1, 2, dry_run=False)
    assert _timers(factory, at_plan) == timers_before
    supervise = next(due for _, b, due in timers_before if b == "supervise_plan_timer")
    clock.set(supervise + timedelta(seconds=1))
    assert timers.sweep(factory, ctx).fired >= 1
    assert ready_tasks(factory, at_plan, "supervise_plan")  # 督办 arrives at the original deadline, on v2


def test_migration_is_audited_per_case_and_once_in_the_system_stream(factory, ctx, demo):
    cases = spread(factory, ctx, demo)
    deploy_xml(factory, ctx, recheck_bpmn())
    result = run(factory, ctx, 1, 2, dry_run=False)
    with factory() as s:
        moved = s.execute(select(AuditEvent).where(AuditEvent.stream == audit.case_stream(cases["in_items"]),
                                                   AuditEvent.event_type == "instance_migrated")).scalar_one()
        payload = json.loads(moved.payload)
        assert (payload["from_version"], payload["to_version"]) == (1, 2)
        assert payload["from_sha256"] != payload["to_sha256"] and len(payload["to_sha256"]) == 64
        assert "strike_off_item" in {c["bpmn_id"] for c in payload["changed_tasks"]}
        system = s.execute(select(AuditEvent).where(AuditEvent.stream == audit.SYSTEM_STREAM,
                                                    AuditEvent.event_type == "migration_run")).scalar_one()
        assert json.loads(system.payload)["moved"] == 3 and json.loads(system.payload)["run_id"] == result.id
        assert audit.verify(s).ok


def test_a_case_whose_current_task_was_removed_is_not_movable_with_the_reason(factory, ctx, demo):
    cases = spread(factory, ctx, demo)
    deploy_xml(factory, ctx, recheck_bpmn())
    assert deploy_xml(factory, ctx, without_verify_bpmn()) == 3
    report = run(factory, ctx, 1, 3, dry_run=True)
    refused = entry(report, cases["in_items"])
    assert not refused["movable"]
    assert "verify_item" in refused["reason_zh"] and "当前任务" in refused["reason_zh"]
    assert "its current task verify_item" in refused["reason_en"]
    assert entry(report, cases["at_plan"])["movable"]
    finished = entry(report, cases["at_report"])  # its finished items' 核查 is still in its state
    assert not finished["movable"] and "已办结的环节" in finished["reason_zh"]
    assert "finished step" in finished["reason_en"]
    result = run(factory, ctx, 1, 3, dry_run=False)
    assert entry(result, cases["in_items"])["outcome"] == "not_movable"
    assert version_of(factory, cases["in_items"]) == 1 and version_of(factory, cases["at_plan"]) == 3
    assert (result.moved, result.movable) == (1, 1)


def test_a_case_in_error_is_not_movable(factory, ctx, demo):
    iid = open_rectification(factory, ctx, demo, problems=1)
    with transaction(factory) as s:
        s.get(ProcessInstance, iid).last_error = "timer x: boom"
    deploy_xml(factory, ctx, recheck_bpmn())
    report = run(factory, ctx, 1, 2, dry_run=True)
    assert entry(report, iid)["movable"] is False and entry(report, iid)["reason_en"] == "the instance is in error"


def test_one_case_failing_mid_run_is_left_untouched_and_the_others_still_move(factory, ctx, demo, monkeypatch):
    cases = spread(factory, ctx, demo)
    deploy_xml(factory, ctx, recheck_bpmn())
    victim = cases["in_items"]
    before = instance(factory, victim)
    tasks_before = _open(factory, victim)
    real_sync = projection.sync

    def failing_sync(session, inst, *args, **kwargs):  # type: ignore[no-untyped-def]
        if inst.id == victim:
            raise RuntimeError("disk full")
        return real_sync(session, inst, *args, **kwargs)

    monkeypatch.setattr(projection, "sync", failing_sync)
    result = run(factory, ctx, 1, 2, dry_run=False)
    failed = entry(result, victim)
    assert failed["outcome"] == "failed" and "disk full" in failed["error"]
    assert (result.moved, result.failed) == (2, 1)
    after = instance(factory, victim)
    assert (after.definition_id, after.version, after.state, after.audit_seq) == (
        before.definition_id, before.version, before.state, before.audit_seq)
    assert set(_open(factory, victim)) == set(tasks_before)
    monkeypatch.setattr(projection, "sync", real_sync)
    again = run(factory, ctx, 1, 2, dry_run=False)  # a re-run moves what is left, and only that
    assert [(e["instance_id"], e["outcome"]) for e in again.report] == [(victim, "moved")]


def test_a_rerun_skips_cases_already_on_the_target_version(factory, ctx, demo):
    spread(factory, ctx, demo)
    deploy_xml(factory, ctx, recheck_bpmn())
    run(factory, ctx, 1, 2, dry_run=False)
    again = run(factory, ctx, 1, 2, dry_run=False)
    assert (again.total, again.moved) == (0, 0)


def test_a_case_moved_by_another_run_meanwhile_is_skipped_not_moved_twice(factory, ctx, demo):
    iid = to_items(factory, ctx, demo, problems=1)
    deploy_xml(factory, ctx, recheck_bpmn())
    source = instance(factory, iid).definition_id
    with factory() as s:
        designer = load_actor(s, "designer1")
    with transaction(factory) as s:
        first = migration.move_instance(s, ctx, designer, source, _v2_id(factory), iid)
    with transaction(factory) as s:  # a second supervisor's run, judged again under the lock
        second = migration.move_instance(s, ctx, designer, source, _v2_id(factory), iid)
    assert (first.outcome, second.outcome) == ("moved", "skipped")
    with factory() as s:
        assert len(s.execute(select(AuditEvent).where(AuditEvent.stream == audit.case_stream(iid),
                                                      AuditEvent.event_type == "instance_migrated")).all()) == 1


def _v2_id(factory) -> int:  # type: ignore[no-untyped-def]
    with factory() as s:
        return int(s.execute(select(ProcessDefinition.id).where(
            ProcessDefinition.key == "rectification", ProcessDefinition.version == 2)).scalar_one())


def test_a_suspended_case_moves_and_stays_suspended(factory, ctx, demo):
    iid = to_items(factory, ctx, demo, problems=1)
    with transaction(factory) as s:
        suspension.suspend(s, ctx, load_actor(s, "office1"), iid, "等待上级意见")
    deploy_xml(factory, ctx, recheck_bpmn())
    result = run(factory, ctx, 1, 2, dry_run=False)
    assert entry(result, iid)["outcome"] == "moved"
    row = instance(factory, iid)
    assert row.status == InstanceStatus.SUSPENDED and version_of(factory, iid) == 2


def test_only_supervisors_migrate_and_versions_must_exist_and_differ(factory, ctx, demo):
    deploy_xml(factory, ctx, recheck_bpmn())
    with pytest.raises(NotPermitted):
        run(factory, ctx, 1, 2, dry_run=True, user="office1")
    with pytest.raises(InvalidInput):
        run(factory, ctx, 2, 2, dry_run=True)
    with pytest.raises(NotFound):
        run(factory, ctx, 1, 9, dry_run=True)
    with factory() as s:
        assert s.execute(select(MigrationRun)).first() is None
    assert run(factory, ctx, 1, 2, dry_run=True).total == 0


def test_moved_cases_keep_their_task_rows_and_the_queue_sees_them(factory, ctx, demo):
    iid = to_items(factory, ctx, demo, problems=2)
    rows = {t.id for t in ready_tasks(factory, iid)}
    deploy_xml(factory, ctx, recheck_bpmn())
    run(factory, ctx, 1, 2, dry_run=False)
    with factory() as s:
        statuses = {t.id: t.status for t in s.execute(select(HumanTask).where(HumanTask.instance_id == iid)).scalars()}
    assert {i for i, st in statuses.items() if st == TaskStatus.READY} == rows


def test_two_supervisors_running_the_same_migration_at_once_move_each_case_once(factory, ctx, demo):
    ids = [to_items(factory, ctx, demo, problems=1) for _ in range(4)]
    deploy_xml(factory, ctx, recheck_bpmn())
    with factory() as s:
        designer = load_actor(s, "designer1")
    results: list[MigrationRun] = []
    errors: list[BaseException] = []

    def one_run() -> None:
        try:
            results.append(migration.run_migration(factory, ctx, designer, "rectification", 1, 2, dry_run=False))
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=one_run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert sum(r.moved for r in results) == len(ids) and sum(r.failed for r in results) == 0
    with factory() as s:
        events = s.execute(select(AuditEvent.instance_id).where(AuditEvent.event_type == "instance_migrated")).scalars()
        assert sorted(events) == sorted(ids)
    assert all(version_of(factory, iid) == 2 for iid in ids)


def test_a_timer_whose_event_the_new_version_changed_starts_over_and_the_others_keep_their_time(
        factory, ctx, clock, demo):
    cases = spread(factory, ctx, demo)
    at_plan = cases["at_plan"]
    before = {bpmn_id: (timer_id, due) for timer_id, bpmn_id, due in _timers(factory, at_plan)}
    deploy_xml(factory, ctx, recheck_bpmn().replace(b"deadline_in(22)", b"deadline_in(25)"))
    clock.advance(timedelta(days=5))
    result = run(factory, ctx, 1, 2, dry_run=False)
    assert entry(result, at_plan)["outcome"] == "moved"
    after = {bpmn_id: (timer_id, due) for timer_id, bpmn_id, due in _timers(factory, at_plan)}
    assert after["warn_plan"] == before["warn_plan"] and after["report_plan_timer"] == before["report_plan_timer"]
    timer_id, due = after["supervise_plan_timer"]
    assert timer_id != before["supervise_plan_timer"][0] and due > before["supervise_plan_timer"][1]
    assert due > clock.now() + timedelta(days=25)  # 25 working days from the migration, not from 整改方案's start
    with factory() as s:
        old = s.get(Timer, before["supervise_plan_timer"][0])
        assert old is not None and old.status == TimerStatus.CANCELLED


def without_items_bpmn() -> bytes:
    """v2': the shipped rectification without its per-item sub-process — an approved plan goes straight to 整改报告."""
    root = etree.fromstring(SHIPPED.read_bytes())
    process = _one(root, "//bpmn:process[@id='rectification']")
    sub = _one(process, "bpmn:subProcess[@id='rectify_items']")
    inner = {el.get("id") for el in sub.iter() if el.get("id")}
    process.remove(sub)
    process.remove(_one(process, "bpmn:sequenceFlow[@id='flow_items_report']"))
    _one(process, "bpmn:sequenceFlow[@id='flow_plan_approved']").set("targetRef", "rectification_report")
    _one(process, "bpmn:userTask[@id='rectification_report']/bpmn:incoming").text = "flow_plan_approved"
    for ref in root.xpath("//bpmn:lane/bpmn:flowNodeRef", namespaces=NS):
        if ref.text in inner:
            ref.getparent().remove(ref)
    plane = _one(root, "//bpmndi:BPMNPlane")
    for shape in list(plane):
        if shape.get("bpmnElement") in inner | {"flow_items_report"}:
            plane.remove(shape)
    return bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8"))


def test_a_case_inside_a_removed_sub_process_is_not_movable_and_one_before_it_is(factory, ctx, demo):
    cases = spread(factory, ctx, demo)
    deploy_xml(factory, ctx, without_items_bpmn())
    report = run(factory, ctx, 1, 2, dry_run=True)
    refused = entry(report, cases["in_items"])
    assert not refused["movable"] and "rectify_items" in refused["reason_zh"]
    assert "rectify_items" in refused["reason_en"] and "no longer exists" in refused["reason_en"]
    assert entry(report, cases["at_plan"])["movable"]
