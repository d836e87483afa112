"""Attacks on the script sandbox, each refused at deploy (naming the element) or, where deploy cannot
see it (it depends on case data, or never ends), stopped at run time: the step fails as a whole with
a clear incident in both languages and the case is left exactly as it was. Timer steps in the
scheduler leave the incident on the case (last_error, a ``script_refused`` audit event)."""

from __future__ import annotations

import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from engine import audit, runtime, sandbox, timers
from engine.db import transaction
from engine.definitions import parse_definition
from engine.errors import DefinitionInvalid, SandboxRefused
from engine.forms import FormStore
from models import AuditEvent, ProcessInstance, TimerStatus
from tests.helpers import act, instance, ready_tasks, start_cases, timers_of

FORMS = FormStore(Path(__file__).resolve().parents[2] / "workflows" / "forms")


def script_diagram(script: str, *, key: str = "sandbox_probe", timer: bool = False) -> bytes:
    """start → 登记 (user task) → 计算 (script task ``calc``) → 复核 (user task) → end. With ``timer`` a
    boundary timer on 登记 leads to the script instead of completing it."""
    boundary = ('<bpmn:boundaryEvent id="late" attachedToRef="fill" cancelActivity="true">'
                '<bpmn:timerEventDefinition><bpmn:timeDuration>"PT2H"</bpmn:timeDuration>'
                '</bpmn:timerEventDefinition></bpmn:boundaryEvent>'
                '<bpmn:sequenceFlow id="f5" sourceRef="late" targetRef="calc"/>') if timer else ""
    escaped = script.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d" targetNamespace="x">
  <bpmn:process id="{key}" name="沙箱测试" isExecutable="true">
    <bpmn:laneSet id="ls"><bpmn:lane id="L" name="office"><bpmn:flowNodeRef>fill</bpmn:flowNodeRef>
      <bpmn:flowNodeRef>calc</bpmn:flowNodeRef><bpmn:flowNodeRef>check</bpmn:flowNodeRef></bpmn:lane></bpmn:laneSet>
    <bpmn:startEvent id="s"/>
    <bpmn:sequenceFlow id="f1" sourceRef="s" targetRef="fill"/>
    <bpmn:userTask id="fill" name="登记"/>
    <bpmn:sequenceFlow id="f2" sourceRef="fill" targetRef="calc"/>
    <bpmn:scriptTask id="calc" name="计算"><bpmn:script>{escaped}</bpmn:script></bpmn:scriptTask>
    <bpmn:sequenceFlow id="f3" sourceRef="calc" targetRef="check"/>
    <bpmn:userTask id="check" name="复核"/>
    <bpmn:sequenceFlow id="f4" sourceRef="check" targetRef="e"/>
    <bpmn:endEvent id="e"/>{boundary}
  </bpmn:process>
</bpmn:definitions>""".encode()


def deploy_problems(xml: bytes) -> list[dict[str, Any]]:
    with pytest.raises(DefinitionInvalid) as refused:
        parse_definition(xml, {"office": "office"}, FORMS)
    return [p for p in refused.value.details["problems"] if p["severity"] == "error"]


# -- refused at deploy ------------------------------------------------------------------------------------------

DEPLOY_REFUSED = {
    "import statement": "import os",
    "from-import": "from os import path",
    "__import__": "m = __import__('os')",
    "open a file": "text = open('/etc/passwd').read()",
    "subclasses walk": "x = ().__class__.__bases__[0].__subclasses__()",
    "__dict__": "d = payload.__dict__",
    "getattr to __globals__": "g = getattr(deadline_in, '__globals__')",
    "eval": "x = eval('1')",
    "exec": "exec('x = 1')",
    "compile": "c = compile('1', 'f', 'eval')",
    "globals": "g = globals()",
    "generator frame": "g = (i for i in [1]).gi_frame.f_globals",
    "class with dunder methods": "class Evil:\n    pass",
    "computed format width": "s = f'{payload:>{times}}'",
    "huge literal format width": "s = f'{payload:>999999999}'",
}


@pytest.mark.parametrize("script", DEPLOY_REFUSED.values(), ids=DEPLOY_REFUSED.keys())
def test_deploy_refuses_the_attack_naming_the_script_task(script):
    problems = deploy_problems(script_diagram(script))
    assert problems and {p["element_id"] for p in problems} == {"calc"}
    assert all("沙箱" in p["message_zh"] and "sandbox" in p["message_en"] for p in problems)


def test_deploy_refuses_a_timer_expression_that_would_allocate_without_bound_quickly():
    xml = script_diagram("x = 1", timer=True).replace(b'"PT2H"', b'"PT" + "1" * 10**9')
    started = time.monotonic()
    problems = deploy_problems(xml)
    assert time.monotonic() - started < 2
    assert [p["element_id"] for p in problems] == ["late"]
    assert "沙箱" in problems[0]["message_zh"] and "too large" in problems[0]["message_en"]


def test_deploy_accepts_the_legitimate_script_of_the_same_diagram():
    parse_definition(script_diagram("total = sum(len(p) for p in [payload])\nok = total < times"),
                     {"office": "office"}, FORMS)


# -- stopped at run time ----------------------------------------------------------------------------------------

START_DATA = {"payload": "x" * 100, "times": 10 ** 10, "n": 10 ** 12, "depth": 10 ** 6}

RUNTIME_REFUSED = {
    "data-dependent string growth": ("too_large", "s = payload * times"),
    "data-dependent list allocation": ("too_large", "xs = [0] * times"),
    "range bound from task data": ("too_large", "total = 0\nfor i in range(n):\n    total += i"),
    "range materialised": ("too_large", "xs = list(range(n))"),
    "while bound from task data": ("timeout", "i = 0\nwhile i < n:\n    i += 1"),
    "infinite loop": ("timeout", "while True:\n    pass"),
    "infinite loop swallowing the refusal": (
        "timeout", "while True:\n    try:\n        while True:\n            pass\n    except:\n"
                   "        pass"),
    "infinite generator": ("timeout", "def forever():\n    while True:\n        yield 1\nxs = list(forever())"),
    "generator feeding a generator": ("timeout", "xs = [i for i in range(10**6) for j in range(10**6)]"),
    "deep recursion": ("too_deep", "def down(k):\n    return down(k + 1)\ndown(0)"),
    "lambda recursion": ("too_deep", "f = lambda g: g(g)\nf(f)"),
    "recursion bound from task data": (
        "too_deep", "def down(k):\n    return 0 if k == 0 else down(k - 1)\nr = down(depth)"),
    "format-string dunder walk": ("forbidden", "s = '{0.__class__.__mro__}'.format(payload)"),
    "str.format unbound": ("forbidden", "s = str.format('{0.__class__}', payload)"),
    "format_map": ("forbidden", "s = '{p.__class__}'.format_map({'p': payload})"),
    "sum concatenating lists": ("forbidden", "xs = sum([[payload]] * 10, [])"),
    "huge power": ("too_large", "x = 10 ** times"),
    "huge shift": ("too_large", "x = 1 << times"),
    "percent width": ("too_large", "s = '%*s' % (times, payload)"),
    "padding from task data": ("too_large", "s = payload.ljust(times)"),
    "doubling in a loop": ("too_large", "s = payload\nfor i in range(40):\n    s = s + s"),
    "printing an aliased list": ("too_large", "big = [payload * 10000] * 100000\ns = str(big)"),
    "swallowed allocation": ("too_large", "try:\n    s = payload * times\nexcept Exception:\n    s = 'ok'"),
}


def start(factory, ctx, demo, script: str, *, timer: bool = False,  # type: ignore[no-untyped-def]
          data: dict[str, Any] | None = None) -> int:
    (iid,) = start_cases(factory, ctx, demo, script_diagram(script, timer=timer), "sandbox_probe",
                         data=data or START_DATA)
    return iid


def snapshot(factory, iid: int) -> tuple[Any, ...]:  # type: ignore[no-untyped-def]
    with factory() as s:
        row = s.get(ProcessInstance, iid)
        assert row is not None
        events = s.execute(select(func.count()).select_from(AuditEvent).where(
            AuditEvent.stream == audit.case_stream(iid))).scalar_one()
        return row.version, row.state, row.audit_hash, row.status, events


@pytest.mark.parametrize(("kind", "script"), RUNTIME_REFUSED.values(), ids=RUNTIME_REFUSED.keys())
def test_an_attack_deploy_cannot_see_is_stopped_at_run_time_and_changes_nothing(factory, ctx, demo, kind, script):
    assert sandbox.compile_errors(script, "exec") == []  # deploy lets it through: only running shows it
    iid = start(factory, ctx, demo, script)
    office = demo.actor("office1")
    (task,) = ready_tasks(factory, iid)
    with transaction(factory) as s:
        runtime.claim_task(s, ctx, office, task.id)
    before = snapshot(factory, iid)

    started = time.monotonic()
    with sandbox.limits(seconds=0.3), pytest.raises(SandboxRefused) as refused, transaction(factory) as s:
        runtime.complete_task(s, ctx, office, task.id, {"comment": "登记完毕"})

    assert time.monotonic() - started < 5
    error = refused.value
    assert (error.status, error.code, error.details) == (422, "script_refused", {"element_id": "calc", "kind": kind})
    assert "计算" in error.message_zh and "calc" in error.message_zh and "沙箱" in error.message_zh
    assert "calc" in error.message_en and "sandbox" in error.message_en
    assert snapshot(factory, iid) == before  # nothing half-written
    assert [t.bpmn_id for t in ready_tasks(factory, iid)] == ["fill"]


def test_the_same_script_runs_when_its_data_is_harmless(factory, ctx, demo):
    iid = start(factory, ctx, demo, "s = payload * times", data={"payload": "ab", "times": 3})
    act(factory, ctx, "office1", iid, "fill", {"comment": "登记完毕"})
    assert [t.bpmn_id for t in ready_tasks(factory, iid)] == ["check"]
    with factory() as s:
        row = s.get(ProcessInstance, iid)
        assert row is not None and runtime.instance_data(s, ctx, row)["s"] == "ababab"


# -- in the scheduler -------------------------------------------------------------------------------------------

def test_a_timer_step_stopped_by_the_sandbox_leaves_the_incident_on_the_case(factory, ctx, clock, demo):
    iid = start(factory, ctx, demo, "s = payload * times", timer=True)
    before_version = instance(factory, iid).version
    clock.advance(timedelta(hours=3))

    result = timers.sweep(factory, ctx)

    assert (result.fired, result.failed) == (0, 1)
    (timer,) = timers_of(factory, iid)
    assert timer.status == TimerStatus.FAILED
    with factory() as s:
        (event,) = [e for e in audit.stream_events(s, iid) if e.event_type == "script_refused"]
        assert audit.verify(s).ok
    row = instance(factory, iid)
    assert "calc" in (row.last_error or "") and "too large" in (row.last_error or "")
    assert row.version == before_version  # the step itself left nothing
    assert [t.bpmn_id for t in ready_tasks(factory, iid)] == ["fill"]
    assert '"element_id":"calc"' in event.payload and '"kind":"too_large"' in event.payload
    assert "脚本要生成的数据过大" in event.payload and event.actor_name == "scheduler"
    assert timers.sweep(factory, ctx).failed == 0  # not retried forever
