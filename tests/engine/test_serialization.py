"""The stored state carries no spec, is much smaller than SpiffWorkflow's default, and restores exactly."""

from __future__ import annotations

import json
from pathlib import Path

from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.util.task import TaskState

from engine import runtime
from engine.definitions import parse_definition
from engine.serialization import FULL_SERIALIZER, dump_state, load_state
from tests.helpers import act, instance, open_clue, open_rectification

WORKFLOWS = Path(__file__).resolve().parents[2] / "workflows"


def test_stored_state_has_no_spec_and_is_smaller_than_the_default(factory, ctx, demo):
    iid = open_rectification(factory, ctx, demo, problems=3)
    row = instance(factory, iid)
    stored = json.loads(row.state)
    assert "spec" not in stored and "subprocess_specs" not in stored
    with factory() as session:
        workflow = runtime.restore(session, ctx, row)
    assert dump_state(workflow) == row.state
    full = FULL_SERIALIZER.serialize_json(workflow)
    assert len(row.state) < len(full) / 2


def test_state_stays_the_same_size_however_long_a_case_loops(factory, ctx, demo):
    """Monthly progress reports repeat until a clue is finished: the stored state must not grow."""
    jw = demo.actor("jw1")
    iid = open_clue(factory, ctx, demo)
    act(factory, ctx, demo.actor("office1"), iid, "handover", {"handover_list": "清单"})
    act(factory, ctx, jw, iid, "acknowledge", {"ack_decision": "签收"})
    act(factory, ctx, jw, iid, "dispose", {"disposition_method": "初步核实", "disposition_opinion": "核实"})
    sizes = []
    for month in range(12):
        act(factory, ctx, jw, iid, "progress_report", {"progress_text": f"第{month}月", "handling_finished": False})
        sizes.append(len(instance(factory, iid).state))
    assert max(sizes[2:]) <= sizes[1] * 1.05
    act(factory, ctx, jw, iid, "progress_report", {"progress_text": "完成", "handling_finished": True})
    act(factory, ctx, jw, iid, "result_feedback", {"four_forms": "第一种形态", "result_summary": "谈话提醒"})
    with factory() as session:
        data = runtime.instance_data(session, ctx, instance(factory, iid))
    assert data["clue_number"] == "XS-T-001" and data["four_forms"] == "第一种形态"


def test_a_case_that_loops_hundreds_of_times_keeps_its_ready_task(ctx):
    """SpiffWorkflow stops walking a task tree 1,000 levels deep: an unpruned instance whose monthly
    report loops ~500 times silently loses its ready task. Pruned state never gets that deep."""
    xml = (WORKFLOWS / "clue_disposition.bpmn").read_bytes()
    parsed = parse_definition(xml, {k: k for k in ("office", "receiving_body", "leading_group")}, ctx.forms)
    workflow = BpmnWorkflow(parsed.spec, parsed.subprocess_specs, script_engine=runtime.SCRIPT_ENGINE)
    workflow.do_engine_steps()
    answers = [{"handover_list": "清单"}, {"ack_decision": "签收"},
               {"disposition_method": "初步核实", "disposition_opinion": "核实"}]
    answers += [{"progress_text": "月报", "handling_finished": False}] * 600
    for answer in answers:
        (task,) = workflow.get_tasks(state=TaskState.READY, manual=True)
        task.data.update(answer)
        task.run()
        workflow.do_engine_steps()
        workflow = load_state(dump_state(workflow), parsed.spec, parsed.subprocess_specs)
        workflow.script_engine = runtime.SCRIPT_ENGINE  # as engine.runtime.restore does
    assert [t.task_spec.bpmn_id for t in workflow.get_tasks(state=TaskState.READY, manual=True)] == ["progress_report"]
