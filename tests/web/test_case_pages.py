"""Case pages: who may see a case, its ledger rows, where it stands and its history."""

from __future__ import annotations

import pytest
from flask.testing import FlaskClient
from sqlalchemy.orm import Session, sessionmaker

from engine.context import EngineContext
from engine.demo import Demo
from tests.helpers import act, open_clue, open_rectification, ready_task
from tests.web.helpers import login

HANDOVER = {"handover_list": "问题线索报告 1 份", "handover_note": "请及时签收"}


@pytest.mark.parametrize("username", ["unit1", "unit2"])
def test_a_clue_is_not_found_for_units(
        username: str, client: FlaskClient, factory: sessionmaker[Session], ctx: EngineContext, demo: Demo) -> None:
    instance_id = open_clue(factory, ctx, demo)
    act(factory, ctx, "office1", instance_id, "handover", HANDOVER)
    login(client, username)

    response = client.get(f"/cases/{instance_id}")

    assert response.status_code == 404
    assert "反映某科长" not in response.get_data(as_text=True)
    listing = client.get("/cases?kind=clue").get_data(as_text=True)
    assert "XS-T-001" not in listing and "没有可查看的问题线索案件" in listing


@pytest.mark.parametrize("username", ["office1", "jw1"])
def test_a_clue_handed_to_the_discipline_commission_is_visible_to_office_and_commission(
        username: str, client: FlaskClient, factory: sessionmaker[Session], ctx: EngineContext, demo: Demo) -> None:
    instance_id = open_clue(factory, ctx, demo)
    act(factory, ctx, "office1", instance_id, "handover", HANDOVER)
    login(client, username)

    html = client.get(f"/cases/{instance_id}").get_data(as_text=True)

    for text in ("XS-T-001", "张某某", "反映某科长收受供应商财物", "市纪委监委", "移交中", "clue_disposition"):
        assert text in html, text
    current = html.split("当前环节")[1].split("办理记录")[0]
    assert "签收" in current and "待签收" in current
    history = html.split("办理记录")[1]
    assert "启动" in history and "办理完成" in history and "生成任务" in history and "巡察办 王明" in history
    listing = client.get("/cases?kind=clue").get_data(as_text=True)
    assert "XS-T-001" in listing


def test_a_clue_for_another_receiving_body_is_not_found(
        client: FlaskClient, factory: sessionmaker[Session], ctx: EngineContext, demo: Demo) -> None:
    instance_id = open_clue(factory, ctx, demo, receiving="ZZB")
    login(client, "jw1")
    assert client.get(f"/cases/{instance_id}").status_code == 404
    assert "XS-T-001" not in client.get("/cases?kind=clue").get_data(as_text=True)


def test_clue_disposition_shows_method_and_status_in_chinese(
        client: FlaskClient, factory: sessionmaker[Session], ctx: EngineContext, demo: Demo) -> None:
    instance_id = open_clue(factory, ctx, demo)
    act(factory, ctx, "office1", instance_id, "handover", HANDOVER)
    act(factory, ctx, "jw1", instance_id, "acknowledge", {"ack_decision": "签收"})
    act(factory, ctx, "jw1", instance_id, "dispose", {"disposition_method": "初步核实",
                                                      "disposition_opinion": "开展初步核实。"})
    login(client, "jw1")
    html = client.get(f"/cases/{instance_id}").get_data(as_text=True)
    assert "初步核实" in html and "处置中" in html and "台账更新" in html
    assert "办理情况反馈" in html.split("当前环节")[1]


def test_rectification_case_shows_its_ledger_to_its_unit_only(
        client: FlaskClient, factory: sessionmaker[Session], ctx: EngineContext, demo: Demo) -> None:
    instance_id = open_rectification(factory, ctx, demo)
    login(client, "unit1")
    html = client.get(f"/cases/{instance_id}").get_data(as_text=True)
    for text in ("市教育局 巡察整改", "U-EDU-01", "干部档案管理不规范", "待制定方案", "反馈", "rectification"):
        assert text in html, text
    assert "市教育局" in client.get("/cases").get_data(as_text=True)
    client.post("/logout")
    login(client, "unit2")
    assert client.get(f"/cases/{instance_id}").status_code == 404
    assert "市教育局 巡察整改" not in client.get("/cases?kind=rectification").get_data(as_text=True)
    client.post("/logout")
    login(client, "group1")
    assert client.get(f"/cases/{instance_id}").status_code == 200


def test_case_list_rejects_unknown_kinds_and_pages(client: FlaskClient) -> None:
    login(client, "office1")
    assert client.get("/cases?kind=secret").status_code == 400
    assert client.get("/cases?page=-1").status_code == 400
    assert client.get("/cases/999999").status_code == 404


def test_reading_a_clue_case_or_its_task_is_recorded_in_its_history(
        client: FlaskClient, factory: sessionmaker[Session], ctx: EngineContext, demo: Demo, session: Session) -> None:
    from engine import audit

    instance_id = open_clue(factory, ctx, demo)
    login(client, "office1")
    assert client.get(f"/cases/{instance_id}").status_code == 200
    assert client.get(f"/tasks/{ready_task(factory, instance_id, 'handover').id}").status_code == 200

    views = [e for e in audit.stream_events(session, instance_id) if e.event_type == "clue_viewed"]
    assert [(e.actor_name, e.payload) for e in views] == [
        ("office1", '{"clue_id":1,"via":"case_page"}'), ("office1", '{"clue_id":1,"via":"task_page"}')]
