"""Deploying BPMN: validation names the element at fault, nothing invalid is stored, versions count up."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select

from engine.db import transaction
from engine.definitions import deploy
from engine.errors import DefinitionInvalid
from models import ProcessDefinition
from tests.helpers import act, instance, simple_bpmn

WORKFLOWS = Path(__file__).resolve().parents[2] / "workflows"
CORPUS = Path(__file__).resolve().parents[3] / "shared" / "corpus" / "bpmn"


def minimal(lane: str = "office", condition: str = "comment == 'x'", form: str | None = None) -> bytes:
    """One task, then a gateway whose condition is checked at deploy time."""
    return simple_bpmn("test_process", name="测试流程", lane=lane, lane_id="Lane_X", task_id="t1", form=form,
                       condition=condition, participant=True)


def _count(session) -> int:  # type: ignore[no-untyped-def]
    return session.execute(select(func.count()).select_from(ProcessDefinition)).scalar_one()


def _deploy(factory, ctx, xml: bytes, actor=None):  # type: ignore[no-untyped-def]
    with transaction(factory) as session:
        result = deploy(session, xml, actor, ctx.forms, at=ctx.clock.now())
        return result.definition.version, result.created, result.warnings


def test_shipped_diagrams_are_deployed_once(factory, ctx, demo, session):
    assert _count(session) == 2
    for name in ("clue_disposition.bpmn", "rectification.bpmn"):
        version, created, _ = _deploy(factory, ctx, (WORKFLOWS / name).read_bytes())
        assert (version, created) == (1, False)


def test_changed_content_becomes_the_next_version(factory, ctx, demo):
    assert _deploy(factory, ctx, minimal())[:2] == (1, True)
    assert _deploy(factory, ctx, minimal(condition="comment == 'y'"))[:2] == (2, True)
    assert _deploy(factory, ctx, minimal(condition="comment == 'y'"))[:2] == (2, False)


def test_user_task_without_form_deploys_with_a_warning(factory, ctx, demo):
    _, created, warnings = _deploy(factory, ctx, minimal())
    assert created and [w.element_id for w in warnings] == ["t1"]


def test_lane_may_name_a_group_by_its_chinese_name(factory, ctx, demo):
    assert _deploy(factory, ctx, minimal(lane="巡察办"))[1]


def _problems(factory, ctx, xml: bytes, session) -> list[dict]:  # type: ignore[type-arg]
    before = _count(session)
    with pytest.raises(DefinitionInvalid) as caught:
        _deploy(factory, ctx, xml)
    session.rollback()
    assert _count(session) == before, "an invalid diagram must never be stored"
    return caught.value.details["problems"]


def test_malformed_xml_is_refused_with_the_line(factory, ctx, demo, session):
    (problem,) = _problems(factory, ctx, b"<bpmn:definitions><unclosed>", session)
    assert "XML" in problem["message_en"] and "line 1" in problem["message_en"]


def test_lane_matching_no_group_is_refused_naming_the_lane_and_the_known_groups(factory, ctx, demo, session):
    problems = _problems(factory, ctx, minimal(lane="财务科"), session)
    lane = next(p for p in problems if p["element_id"] == "Lane_X")
    assert "财务科" in lane["message_zh"] and "office" in lane["message_en"]


def test_condition_with_a_syntax_error_is_refused_naming_the_gateway(factory, ctx, demo, session):
    problems = _problems(factory, ctx, minimal(condition="comment = = 'x'"), session)
    assert [p["element_id"] for p in problems if p["severity"] == "error"] == ["gw"]


def test_form_file_that_does_not_exist_is_refused(factory, ctx, demo, session):
    problems = _problems(factory, ctx, minimal(form="nope.schema.json"), session)
    assert any(p["element_id"] == "t1" and "nope.schema.json" in p["message_en"] for p in problems)


def test_entity_expansion_is_not_performed(factory, ctx, demo, session):
    bomb = (b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;">]>'
            b'<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL">&lol2;</bpmn:definitions>')
    assert _problems(factory, ctx, bomb, session)


@pytest.mark.skipif(not CORPUS.is_dir(), reason="shared corpus not present")
def test_third_party_diagram_without_lanes_deploys(factory, ctx, demo):
    version, created, warnings = _deploy(factory, ctx, (CORPUS / "bpmnjs__nested-subprocesses.bpmn").read_bytes())
    assert created and version == 1
    assert warnings and all(w.severity == "warning" for w in warnings)


@pytest.mark.skipif(not CORPUS.is_dir(), reason="shared corpus not present")
def test_third_party_diagram_with_foreign_lanes_is_refused(factory, ctx, demo, session):
    problems = _problems(factory, ctx, (CORPUS / "spiff__lanes.bpmn").read_bytes(), session)
    assert {p["message_en"].split("'")[1] for p in problems if p["element_id"]} >= {"A", "B", "C"}


def test_a_file_not_in_utf8_is_refused(factory, ctx, demo, session):
    gbk = minimal().decode().replace('encoding="UTF-8"', 'encoding="GBK"').encode("gbk")
    (problem,) = _problems(factory, ctx, gbk, session)
    assert "UTF-8" in problem["message_en"]


def test_running_cases_keep_working_when_a_form_they_name_is_gone(factory, demo, clock, tmp_path):
    """A stored version is re-read leniently: its instances must not break when a file it named is
    removed later (the task falls back to the generic form; the problem is logged)."""
    import shutil

    from engine import runtime
    from engine.context import EngineContext
    from engine.definitions import SPEC_CACHE

    workflows = tmp_path / "workflows"
    shutil.copytree(WORKFLOWS / "forms", workflows / "forms")
    ctx = EngineContext.default(workflows_dir=workflows, clock=clock)
    _deploy(factory, ctx, simple_bpmn("temporary_form", form="clue_handover.schema.json"))
    with transaction(factory) as s:
        iid = runtime.start_instance(s, ctx, demo.actor("office1"), "temporary_form", {},
                                     scope_path=demo.orgs["CITY"].path).id
    (workflows / "forms" / "clue_handover.schema.json").unlink()
    ctx.forms.reload()
    SPEC_CACHE.clear()
    act(factory, ctx, demo.actor("office1"), iid, "handle", {"comment": "表单文件已删除，仍可办理"})
    assert instance(factory, iid).status == "completed"
