"""Comparing two diagrams: real variations of the shipped rectification process, element by element."""

from __future__ import annotations

from pathlib import Path

import pytest
from lxml import etree

from engine.diagram_diff import diff_diagrams
from engine.errors import InvalidInput

RECTIFICATION = (Path(__file__).resolve().parents[2] / "workflows" / "rectification.bpmn").read_text("utf-8")


def edit(xml: str, *replacements: tuple[str, str]) -> str:
    """Apply text replacements, each of which must match exactly once (so the test edits what it says)."""
    for old, new in replacements:
        assert xml.count(old) == 1, old
        xml = xml.replace(old, new)
    return xml


RECHECK = (
    ('<bpmn:flowNodeRef>strike_off_item</bpmn:flowNodeRef>',
     '<bpmn:flowNodeRef>recheck_item</bpmn:flowNodeRef>\n        <bpmn:flowNodeRef>strike_off_item</bpmn:flowNodeRef>'),
    ('sourceRef="gw_item_verify" targetRef="strike_off_item"', 'sourceRef="gw_item_verify" targetRef="recheck_item"'),
    ('<bpmn:incoming>flow_item_passed</bpmn:incoming>', '<bpmn:incoming>flow_recheck_strike</bpmn:incoming>'),
    ('      <bpmn:scriptTask id="record_item_result"',
     '      <bpmn:userTask id="recheck_item" name="复核">\n'
     '        <bpmn:extensionElements><spiffworkflow:properties>\n'
     '          <spiffworkflow:property name="formJsonSchemaFilename" value="rect_strike_off_item.schema.json" />\n'
     '          <spiffworkflow:property name="dueWorkingDays" value="3" />\n'
     '        </spiffworkflow:properties></bpmn:extensionElements>\n'
     '        <bpmn:incoming>flow_item_passed</bpmn:incoming><bpmn:outgoing>flow_recheck_strike</bpmn:outgoing>\n'
     '      </bpmn:userTask>\n'
     '      <bpmn:sequenceFlow id="flow_recheck_strike" sourceRef="recheck_item" targetRef="strike_off_item" />\n'
     '      <bpmn:scriptTask id="record_item_result"'),
    ('      <bpmndi:BPMNShape id="strike_off_item_di"',
     '      <bpmndi:BPMNShape id="recheck_item_di" bpmnElement="recheck_item">\n'
     '        <dc:Bounds x="1100" y="240" width="100" height="80" />\n      </bpmndi:BPMNShape>\n'
     '      <bpmndi:BPMNShape id="strike_off_item_di"'),
)


def test_identical_diagrams_do_not_differ() -> None:
    result = diff_diagrams(RECTIFICATION, RECTIFICATION)
    assert result.empty
    assert result.summary_zh == "两个版本的流程图没有差别。"
    assert result.summary_en == "The two diagrams do not differ."


def test_reformatted_xml_with_other_attribute_order_does_not_differ() -> None:
    root = etree.fromstring(RECTIFICATION.encode())
    for element in root.iter():
        if isinstance(element.tag, str) and len(element.attrib) > 1:
            items = list(element.attrib.items())
            element.attrib.clear()
            for key, value in reversed(items):
                element.set(key, value)
    compact = etree.tostring(root, encoding="unicode")
    assert compact != RECTIFICATION
    assert diff_diagrams(RECTIFICATION, compact).empty


def test_a_task_added_before_strike_off_is_added_and_its_neighbours_changed() -> None:
    result = diff_diagrams(RECTIFICATION, edit(RECTIFICATION, *RECHECK))
    assert [(e.element_id, e.element_type, e.name) for e in result.added] == [
        ("recheck_item", "userTask", "复核"), ("flow_recheck_strike", "sequenceFlow", "")]
    assert result.removed == []
    changed = {e.element_id: {c.field: (c.before, c.after) for c in e.changes} for e in result.changed}
    assert changed == {
        "strike_off_item": {"incoming": (["flow_item_passed"], ["flow_recheck_strike"])},
        "flow_item_passed": {"attr:targetRef": ("strike_off_item", "recheck_item")},
    }
    assert "新增 用户任务 复核(recheck_item)" in result.summary_zh.splitlines()
    assert "Added user task 复核 (recheck_item)" in result.summary_en.splitlines()
    assert "修改 顺序流 通过(flow_item_passed)：终点 “strike_off_item”→“recheck_item”" in result.summary_zh
    assert result.marks_after() == {"recheck_item": "added", "flow_recheck_strike": "added",
                                    "strike_off_item": "changed", "flow_item_passed": "changed"}
    assert result.marks_before() == {"strike_off_item": "changed", "flow_item_passed": "changed"}


def test_the_reverse_comparison_reports_the_task_as_removed() -> None:
    result = diff_diagrams(edit(RECTIFICATION, *RECHECK), RECTIFICATION)
    assert [e.element_id for e in result.removed] == ["recheck_item", "flow_recheck_strike"]
    assert result.added == []
    assert result.marks_before()["recheck_item"] == "removed"
    assert "删除 用户任务 复核(recheck_item)" in result.summary_zh


def test_removing_a_boundary_timer_removes_its_path_and_leaves_the_task_alone() -> None:
    start = RECTIFICATION.index('    <bpmn:boundaryEvent id="warn_plan"')
    end = RECTIFICATION.index('    <bpmn:boundaryEvent id="supervise_plan_timer"')
    after = RECTIFICATION[:start] + RECTIFICATION[end:]
    flow = '    <bpmn:sequenceFlow id="flow_warn_plan_end" sourceRef="warn_plan" targetRef="end_warn_plan" />\n'
    after = edit(after, (flow, ""))
    result = diff_diagrams(RECTIFICATION, after)
    assert sorted(e.element_id for e in result.removed) == ["end_warn_plan", "flow_warn_plan_end", "warn_plan"]
    assert [e.element_id for e in result.changed] == []


def test_spiffworkflow_properties_are_compared_one_by_one() -> None:
    after = edit(
        RECTIFICATION,
        ('value="plan_decision=退回修改"', 'value="plan_decision=不通过"'),
        ('name="escalation" value="督办"', 'name="escalation" value="通报"'),
        ('name="notify" value="holder,unit_leader"', 'name="notify" value="holder"'),
        ('value="rect_report.schema.json"', 'value="rect_report_v2.schema.json"'),
        ('value="44"', 'value="30"'),
    )
    changed = {e.element_id: {c.field: (c.before, c.after) for c in e.changes} for e in diff_diagrams(
        RECTIFICATION, after).changed}
    assert changed == {
        "review_plan": {"property:returnWith": ("plan_decision=退回修改", "plan_decision=不通过")},
        "supervise_plan_timer": {"property:escalation": ("督办", "通报")},
        "warn_plan": {"property:notify": ("holder,unit_leader", "holder")},
        "rectification_report": {"property:formJsonSchemaFilename": ("rect_report.schema.json",
                                                                     "rect_report_v2.schema.json"),
                                 "property:dueWorkingDays": ("44", "30")},
    }
    summary = diff_diagrams(RECTIFICATION, after).summary_zh
    assert ("修改 用户任务 整改报告(rectification_report)：表单 “rect_report.schema.json”→"
            "“rect_report_v2.schema.json”；期限（工作日） “44”→“30”") in summary
    assert "督办等级 “督办”→“通报”" in summary


def test_conditions_timers_scripts_and_default_flows_are_compared() -> None:
    after = edit(
        RECTIFICATION,
        ('plan_decision == "通过"', 'plan_decision in ("通过", "同意")'),
        ('deadline_in(27)', 'deadline_in(30)'),
        ('"strike_off_date": strike_off_date}', '"strike_off_date": strike_off_date, "checked": True}'),
        ('name="方案通过？" default="flow_plan_back"', 'name="方案通过？" default="flow_plan_approved"'),
    )
    changed = {e.element_id: {c.field for c in e.changes} for e in diff_diagrams(RECTIFICATION, after).changed}
    assert changed == {"flow_plan_approved": {"condition"}, "report_plan_timer": {"timer"},
                       "record_item_result": {"script"}, "gw_plan": {"attr:default"}}
    summary = diff_diagrams(RECTIFICATION, after).summary_en
    assert ("Changed exclusive gateway 方案通过？ (gw_plan): default flow 'flow_plan_back' → "
            "'flow_plan_approved'") in summary
    assert "timer 'timeDate: deadline_in(27)' → 'timeDate: deadline_in(30)'" in summary


def test_moving_a_task_to_another_lane_changes_its_lane() -> None:
    after = edit(RECTIFICATION,
                 ('        <bpmn:flowNodeRef>review_plan</bpmn:flowNodeRef>\n', ''),
                 ('<bpmn:flowNodeRef>verify_item</bpmn:flowNodeRef>',
                  '<bpmn:flowNodeRef>verify_item</bpmn:flowNodeRef>\n'
                  '        <bpmn:flowNodeRef>review_plan</bpmn:flowNodeRef>'))
    result = diff_diagrams(RECTIFICATION, after)
    assert [(e.element_id, [(c.field, c.before, c.after) for c in e.changes]) for e in result.changed] == [
        ("review_plan", [("lane", "office", "inspection_group")])]
    assert "泳道 “office”→“inspection_group”" in result.summary_zh


def test_a_changed_element_type_and_name_are_reported() -> None:
    after = edit(RECTIFICATION,
                 ('<bpmn:userTask id="close_out" name="归档">', '<bpmn:manualTask id="close_out" name="立卷归档">'),
                 ('<bpmn:outgoing>flow_close_end</bpmn:outgoing>\n    </bpmn:userTask>',
                  '<bpmn:outgoing>flow_close_end</bpmn:outgoing>\n    </bpmn:manualTask>'))
    (element,) = diff_diagrams(RECTIFICATION, after).changed
    assert [(c.field, c.before, c.after) for c in element.changes] == [
        ("type", "userTask", "manualTask"), ("name", "归档", "立卷归档")]
    assert "类型 “userTask”→“manualTask”；名称 “归档”→“立卷归档”" in diff_diagrams(RECTIFICATION, after).summary_zh


def test_geometry_only_changes_are_listed_as_moved_but_not_coloured() -> None:
    after = edit(RECTIFICATION, ('<dc:Bounds x="260" y="620"', '<dc:Bounds x="280" y="630"'),
                 ('<di:waypoint x="1150" y="395" />', '<di:waypoint x="1150" y="400" />'))
    result = diff_diagrams(RECTIFICATION, after)
    assert [e.element_id for e in result.moved] == ["receive_feedback", "flow_item_passed"]
    assert (result.added, result.removed, result.changed) == ([], [], [])
    assert result.marks_before() == result.marks_after() == {}
    assert "仅移动位置 用户任务 反馈(receive_feedback)" in result.summary_zh


def test_as_dict_gives_the_api_shape() -> None:
    body = diff_diagrams(RECTIFICATION, edit(RECTIFICATION, *RECHECK)).as_dict()
    assert set(body) == {"added", "removed", "changed", "moved", "summary_zh", "summary_en"}
    assert body["added"][0] == {"id": "recheck_item", "type": "userTask", "name": "复核", "changes": []}
    assert body["changed"][0]["changes"][0] == {"field": "incoming", "label_zh": "流入", "label_en": "incoming flows",
                                                "before": ["flow_item_passed"], "after": ["flow_recheck_strike"]}


def test_malformed_xml_is_invalid_input() -> None:
    with pytest.raises(InvalidInput):
        diff_diagrams(RECTIFICATION, "<bpmn:definitions><unclosed>")


def test_external_entities_are_never_read(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET")
    doctype = f'<!DOCTYPE d [<!ENTITY x SYSTEM "file://{secret}">]>'
    prolog = '<?xml version="1.0" encoding="UTF-8"?>'
    hostile = edit(RECTIFICATION, (prolog, f"{prolog}\n{doctype}"),
                   ('<bpmn:documentation>巡察办</bpmn:documentation>', '<bpmn:documentation>&x;</bpmn:documentation>'))
    result = diff_diagrams(RECTIFICATION, hostile)
    assert [e.element_id for e in result.changed] == ["Lane_rc_office"]
    assert "TOP-SECRET" not in result.summary_zh + result.summary_en


def test_attributes_of_other_modellers_are_named_with_their_prefix() -> None:
    camunda = ('xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core"',
               'xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core" '
               'xmlns:camunda="http://camunda.org/schema/1.0/bpmn"')
    before = edit(RECTIFICATION, camunda, ('<bpmn:userTask id="close_out" name="归档">',
                                           '<bpmn:userTask id="close_out" name="归档" camunda:formKey="a">'))
    after = before.replace('camunda:formKey="a"', 'camunda:formKey="b"')
    (element,) = diff_diagrams(before, after).changed
    assert [(c.field, c.before, c.after, c.label_zh) for c in element.changes] == [
        ("attr:camunda:formKey", "a", "b", "属性 camunda:formKey")]
