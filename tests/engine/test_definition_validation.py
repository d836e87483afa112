"""Each deploy check, from both sides: what it refuses (naming the element) and what it lets through.

These call ``parse_definition`` directly (no database): deploy runs exactly it before storing, and
tests/workflows/test_foreign_diagrams.py shows refused diagrams are never stored, on both databases.
"""

from __future__ import annotations

import re
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest
from lxml import etree

from engine import sandbox
from engine.definitions import parse_definition
from engine.errors import DefinitionInvalid
from engine.forms import FormStore

FORMS = FormStore(Path(__file__).resolve().parents[2] / "workflows" / "forms")
GROUPS = {"office": "office", "巡察办": "office", "unit": "unit", "被巡察单位": "unit"}
NODE = re.compile(r'<bpmn:(?!sequenceFlow|process|lane|laneSet|message|signal|error|escalation)\w+ id="([^"]+)"')


def diagram(body: str, *, outside: tuple[str, ...] = (), head: str = "", attrs: str = "", more: str = "") -> bytes:
    """One executable process holding ``body``; every node in it sits in the lane ``office`` except
    those named in ``outside``."""
    refs = "".join(f"<bpmn:flowNodeRef>{n}</bpmn:flowNodeRef>" for n in NODE.findall(body) if n not in outside)
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:camunda="http://camunda.org/schema/1.0/bpmn" xmlns:zeebe="http://camunda.org/schema/zeebe/1.0"
    xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core" id="defs" targetNamespace="x">{head}
  <bpmn:process id="checked" name="检查" isExecutable="true"{attrs}>
    <bpmn:laneSet id="ls"><bpmn:lane id="Lane_office" name="office">{refs}</bpmn:lane></bpmn:laneSet>
    {body}
  </bpmn:process>{more}
</bpmn:definitions>""".encode()


def line(*nodes: str) -> str:
    """start → nodes… → end, joined by flows f0, f1 …"""
    ids = ["s", *nodes, "e"]
    flows = "".join(f'<bpmn:sequenceFlow id="f{i}" sourceRef="{a}" targetRef="{b}"/>'
                    for i, (a, b) in enumerate(pairwise(ids)))
    return f'<bpmn:startEvent id="s"/><bpmn:endEvent id="e"/>{flows}'


def task(task_id: str = "t", name: str = "办理", extra: str = "") -> str:
    return f'<bpmn:userTask id="{task_id}" name="{name}"{extra}/>'


def problems(xml: bytes) -> list[dict[str, Any]]:
    """Every problem (errors and warnings) deploy reports."""
    try:
        return [p.as_dict() for p in parse_definition(xml, GROUPS, FORMS).warnings]
    except DefinitionInvalid as exc:
        return list(exc.details["problems"])


def errors(xml: bytes) -> list[str | None]:
    return [p["element_id"] for p in problems(xml) if p["severity"] == "error"]


def warnings_about(xml: bytes, element_id: str) -> list[str]:
    return [p["message_en"] for p in problems(xml) if p["severity"] == "warning" and p["element_id"] == element_id]


def gateway(kind: str, flows: str, default: str = "") -> str:
    """s → t → gw, then gw → a and gw → b (each a task ending in its own end event)."""
    default_attr = f' default="{default}"' if default else ""
    return (f'<bpmn:startEvent id="s"/>{task()}<bpmn:{kind} id="gw"{default_attr}/>{task("a")}{task("b")}'
            '<bpmn:endEvent id="ea"/><bpmn:endEvent id="eb"/>'
            '<bpmn:sequenceFlow id="f1" sourceRef="s" targetRef="t"/><bpmn:sequenceFlow id="f2" sourceRef="t" '
            f'targetRef="gw"/>{flows}<bpmn:sequenceFlow id="f5" sourceRef="a" targetRef="ea"/>'
            '<bpmn:sequenceFlow id="f6" sourceRef="b" targetRef="eb"/>')


def flow(flow_id: str, target: str, condition: str | None = None) -> str:
    body = f"<bpmn:conditionExpression>{condition}</bpmn:conditionExpression>" if condition else ""
    return f'<bpmn:sequenceFlow id="{flow_id}" sourceRef="gw" targetRef="{target}">{body}</bpmn:sequenceFlow>'


# -- lanes ------------------------------------------------------------------------------------------------------


def test_task_outside_any_lane_is_a_warning_that_the_starter_gets_it():
    xml = diagram(task() + line("t"), outside=("t",))
    assert errors(xml) == []
    assert any("in no lane; it goes to whoever started the case" in m for m in warnings_about(xml, "t"))


def test_task_in_a_lane_has_no_lane_warning():
    assert not any("in no lane" in m for m in warnings_about(diagram(task() + line("t")), "t"))


def two_lanes(sub_in_office_lane: bool) -> bytes:
    """A sub-process whose inner task is drawn in the unit lane; the sub-process itself in the office
    lane or in none."""
    sub = ('<bpmn:subProcess id="sub" name="整改"><bpmn:startEvent id="ss"/>' + task("inner", "提交")
           + '<bpmn:endEvent id="se"/><bpmn:sequenceFlow id="i1" sourceRef="ss" targetRef="inner"/>'
           '<bpmn:sequenceFlow id="i2" sourceRef="inner" targetRef="se"/></bpmn:subProcess>')
    in_office = ["s", "e", "sub"] if sub_in_office_lane else ["s", "e"]
    office = "".join(f"<bpmn:flowNodeRef>{n}</bpmn:flowNodeRef>" for n in in_office)
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d" targetNamespace="x">
  <bpmn:process id="checked" isExecutable="true"><bpmn:laneSet id="ls"><bpmn:lane id="L1" name="office">{office}
  </bpmn:lane><bpmn:lane id="L2" name="unit"><bpmn:flowNodeRef>inner</bpmn:flowNodeRef></bpmn:lane></bpmn:laneSet>
  {sub}{line("sub")}</bpmn:process></bpmn:definitions>""".encode()


def test_task_drawn_in_another_lane_than_its_sub_process_is_warned_that_the_sub_process_lane_wins():
    parsed = parse_definition(two_lanes(True), GROUPS, FORMS)
    assert parsed.task("inner").group_key == "office"  # SpiffWorkflow's rule, which the warning explains
    assert any("sits in lane 'office', whose group gets it" in m for m in warnings_about(two_lanes(True), "inner"))
    assert parse_definition(two_lanes(False), GROUPS, FORMS).task("inner").group_key == "unit"
    assert not any("sub-process" in m for m in warnings_about(two_lanes(False), "inner"))


# -- conditions and scripts in the sandbox ---------------------------------------------------------------------


def test_conditions_calling_script_functions_and_reading_data_compile():
    xml = diagram(gateway("exclusiveGateway", flow("f3", "a", "is_working_day(datetime.date(2026, 1, 1))")
                          + flow("f4", "b", "item['kind'] == '限期整改'")))
    assert errors(xml) == []


@pytest.mark.parametrize("condition", ["().__class__.__bases__", "exec('x = 1')", "eval('1')", "open('/etc/passwd')",
                                       "__import__('os')", "decision = = 'x'"])
def test_condition_the_sandbox_refuses_is_an_error_naming_the_gateway(condition):
    xml = diagram(gateway("exclusiveGateway", flow("f3", "a", condition) + flow("f4", "b"), default="f4"))
    found = [p for p in problems(xml) if p["severity"] == "error"]
    assert [p["element_id"] for p in found] == ["gw"] and "f3" in found[0]["message_en"]


def test_script_task_with_an_import_is_refused_and_a_plain_script_accepted():
    script = '<bpmn:scriptTask id="calc" name="计算"><bpmn:script>{}</bpmn:script></bpmn:scriptTask>'
    assert errors(diagram(script.format("import subprocess") + line("calc"))) == ["calc"]
    assert errors(diagram(script.format("from os import path") + line("calc"))) == ["calc"]
    assert errors(diagram(script.format("total = sum([1, 2])\nlabel = f'第{total}项'") + line("calc"))) == []


def test_spiff_pre_and_post_scripts_are_compiled_too():
    pre = ('<bpmn:userTask id="t" name="办理"><bpmn:extensionElements><spiffworkflow:preScript>x.__dict__'
           '</spiffworkflow:preScript></bpmn:extensionElements></bpmn:userTask>')
    assert errors(diagram(pre + line("t"))) == ["t"]


def test_post_script_on_a_script_task_is_a_warning_that_it_never_runs_and_on_a_user_task_is_not():
    post = '<spiffworkflow:postScript>n = 1</spiffworkflow:postScript>'
    script = (f'<bpmn:scriptTask id="calc" name="计算"><bpmn:extensionElements>{post}</bpmn:extensionElements>'
              '<bpmn:script>m = 2</bpmn:script></bpmn:scriptTask>')
    assert any("never runs" in m for m in warnings_about(diagram(script + line("calc")), "calc"))
    user = f'<bpmn:userTask id="t" name="办理"><bpmn:extensionElements>{post}</bpmn:extensionElements></bpmn:userTask>'
    assert not any("never runs" in m for m in warnings_about(diagram(user + line("t")), "t"))


def test_sandbox_helpers_refuse_reaching_outside_and_evaluate_with_the_script_functions():
    assert sandbox.compile_errors("x = 1", "exec") == []
    assert sandbox.compile_errors("import os", "exec") and sandbox.compile_errors("globals()", "eval")
    assert sandbox.evaluate("a + 1", {"a": 1}) == 2
    assert sandbox.evaluate("deadline_in(1)").startswith("20")
    with pytest.raises(SyntaxError):
        sandbox.evaluate("().__class__")
    with pytest.raises(NameError):
        sandbox.evaluate("unknown_name")


# -- timers -----------------------------------------------------------------------------------------------------


def timer(kind: str, expression: str) -> bytes:
    event = (f'<bpmn:intermediateCatchEvent id="wait"><bpmn:timerEventDefinition><bpmn:{kind}>{expression}'
             f'</bpmn:{kind}></bpmn:timerEventDefinition></bpmn:intermediateCatchEvent>')
    return diagram(event + task() + line("wait", "t"))


@pytest.mark.parametrize("kind, expression", [
    ("timeDuration", '"P2D"'), ("timeDuration", '"PT1H30M"'), ("timeDate", "deadline_in(3)"),
    ("timeDate", '"2026-12-31T17:00:00+08:00"'), ("timeCycle", '"R3/PT1H"')])
def test_timer_expression_giving_an_iso_value_spiffworkflow_accepts_is_fine(kind, expression):
    assert [p for p in problems(timer(kind, expression)) if p["element_id"] == "wait"] == []


@pytest.mark.parametrize("kind, expression, words", [
    ("timeDuration", "PT5M", 'quote the ISO value, "PT5M"'),
    ("timeDuration", "3", "must give an ISO 8601 string"),
    ("timeDuration", '"3 days"', "not a valid duration"),
    ("timeDate", '"2026-13-45"', "not a valid date-time"),
    ("timeDate", '"P3D"', "not a valid date-time"),
    ("timeCycle", '"R3"', "not a valid cycle"),
    ("timeDuration", "1 / 0", "ZeroDivisionError"),
    ("timeDuration", "x.__class__", "does not compile in the sandbox")])
def test_timer_expression_that_does_not_evaluate_to_a_valid_value_is_an_error(kind, expression, words):
    found = [p for p in problems(timer(kind, expression)) if p["element_id"] == "wait"]
    assert [p["severity"] for p in found] == ["error"] and words in found[0]["message_en"], found


def test_timer_expression_needing_case_data_is_a_warning_naming_the_variable():
    (message,) = warnings_about(timer("timeDate", "deadline_in(allowed_days)"), "wait")
    assert "depends on case data allowed_days" in message
    assert errors(timer("timeDate", "deadline_in(allowed_days)")) == []


# -- reachability -----------------------------------------------------------------------------------------------


def test_nodes_no_flow_leads_to_are_errors_each_named():
    body = task() + task("lost", "遗漏") + task("after_lost", "其后") + line("t") + (
        '<bpmn:sequenceFlow id="fx" sourceRef="lost" targetRef="after_lost"/>')
    assert errors(diagram(body)) == ["lost", "after_lost"]


def test_boundary_event_path_is_reachable_through_its_host():
    body = (task() + task("late", "督办") + '<bpmn:boundaryEvent id="b" attachedToRef="t"><bpmn:timerEventDefinition>'
            '<bpmn:timeDuration>"P1D"</bpmn:timeDuration></bpmn:timerEventDefinition></bpmn:boundaryEvent>'
            '<bpmn:endEvent id="e2"/><bpmn:sequenceFlow id="fb" sourceRef="b" targetRef="late"/>'
            '<bpmn:sequenceFlow id="fl" sourceRef="late" targetRef="e2"/>' + line("t"))
    assert errors(diagram(body)) == []


def test_node_inside_a_sub_process_must_be_reachable_from_its_own_start():
    inner = ('<bpmn:subProcess id="sub" name="子流程"><bpmn:startEvent id="ss"/>{}'
             '<bpmn:userTask id="orphan" name="孤立"/>'
             '<bpmn:endEvent id="se"/><bpmn:sequenceFlow id="i1" sourceRef="ss" targetRef="inner"/>'
             '<bpmn:sequenceFlow id="i2" sourceRef="inner" targetRef="se"/></bpmn:subProcess>')
    assert errors(diagram(inner.format(task("inner")) + line("sub"))) == ["orphan"]


def test_sub_process_without_a_start_event_is_an_error():
    body = '<bpmn:subProcess id="sub" name="子流程">' + task("inner") + '</bpmn:subProcess>' + line("sub")
    assert "sub" in errors(diagram(body))


def test_a_loop_with_no_way_out_is_a_warning_not_an_error():
    body = (task("a", "甲") + task("b", "乙") + '<bpmn:startEvent id="s"/>'
            '<bpmn:sequenceFlow id="f1" sourceRef="s" targetRef="a"/><bpmn:sequenceFlow id="f2" sourceRef="a" '
            'targetRef="b"/><bpmn:sequenceFlow id="f3" sourceRef="b" targetRef="a"/>')
    xml = diagram(body)
    assert errors(xml) == []
    assert any("no path to an end event" in m for m in warnings_about(xml, "a"))
    assert not warnings_about(diagram(task() + line("t")), "s")


# -- gateways ---------------------------------------------------------------------------------------------------


def test_exclusive_gateway_with_a_default_flow_or_full_conditions_is_fine():
    assert errors(diagram(gateway("exclusiveGateway", flow("f3", "a", "x == 1") + flow("f4", "b"), "f4"))) == []
    assert errors(diagram(gateway("exclusiveGateway", flow("f3", "a", "x == 1") + flow("f4", "b", "x != 1")))) == []


@pytest.mark.parametrize("kind", ["exclusiveGateway", "inclusiveGateway"])
def test_gateway_without_default_and_an_unconditioned_flow_is_an_error_naming_the_flows(kind):
    found = [p for p in problems(diagram(gateway(kind, flow("f3", "a", "x == 1") + flow("f4", "b"))))
             if p["severity"] == "error"]
    assert [p["element_id"] for p in found] == ["gw"] and "flows f4 have no condition" in found[0]["message_en"]


def test_conditioned_flow_out_of_a_parallel_gateway_is_an_error_and_plain_ones_are_fine():
    assert errors(diagram(gateway("parallelGateway", flow("f3", "a", "x == 1") + flow("f4", "b")))) == ["gw"]
    assert errors(diagram(gateway("parallelGateway", flow("f3", "a") + flow("f4", "b")))) == []


# -- unsupported constructs and events --------------------------------------------------------------------------


@pytest.mark.parametrize("element", [
    '<bpmn:businessRuleTask id="x" name="规则"/>', '<bpmn:serviceTask id="x" name="服务"/>',
    '<bpmn:adHocSubProcess id="x" name="自由"/>', '<bpmn:complexGateway id="x"/>',
    '<bpmn:intermediateCatchEvent id="x"><bpmn:conditionalEventDefinition><bpmn:condition>a</bpmn:condition>'
    '</bpmn:conditionalEventDefinition></bpmn:intermediateCatchEvent>',
    '<bpmn:intermediateThrowEvent id="x"><bpmn:compensateEventDefinition/></bpmn:intermediateThrowEvent>'])
def test_construct_we_cannot_run_is_refused_naming_it(element):
    assert errors(diagram(element + line("x"))) == ["x"]


def test_element_ids_spiffworkflow_reserves_are_refused():
    body = '<bpmn:startEvent id="Start"/>' + task() + '<bpmn:endEvent id="e"/>' + (
        '<bpmn:sequenceFlow id="f1" sourceRef="Start" targetRef="t"/><bpmn:sequenceFlow id="f2" sourceRef="t" '
        'targetRef="e"/>')
    assert errors(diagram(body)) == ["Start"]


SIGNAL = '<bpmn:signal id="sig" name="开始督查"/>'


def test_signal_thrown_and_caught_in_the_same_diagram_is_accepted():
    body = ('<bpmn:parallelGateway id="split"/>'
            '<bpmn:intermediateThrowEvent id="throw"><bpmn:signalEventDefinition signalRef="sig"/>'
            '</bpmn:intermediateThrowEvent><bpmn:intermediateCatchEvent id="catch"><bpmn:signalEventDefinition '
            'signalRef="sig"/></bpmn:intermediateCatchEvent><bpmn:endEvent id="e1"/><bpmn:endEvent id="e2"/>'
            '<bpmn:startEvent id="s"/><bpmn:sequenceFlow id="f1" sourceRef="s" targetRef="split"/>'
            '<bpmn:sequenceFlow id="f2" sourceRef="split" targetRef="throw"/><bpmn:sequenceFlow id="f3" '
            'sourceRef="split" targetRef="catch"/><bpmn:sequenceFlow id="f4" sourceRef="throw" targetRef="e1"/>'
            '<bpmn:sequenceFlow id="f5" sourceRef="catch" targetRef="e2"/>')
    assert errors(diagram(body, more=SIGNAL)) == []


def test_waiting_for_a_signal_nothing_throws_is_an_error_but_on_a_boundary_only_a_warning():
    catch = ('<bpmn:intermediateCatchEvent id="catch"><bpmn:signalEventDefinition signalRef="sig"/>'
             '</bpmn:intermediateCatchEvent>')
    assert errors(diagram(catch + line("catch"), more=SIGNAL)) == ["catch"]
    boundary = (task() + '<bpmn:boundaryEvent id="b" attachedToRef="t"><bpmn:signalEventDefinition signalRef="sig"/>'
                '</bpmn:boundaryEvent><bpmn:endEvent id="e2"/><bpmn:sequenceFlow id="fb" sourceRef="b" '
                'targetRef="e2"/>' + line("t"))
    xml = diagram(boundary, more=SIGNAL)
    assert errors(xml) == [] and any("never fires" in m for m in warnings_about(xml, "b"))


def test_error_end_in_a_sub_process_caught_by_its_boundary_is_accepted():
    body = ('<bpmn:subProcess id="sub" name="核查"><bpmn:startEvent id="ss"/><bpmn:endEvent id="fail">'
            '<bpmn:errorEventDefinition errorRef="err"/></bpmn:endEvent><bpmn:sequenceFlow id="i1" sourceRef="ss" '
            'targetRef="fail"/></bpmn:subProcess><bpmn:boundaryEvent id="caught" attachedToRef="sub">'
            '<bpmn:errorEventDefinition errorRef="err"/></bpmn:boundaryEvent><bpmn:endEvent id="e2"/>'
            '<bpmn:sequenceFlow id="fb" sourceRef="caught" targetRef="e2"/>' + line("sub"))
    xml = diagram(body, more='<bpmn:error id="err" name="核查失败" errorCode="E1"/>')
    assert errors(xml) == [] and not warnings_about(xml, "caught")


def test_call_activity_must_call_a_process_of_the_same_file():
    called = ('<bpmn:process id="helper" isExecutable="true"><bpmn:startEvent id="hs"/><bpmn:endEvent id="he"/>'
              '<bpmn:sequenceFlow id="h1" sourceRef="hs" targetRef="he"/></bpmn:process>')
    call = '<bpmn:callActivity id="call" name="调用" calledElement="{}"/>'
    assert errors(diagram(call.format("helper") + line("call"), more=called)) == []
    found = [p for p in problems(diagram(call.format("elsewhere") + line("call"))) if p["severity"] == "error"]
    assert [p["element_id"] for p in found] == ["call"] and "'elsewhere'" in found[0]["message_en"]


# -- Camunda settings -------------------------------------------------------------------------------------------


def test_camunda_and_zeebe_settings_we_ignore_are_warnings_naming_them():
    body = (task(extra=' camunda:assignee="demo" camunda:candidateGroups="unit"') + line("t")).replace(
        '<bpmn:userTask id="t" name="办理" camunda:assignee="demo" camunda:candidateGroups="unit"/>',
        '<bpmn:userTask id="t" name="办理" camunda:assignee="demo" camunda:candidateGroups="unit">'
        '<bpmn:extensionElements><zeebe:taskHeaders/></bpmn:extensionElements></bpmn:userTask>')
    xml = diagram(body, attrs=' camunda:historyTimeToLive="180" camunda:versionTag="v1"')
    assert errors(xml) == []
    (message,) = [m for m in warnings_about(xml, "t") if "Camunda" in m]
    assert all(name in message for name in ("camunda:assignee", "camunda:candidateGroups", "zeebe:taskHeaders"))
    assert "lane" in message
    assert not warnings_about(xml, "checked")  # historyTimeToLive and versionTag carry nothing


# -- stored versions --------------------------------------------------------------------------------------------


def test_stored_version_is_read_leniently_keeping_new_errors_as_problems():
    xml = diagram(task() + task("lost", "遗漏") + line("t"))
    with pytest.raises(DefinitionInvalid):
        parse_definition(xml, GROUPS, FORMS)
    parsed = parse_definition(xml, GROUPS, FORMS, strict=False)
    assert "lost" in [p.element_id for p in parsed.warnings if p.severity == "error"]
    assert parsed.task("t") is not None


# -- robustness -------------------------------------------------------------------------------------------------

FOREIGN = Path(__file__).resolve().parents[1] / "workflows" / "foreign"


@pytest.mark.parametrize("name", ["bpmnjs_demo.bpmn", "camunda_modeler.bpmn", "spiff_example.bpmn"])
def test_a_diagram_with_any_one_element_or_its_attributes_removed_is_accepted_or_refused_never_crashes(name):
    """Half-drawn diagrams reach deploy all the time (a flow without its target, an event without its
    definition): each must come back as problems, not as an unexpected exception (a 500)."""
    base = etree.fromstring((FOREIGN / name).read_bytes())
    count = sum(1 for _ in base.iter())
    refused = 0
    for index in range(1, count):
        for strip_attributes in (False, True):
            root = etree.fromstring(etree.tostring(base))
            element = list(root.iter())[index]
            if strip_attributes:
                element.attrib.clear()
            else:
                element.getparent().remove(element)
            try:
                parse_definition(etree.tostring(root), GROUPS, FORMS)
            except DefinitionInvalid as exc:
                refused += 1
                assert all(p["message_zh"] and p["message_en"] for p in exc.details.get("problems", []))
    assert refused > count / 4  # the mutations do break diagrams: the check is not vacuous
