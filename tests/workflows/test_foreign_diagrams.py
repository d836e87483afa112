"""Diagrams drawn the way other tools save them (bpmn.io's demo, Camunda Modeler 5, SpiffWorkflow's
examples) deploy through engine.definitions.deploy and run to their end through the real runtime;
diagrams using what we cannot run are refused with the exact list of problems, and never stored.
The third-party corpus (read in place, never copied) either deploys or is refused naming elements."""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from engine import runtime, timers
from engine.db import transaction
from engine.definitions import deploy
from engine.errors import DefinitionInvalid
from models import AuditEvent, InstanceStatus, ProcessDefinition, TimerStatus
from tests.helpers import act, instance, ready_tasks, timers_of

FOREIGN = Path(__file__).resolve().parent / "foreign"
CORPUS = Path(os.environ.get("XUNCHA_BPMN_CORPUS") or Path(__file__).resolve().parents[3] / "shared/corpus/bpmn")


def _deploy(factory, ctx, name: str):  # type: ignore[no-untyped-def]
    with transaction(factory) as session:
        return deploy(session, (FOREIGN / name).read_bytes(), None, ctx.forms, at=ctx.clock.now())


def _start(factory, ctx, demo, key: str, data: dict[str, Any], **bindings: str) -> int:  # type: ignore[no-untyped-def]
    with transaction(factory) as session:
        return runtime.start_instance(session, ctx, demo.actor("office1"), key, data,
                                      scope_path=demo.orgs["CITY"].path,
                                      bindings={group: demo.orgs[org].path for group, org in bindings.items()}).id


def _ready(factory, iid: int) -> list[str]:  # type: ignore[no-untyped-def]
    return sorted(t.bpmn_id for t in ready_tasks(factory, iid))


def _warned(result) -> dict[str | None, list[str]]:  # type: ignore[no-untyped-def]
    found: dict[str | None, list[str]] = {}
    for warning in result.warnings:
        assert warning.severity == "warning"
        found.setdefault(warning.element_id, []).append(warning.message_en)
    return found


# -- diagrams from other tools deploy and run ------------------------------------------------------------------


def test_bpmn_io_demo_diagram_runs_through_lanes_gateways_and_an_intermediate_timer(factory, ctx, clock, demo):
    result = _deploy(factory, ctx, "bpmnjs_demo.bpmn")
    assert result.created and result.definition.key == "Process_0k4n8xq"
    assert set(_warned(result)) == {"Activity_0abc123", "Activity_1u2n3t4", "Activity_1m2n3b4", "Activity_0r5v6w7"}
    iid = _start(factory, ctx, demo, "Process_0k4n8xq", {"needs_rectification": True}, unit="U-EDU")
    act(factory, ctx, "office1", iid, "Activity_0abc123", {"comment": "问题已登记"})
    assert _ready(factory, iid) == ["Activity_1m2n3b4", "Activity_1u2n3t4"]  # the parallel split
    unit_task = ready_tasks(factory, iid, "Activity_1u2n3t4")[0]
    assert (unit_task.candidate_group, unit_task.candidate_org_path) == ("unit", demo.orgs["U-EDU"].path)
    act(factory, ctx, "unit1", iid, "Activity_1u2n3t4", {"comment": "方案已制定"})
    act(factory, ctx, "office1", iid, "Activity_1m2n3b4", {"comment": "督查已准备"})
    assert _ready(factory, iid) == []  # waiting an hour on the intermediate timer
    (timer,) = timers_of(factory, iid)
    assert timer.bpmn_id == "Event_1t7i8m9" and timers.sweep(factory, ctx).fired == 0
    clock.advance(timedelta(hours=1, minutes=1))
    assert timers.sweep(factory, ctx).fired == 1
    act(factory, ctx, "office1", iid, "Activity_0r5v6w7", {"comment": "复核通过"})
    assert instance(factory, iid).status == InstanceStatus.COMPLETED


def test_bpmn_io_demo_diagram_takes_the_default_flow_when_no_rectification_is_needed(factory, ctx, demo):
    _deploy(factory, ctx, "bpmnjs_demo.bpmn")
    iid = _start(factory, ctx, demo, "Process_0k4n8xq", {"needs_rectification": False})
    act(factory, ctx, "office1", iid, "Activity_0abc123", {"comment": "无需整改"})
    assert instance(factory, iid).status == InstanceStatus.COMPLETED


def test_camunda_modeler_diagram_deploys_with_warnings_naming_the_camunda_settings_it_ignores(factory, ctx, demo):
    warned = _warned(_deploy(factory, ctx, "camunda_modeler.bpmn"))
    assert "camunda:assignee" in warned["Task_assign"][0] and "camunda:taskListener" in warned["Task_assign"][0]
    assert "camunda:candidateGroups" in warned["Task_report"][0] and "lane" in warned["Task_report"][0]
    assert "camunda:formKey" in warned["StartEvent_1"][0]
    assert not any("historyTimeToLive" in m for messages in warned.values() for m in messages)


def test_camunda_modeler_diagram_runs_its_embedded_sub_process_in_the_unit_lane(factory, ctx, clock, demo):
    _deploy(factory, ctx, "camunda_modeler.bpmn")
    iid = _start(factory, ctx, demo, "rectification_followup", {"needs_review": True}, unit="U-EDU")
    act(factory, ctx, "office1", iid, "Task_assign", {"comment": "请于三日内整改"})
    (report,) = ready_tasks(factory, iid)
    assert (report.bpmn_id, report.candidate_group) == ("Task_report", "unit")  # the sub-process's lane
    act(factory, ctx, "unit1", iid, "Task_report", {"comment": "已整改"})
    act(factory, ctx, "office1", iid, "Task_review", {"comment": "审核通过"})
    assert instance(factory, iid).status == InstanceStatus.COMPLETED
    (timer,) = timers_of(factory, iid)
    assert timer.status == TimerStatus.CANCELLED  # the review was done before its boundary timer fired


def test_camunda_modeler_diagram_boundary_timer_interrupts_a_late_review(factory, ctx, clock, demo):
    _deploy(factory, ctx, "camunda_modeler.bpmn")
    iid = _start(factory, ctx, demo, "rectification_followup", {"needs_review": True}, unit="U-EDU")
    act(factory, ctx, "office1", iid, "Task_assign", {})
    act(factory, ctx, "unit1", iid, "Task_report", {"comment": "已整改"})
    clock.advance(timedelta(days=2))
    assert timers.sweep(factory, ctx).fired == 0
    clock.advance(timedelta(days=1, hours=1))
    assert timers.sweep(factory, ctx).fired == 1
    assert _ready(factory, iid) == ["Task_supervise"]
    with factory() as session:
        review = session.execute(select(AuditEvent).where(AuditEvent.instance_id == iid,
                                                          AuditEvent.event_type == "task_cancelled")).scalar_one()
    assert '"Task_review"' in review.payload
    act(factory, ctx, "office1", iid, "Task_supervise", {"comment": "已督办"})
    assert instance(factory, iid).status == InstanceStatus.COMPLETED


def test_camunda_modeler_diagram_skips_the_review_on_the_other_condition(factory, ctx, demo):
    _deploy(factory, ctx, "camunda_modeler.bpmn")
    iid = _start(factory, ctx, demo, "rectification_followup", {"needs_review": False}, unit="U-EDU")
    act(factory, ctx, "office1", iid, "Task_assign", {})
    act(factory, ctx, "unit1", iid, "Task_report", {})
    assert instance(factory, iid).status == InstanceStatus.COMPLETED


def test_spiffworkflow_example_runs_its_call_activity_script_and_form_loop(factory, ctx, demo):
    result = _deploy(factory, ctx, "spiff_example.bpmn")
    assert result.definition.key == "clue_check"  # the called process is not the main one
    assert set(_warned(result)) == {"Activity_draft"}  # the only task without a form
    iid = _start(factory, ctx, demo, "clue_check", {"review_round": 0}, inspection_group="TEAM1")
    draft = ready_tasks(factory, iid, "Activity_draft")[0]
    assert draft.candidate_group == "inspection_group" and draft.due_at is not None  # dueWorkingDays
    act(factory, ctx, "group1", iid, "Activity_draft", {"comment": "初核意见：属实"})
    review = ready_tasks(factory, iid, "Activity_review")[0]
    assert (review.candidate_group, review.form_key) == ("office", "rect_review_plan.schema.json")
    act(factory, ctx, "office1", iid, "Activity_review", {"plan_decision": "退回修改",
                                                          "plan_review_opinion": "请补充证据"})
    act(factory, ctx, "group1", iid, "Activity_draft", {"comment": "已补充证据"})  # back by the default flow
    act(factory, ctx, "office1", iid, "Activity_review", {"plan_decision": "通过"})
    assert instance(factory, iid).status == InstanceStatus.COMPLETED
    with factory() as session:
        done = session.execute(select(func.count()).select_from(AuditEvent).where(
            AuditEvent.instance_id == iid, AuditEvent.event_type == "task_completed")).scalar_one()
    assert done == 4
    with transaction(factory) as session:
        workflow = runtime.restore(session, ctx, instance(factory, iid), to_step=False)
    data = workflow.get_tasks(spec_name="End")[0].data
    assert data["review_round"] == 2 and data["review_due"] == "2026-12-08"  # script, postScript


# -- diagrams we cannot run are refused, with every problem named ----------------------------------------------

REFUSED = {
    "refused_unsupported.bpmn": [
        ("DataStore_ledger", "Data stores are not supported"),
        ("Rule_score", "DMN"),
        ("Service_push", "service connector"),
        ("Catch_condition", "Conditional events are not supported"),
        ("AdHoc_collect", "Ad-hoc sub-processes are not supported"),
        ("Receive_receipt", "waits for message '整改回执'"),
        ("Catch_signal", "waits for signal '开始督查'"),
        ("Send_notice", "sends message '整改通知'"),
    ],
    "refused_unknown_lane.bpmn": [("Lane_finance", "Lane '财务科' matches no group. Known groups: ")],
    "refused_unreachable.bpmn": [("Task_orphan", "unreachable"), ("Task_after_orphan", "unreachable"),
                                 ("Sub_forgotten", "unreachable")],
    "refused_gateways.bpmn": [("Gateway_choice", "no default flow and flows Flow_no have no condition"),
                              ("Gateway_split", "conditions on flows Flow_a")],
    "refused_unsafe_code.bpmn": [("Gateway_route", '"__class__" is an invalid attribute name'),
                                 ("Script_prepare", "import statements are not allowed")],
    "refused_bad_timers.bpmn": [("Wait_unquoted", 'quote the ISO value, "PT5M"'),
                                ("Wait_duration_as_date", "not a valid date-time"),
                                ("Remind_cycle", "not a valid cycle")],
}


@pytest.mark.parametrize("name", sorted(REFUSED))
def test_diagram_we_cannot_run_is_refused_with_the_exact_problems_and_not_stored(factory, ctx, demo, session, name):
    before = session.execute(select(func.count()).select_from(ProcessDefinition)).scalar_one()
    with pytest.raises(DefinitionInvalid) as caught:
        _deploy(factory, ctx, name)
    session.rollback()
    assert session.execute(select(func.count()).select_from(ProcessDefinition)).scalar_one() == before
    errors = [p for p in caught.value.details["problems"] if p["severity"] == "error"]
    assert [p["element_id"] for p in errors] == [element for element, _ in REFUSED[name]]
    for problem, (_, words) in zip(errors, REFUSED[name], strict=True):
        assert words in problem["message_en"] and problem["message_zh"]


def test_timer_that_depends_on_case_data_is_only_a_warning(factory, ctx, demo, session):
    with pytest.raises(DefinitionInvalid) as caught:
        _deploy(factory, ctx, "refused_bad_timers.bpmn")
    (warning,) = [p for p in caught.value.details["problems"] if p["element_id"] == "Wait_case_data"]
    assert warning["severity"] == "warning" and "days_allowed" in warning["message_en"]


# -- the third-party corpus --------------------------------------------------------------------------------------


def _corpus_files() -> list[Path]:
    if not CORPUS.is_dir():
        return []
    return sorted(p for p in CORPUS.iterdir() if p.suffix in {".bpmn", ".dmn"})


@pytest.mark.skipif(not _corpus_files(), reason="third-party BPMN corpus not present (XUNCHA_BPMN_CORPUS)")
def test_every_corpus_file_deploys_or_is_refused_naming_elements(factory, ctx, demo, session):
    outcomes: dict[str, str] = {}
    for path in _corpus_files():
        try:
            with transaction(factory) as s:
                result = deploy(s, path.read_bytes(), None, ctx.forms, at=ctx.clock.now())
            outcomes[path.name] = "deployed"
            assert all(w.severity == "warning" for w in result.warnings)
        except DefinitionInvalid as exc:
            problems = exc.details["problems"]
            errors = [p for p in problems if p["severity"] == "error"]
            assert errors, path.name
            assert all(p["message_zh"] and p["message_en"] for p in problems), path.name
            if path.suffix == ".bpmn":  # a DMN file holds no process: nothing to name
                assert all(p["element_id"] for p in errors), (path.name, errors)
            outcomes[path.name] = "refused"
    assert "deployed" in outcomes.values() and "refused" in outcomes.values()
    assert outcomes.get("spiffcli__lanes.bpmn") == "refused"  # DMN business rule tasks, foreign lanes
    assert outcomes.get("bpmnjs__nested-subprocesses.bpmn") == "deployed"
