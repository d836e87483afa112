"""The public page: only publications the office published and did not withdraw, and nothing else."""

from __future__ import annotations

from typing import Any

from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from engine import disclosure, planning
from engine.context import EngineContext
from engine.db import transaction
from engine.demo import Demo
from models import Inspection, ProcessInstance, PublicationKind
from tests.helpers import act, complete_rectification, open_clue, open_rectification
from tests.web.helpers import login


def publish(factory: sessionmaker[Session], ctx: EngineContext, demo: Demo, kind: str, source_id: int,
            who: str = "office1", **values: Any) -> int:
    with transaction(factory) as session:
        return disclosure.publish(session, ctx, demo.actor(who), kind=kind, source_id=source_id, values=values).id


def test_public_page_lists_published_announcements_without_login(
        client: FlaskClient, factory: sessionmaker[Session], ctx: EngineContext, demo: Demo) -> None:
    assert "市教育局" not in client.get("/public").get_data(as_text=True)  # announced in the data, not published
    for unit in ("U-EDU", "U-HOUSING"):
        publish(factory, ctx, demo, PublicationKind.ANNOUNCEMENT, demo.inspections[unit].id)
    response = client.get("/public")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    for text in ("2026年第一轮常规巡察", "市教育局", "市住房和城乡建设局", "0000-12345678", "某市邮政信箱 001 号",
                 "某市人民路 1 号", "2026-03-02"):
        assert text in html, text
    assert "我的待办" not in html and "登录" in html


def test_published_results_appear_and_unpublished_ones_do_not(
        client: FlaskClient, factory: sessionmaker[Session], ctx: EngineContext, demo: Demo) -> None:
    published = open_rectification(factory, ctx, demo, problems=("落实意识形态工作责任制不到位。",))
    complete_rectification(factory, ctx, published, disclosure={"publish": True,
                                                                "public_text": "市教育局已完成全部整改任务。"})
    assert "市教育局已完成全部整改任务。" not in client.get("/public").get_data(as_text=True)  # not yet published
    publish(factory, ctx, demo, PublicationKind.RECTIFICATION, published)
    withheld = open_rectification(factory, ctx, demo, problems=("涉及在查案件的问题。",))
    complete_rectification(factory, ctx, withheld, disclosure={"publish": False, "exemption_note": "涉及在查案件。"})
    running = open_rectification(factory, ctx, demo, problems=("尚在整改的问题。",))

    html = client.get("/public").get_data(as_text=True)

    assert "市教育局已完成全部整改任务。" in html
    assert "涉及在查案件" not in html and "尚在整改的问题" not in html and "落实意识形态" not in html
    assert running


def test_clues_never_appear_on_the_public_page(
        client: FlaskClient, factory: sessionmaker[Session], ctx: EngineContext, demo: Demo) -> None:
    secret: dict[str, Any] = {"number": "XS-SECRET-9", "summary": "反映某局长插手工程招标。", "person": "钱秘密"}
    instance_id = open_clue(factory, ctx, demo, **secret)
    act(factory, ctx, "office1", instance_id, "handover", {"handover_list": "线索 1 份"})
    act(factory, ctx, "jw1", instance_id, "acknowledge", {"ack_decision": "签收"})

    for who in (None, "office1"):
        if who:
            login(client, who)
        html = client.get("/public").get_data(as_text=True)
        for text in secret.values():
            assert text not in html
        assert "问题线索" not in html


def test_nothing_confidential_reaches_the_public_page(
        client: FlaskClient, factory: sessionmaker[Session], ctx: EngineContext, demo: Demo) -> None:
    """Clue numbers, persons concerned, summaries, unpublished drafts, withdrawn publications, internal case
    references and a county's unpublished inspection never appear; the published text does."""
    clue = open_clue(factory, ctx, demo, number="XS-CONF-7", summary="反映某处长违规发放津贴。", person="赵保密")
    act(factory, ctx, "office1", clue, "handover", {"handover_list": "线索 1 份"})
    draft_case = open_rectification(factory, ctx, demo, problems=("违规发放津贴补贴问题。",))
    complete_rectification(factory, ctx, draft_case, disclosure={"publish": True,
                                                                 "public_text": "审定未发布的整改文本。"})
    published_case = open_rectification(factory, ctx, demo, problems=("公车管理漏洞。",))
    complete_rectification(factory, ctx, published_case, disclosure={"publish": True,
                                                                     "public_text": "教育局整改完成。"})
    publish(factory, ctx, demo, PublicationKind.RECTIFICATION, published_case, body="教育局已完成整改，公开如下。")
    withdrawn = publish(factory, ctx, demo, PublicationKind.ANNOUNCEMENT, demo.inspections["U-EDU"].id,
                        title="撤回的巡察公告", contact_phone="0000-4440000")
    with transaction(factory) as session:
        disclosure.withdraw(session, ctx, demo.actor("office1"), withdrawn, "信息有误")
        county_plan = planning.visible_plans(session, demo.actor("county1"))[0].id
        round_ = planning.create_round(session, ctx, demo.actor("county1"), county_plan,
                                       {"year": 2026, "name": "某县未公告的延伸巡察", "kind": "延伸"})
        town = planning.plan_units(session, planning.get_plan(session, demo.actor("county1"), county_plan))[0]
        planning.add_inspection(session, ctx, demo.actor("county1"), round_.id, unit_id=town.id,
                                team_id=demo.orgs["COUNTY-A-TEAM1"].id, contacts={"contact_phone": "0000-3330000"})
        references = [i.reference for i in session.execute(
            select(ProcessInstance).where(ProcessInstance.id.in_((draft_case, published_case, clue)))).scalars()]

    html = client.get("/public").get_data(as_text=True)

    assert "教育局已完成整改，公开如下。" in html
    secrets = ["XS-CONF-7", "反映某处长违规发放津贴", "赵保密", "违规发放津贴补贴问题", "审定未发布的整改文本",
               "教育局整改完成。", "公车管理漏洞", "撤回的巡察公告", "0000-4440000", "信息有误", "某县未公告的延伸巡察",
               "0000-3330000", town.name, *[r for r in references if r]]
    for text in secrets:
        assert text not in html, text
    assert f"/cases/{published_case}" not in html and "/cases/" not in html
    with transaction(factory) as session:
        assert session.get(Inspection, demo.inspections["U-EDU"].id).announced is False  # type: ignore[union-attr]


def test_public_page_pages_through_many_publications(
        client: FlaskClient, factory: sessionmaker[Session], ctx: EngineContext, demo: Demo) -> None:
    with transaction(factory) as session:
        office = demo.actor("office1")
        round_ = planning.create_round(session, ctx, office, planning.visible_plans(session, office)[0].id,
                                       {"year": 2026, "starts_on": "2026-12-01", "ends_on": "2026-12-20"})
        units = planning.plan_units(session, planning.get_plan(session, office, round_.plan_id))
        units = [u for u in units if u.code.startswith("U-EN")][:22]
        for unit in units:
            inspection = planning.add_inspection(session, ctx, office, round_.id, unit_id=unit.id,
                                                 team_id=demo.orgs["TEAM1"].id)
            disclosure.publish(session, ctx, office, kind=PublicationKind.ANNOUNCEMENT, source_id=inspection.id,
                               values={"title": f"公告 {unit.name}"})
    first, second = client.get("/public").get_data(as_text=True), client.get("/public?page=2").get_data(as_text=True)
    assert first.count('data-testid="publication"') == 20 and second.count('data-testid="publication"') == 2
    assert "第 1 / 2 页" in first and client.get("/public?page=x").status_code == 400
