"""流程图 of a case, as a page and as GET /api/v1/instances/{id}/diagram: shown read-only to whoever may
see the case, with its marks, the notes under them and the history beside; not found for everyone else."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import timedelta

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from engine import definitions, runtime
from engine.clock import FrozenClock
from engine.context import EngineContext
from engine.db import transaction
from engine.demo import Demo
from engine.timers import sweep
from models import AuditEvent
from tests.helpers import act, approve_plan, open_clue, open_rectification, ready_task, simple_bpmn
from tests.web.helpers import Api, api_for, login

HANDOVER = {"handover_list": "问题线索报告 1 份"}


@pytest.fixture
def api(db_url: str, ctx: EngineContext, demo: Demo) -> Iterator[Api]:
    with api_for(db_url, ctx) as api:
        yield api


def _attribute(html: str, name: str) -> dict[str, str]:
    found = re.search(rf"{name}='([^']*)'", html)
    assert found, name
    value: dict[str, str] = json.loads(found.group(1).replace("&#34;", '"').replace("&amp;", "&"))
    return value


def _clue_views(factory: sessionmaker[Session], instance_id: int) -> list[str]:
    with factory() as session:
        return [json.loads(e.payload).get("via") for e in session.execute(
            select(AuditEvent).where(AuditEvent.instance_id == instance_id, AuditEvent.event_type == "clue_viewed")
        ).scalars()]


def test_the_case_page_links_to_its_diagram(client: FlaskClient, factory: sessionmaker[Session], ctx: EngineContext,
                                            demo: Demo) -> None:
    instance_id = open_rectification(factory, ctx, demo)
    login(client, "unit1")
    html = client.get(f"/cases/{instance_id}").get_data(as_text=True)
    assert f'href="/cases/{instance_id}/diagram"' in html and "流程图" in html


def test_the_diagram_page_draws_the_pinned_version_with_marks_notes_and_clickable_history(
        client: FlaskClient, factory: sessionmaker[Session], ctx: EngineContext, demo: Demo) -> None:
    instance_id = open_rectification(factory, ctx, demo, problems=3)
    act(factory, ctx, "unit1", instance_id, "receive_feedback", {"feedback_received_on": "2026-11-25"})
    login(client, "unit1")

    response = client.get(f"/cases/{instance_id}/diagram")

    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert f'data-xml-url="/cases/{instance_id}/diagram.bpmn"' in html
    assert "build/viewer.js" in html and "<script>" not in html  # the CSP forbids inline script
    marks = _attribute(html, "data-marks")
    assert marks["receive_feedback"] == "done" and marks["flow_feedback_plan"] == "done"
    assert marks["draft_plan"] == "current" and marks["warn_plan"] == "waiting"
    titles = _attribute(html, "data-titles")
    assert titles["draft_plan"] == (  # the group and the deadline, then the timers waiting on the task
        "被巡察单位·市教育局（待签收） · 期限 2026-12-25\n"
        "提醒 2026-12-22 23:59 · 督办 2026-12-25 23:59 · 通报 2027-01-01 23:59")
    assert "warn_plan" not in titles  # boundary timers sit too close together for notes of their own
    tooltips = _attribute(html, "data-tooltips")
    assert tooltips["warn_plan"] == "方案将到期 · 提醒 2026-12-22 23:59"
    assert tooltips["draft_plan"] == "整改方案：被巡察单位·市教育局（待签收）"
    assert 'data-highlight-element="start_rectification"' in html  # the history's entries name their elements
    assert 'data-highlight-element="receive_feedback"' in html
    assert "技术信息" not in html  # for supervisors only

    xml = client.get(f"/cases/{instance_id}/diagram.bpmn")
    assert xml.status_code == 200 and xml.mimetype == "application/xml"
    assert b'id="rectify_items"' in xml.data


def test_items_in_the_per_item_sub_process_are_counted_on_the_diagram(
        client: FlaskClient, factory: sessionmaker[Session], ctx: EngineContext, demo: Demo) -> None:
    instance_id = open_rectification(factory, ctx, demo, problems=3)
    approve_plan(factory, ctx, instance_id)
    login(client, "office1")
    html = client.get(f"/cases/{instance_id}/diagram").get_data(as_text=True)
    assert _attribute(html, "data-titles")["rectify_item"].startswith("3 项在此")
    assert _attribute(html, "data-marks")["rectify_items"] == "current"


@pytest.mark.parametrize("username", ["unit1", "unit2", "zzb1"])
def test_a_clue_diagram_is_not_found_for_the_unit_or_another_body(
        username: str, client: FlaskClient, factory: sessionmaker[Session], ctx: EngineContext, demo: Demo) -> None:
    instance_id = open_clue(factory, ctx, demo)
    login(client, username)
    assert client.get(f"/cases/{instance_id}/diagram").status_code == 404
    assert client.get(f"/cases/{instance_id}/diagram.bpmn").status_code == 404
    assert _clue_views(factory, instance_id) == []


def test_a_clue_diagram_is_shown_to_the_receiving_body_and_the_read_is_recorded(
        client: FlaskClient, factory: sessionmaker[Session], ctx: EngineContext, demo: Demo) -> None:
    instance_id = open_clue(factory, ctx, demo)
    act(factory, ctx, "office1", instance_id, "handover", HANDOVER)
    login(client, "jw1")
    html = client.get(f"/cases/{instance_id}/diagram").get_data(as_text=True)
    assert _attribute(html, "data-marks")["acknowledge"] == "current"
    assert _clue_views(factory, instance_id) == ["diagram"]


def test_another_units_rectification_diagram_is_not_found(
        client: FlaskClient, factory: sessionmaker[Session], ctx: EngineContext, demo: Demo) -> None:
    instance_id = open_rectification(factory, ctx, demo)
    login(client, "unit2")
    assert client.get(f"/cases/{instance_id}/diagram").status_code == 404


def test_the_diagram_needs_a_login(client: FlaskClient, factory: sessionmaker[Session], ctx: EngineContext,
                                   demo: Demo) -> None:
    instance_id = open_rectification(factory, ctx, demo)
    response = client.get(f"/cases/{instance_id}/diagram")
    assert response.status_code in (302, 401)


def test_the_api_gives_marks_tasks_timers_and_history_of_the_pinned_version(
        api: Api, factory: sessionmaker[Session], ctx: EngineContext, demo: Demo, clock: FrozenClock) -> None:
    instance_id = open_rectification(factory, ctx, demo)
    act(factory, ctx, "unit1", instance_id, "receive_feedback", {"feedback_received_on": "2026-11-25"})
    due = ready_task(factory, instance_id, "draft_plan").due_at
    assert due is not None
    clock.set(due - timedelta(days=1))
    sweep(factory, ctx)

    body = api("office1").ok("GET", f"/instances/{instance_id}/diagram")

    assert body["instance_id"] == instance_id and body["process_key"] == "rectification" and body["version"] == 1
    assert body["xml_url"] == "/api/v1/definitions/rectification/versions/1/bpmn"
    xml = api("office1").get(body["xml_url"].removeprefix("/api/v1"))
    assert xml.status_code == 200 and b'id="draft_plan"' in xml.data
    assert body["marks"]["draft_plan"] == "current" and body["marks"]["warn_plan"] == "done"
    assert [(t["element_id"], t["grade"]) for t in body["timers"]] == [
        ("supervise_plan_timer", "督办"), ("report_plan_timer", "通报")]
    assert [(t["bpmn_id"], t["candidate_group"]) for t in body["current"]] == [("draft_plan", "unit")]
    assert [h["type"] for h in body["history"]][:2] == ["instance_started", "task_created"]
    assert ("timer_fired", "warn_plan") in [(h["type"], h["element_id"]) for h in body["history"]]
    assert "tasks" not in body


def test_the_api_refuses_an_invisible_clue_with_not_found(api: Api, factory: sessionmaker[Session],
                                                          ctx: EngineContext, demo: Demo) -> None:
    instance_id = open_clue(factory, ctx, demo)
    response = api("unit1").get(f"/instances/{instance_id}/diagram")
    assert response.status_code == 404 and response.get_json()["error"]["code"] == "not_found"
    assert api("jw1").ok("GET", f"/instances/{instance_id}/diagram")["marks"]["handover"] == "current"


def test_a_supervisor_also_sees_the_stored_engine_tasks(client: FlaskClient, factory: sessionmaker[Session],
                                                         ctx: EngineContext, demo: Demo, clock: FrozenClock) -> None:
    designer = demo.actor("designer1")
    with transaction(factory) as session:
        definitions.deploy(session, simple_bpmn("memo_view", task_name="批办"), designer, ctx.forms, at=clock.now())
        instance_id = runtime.start_instance(session, ctx, designer, "memo_view", {},
                                             scope_path=designer.roles[0].org_path).id
    login(client, "designer1")
    html = client.get(f"/cases/{instance_id}/diagram").get_data(as_text=True)
    assert "技术信息" in html and "<code>handle</code></td><td>READY</td>" in html
    assert _attribute(html, "data-marks") == {"start": "done", "f1": "done", "handle": "current"}
