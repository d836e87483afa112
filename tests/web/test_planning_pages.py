"""巡察规划 pages: the office plans a round end to end (round, units with one group, stage), reads the coverage
matrix with filters and pages and the pace warning, publishes and withdraws; a county office sees its county
only; units are refused; 回头看 from a finished case, linked both ways on the case pages."""

from __future__ import annotations

import re

from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from engine import disclosure
from engine.context import EngineContext
from engine.db import transaction
from engine.demo import Demo
from models import Inspection, Publication, RectificationItem, Round, TermPlan
from tests.helpers import complete_rectification, open_rectification
from tests.web.helpers import login


def plan_ids(factory: sessionmaker[Session], demo: Demo) -> dict[str, int]:
    with factory() as s:
        return {code: s.execute(select(TermPlan.id).where(TermPlan.org_id == demo.orgs[code].id)).scalar_one()
                for code in ("CITY", "COUNTY-A", "COUNTY-B")}


def test_office_plans_a_round_with_two_units_and_one_group_and_publishes_its_announcement(
        client: FlaskClient, factory: sessionmaker[Session], demo: Demo) -> None:
    login(client, "office1")
    city = plan_ids(factory, demo)["CITY"]
    page = client.get(f"/planning/plans/{city}").get_data(as_text=True)
    assert "2026年第一轮常规巡察" in page and "新建轮次" in page and 'data-testid="pace-warning"' in page
    response = client.post(f"/planning/plans/{city}/rounds", data={
        "year": "2026", "name": "2026年第三轮专项巡察", "kind": "专项", "method": "一托N", "starts_on": "2026-12-01",
        "ends_on": "2026-12-28"})
    assert response.status_code == 302
    with factory() as s:
        round_ = s.execute(select(Round).where(Round.name == "2026年第三轮专项巡察")).scalar_one()
    units = [demo.orgs["U-PW01"].id, demo.orgs["U-GV05"].id]
    client.post(f"/planning/rounds/{round_.id}/inspections", data={
        "unit_id": [str(u) for u in units], "team_id": str(demo.orgs["TEAM2"].id), "contact_phone": "0000-5550000",
        "contact_mailbox": "某市邮政信箱 088 号", "contact_address": "某市解放路 8 号"})
    client.post(f"/planning/rounds/{round_.id}/stage", data={"stage": "进驻"})
    page = client.get(f"/planning/rounds/{round_.id}").get_data(as_text=True)
    assert "市委办公室" in page and "市发展和改革委员会" in page and page.count("市委第二巡察组") >= 2
    assert 'class="current">进驻' in page
    matrix = client.get(f"/planning/plans/{city}/coverage?q=市委办公室").get_data(as_text=True)
    assert 'data-year="2026" data-state="scheduled"' in matrix and "已安排" in matrix
    with factory() as s:
        inspection = s.execute(select(Inspection).where(Inspection.round_id == round_.id,
                                                        Inspection.unit_id == units[0])).scalar_one()
    form = client.get(f"/publications/new?kind=announcement&source={inspection.id}").get_data(as_text=True)
    assert "0000-5550000" in form and "某市解放路 8 号" in form and "2026-12-01" in form and "data-confirm" in form
    response = client.post("/publications", data={
        "kind": "announcement", "source": str(inspection.id), "title": "市委第二巡察组进驻市委办公室公告",
        "body": "巡察组受理来信来电来访。", "contact_phone": "0000-5550001", "period_start": "2026-12-01",
        "period_end": "2026-12-28"})
    assert response.status_code == 302
    client.post("/logout")
    public = client.get("/public").get_data(as_text=True)
    assert "市委第二巡察组进驻市委办公室公告" in public and "0000-5550001" in public and "0000-5550000" not in public


def test_coverage_matrix_filters_pages_and_counts_by_category(
        client: FlaskClient, factory: sessionmaker[Session], demo: Demo) -> None:
    login(client, "office1")
    city = plan_ids(factory, demo)["CITY"]
    first = client.get(f"/planning/plans/{city}/coverage").get_data(as_text=True)
    assert first.count('data-testid="unit-') == 25 and "第 1 / 4 页" in first
    for sector in ("市委工作部门", "人大政协", "市政府组成部门", "法院检察院", "群团", "企事业单位"):
        assert sector in first
    assert re.search(r"尚有\s*\d+\s*个单位未巡察", first)
    last = client.get(f"/planning/plans/{city}/coverage?page=4").get_data(as_text=True)
    assert last.count('data-testid="unit-') == 96 - 75
    gap = client.get(f"/planning/plans/{city}/coverage?status=uncovered&sector=群团").get_data(as_text=True)
    rows = re.findall(r'data-testid="unit-([^"]+)"', gap)
    assert rows and all("未覆盖" in gap for _ in rows) and "U-EDU" not in rows
    assert client.get(f"/planning/plans/{city}/coverage?page=0").status_code == 400


def test_a_county_office_sees_its_county_only_and_the_city_sees_every_county(
        client: FlaskClient, factory: sessionmaker[Session], demo: Demo) -> None:
    plans = plan_ids(factory, demo)
    login(client, "county1")
    index = client.get("/planning").get_data(as_text=True)
    assert "某县第九届巡察规划" in index and "市委第九届巡察规划" not in index and "某区" not in index
    assert client.get(f"/planning/plans/{plans['COUNTY-A']}").status_code == 200
    for other in (plans["CITY"], plans["COUNTY-B"]):
        assert client.get(f"/planning/plans/{other}").status_code == 404
        assert client.get(f"/planning/plans/{other}/coverage").status_code == 404
        assert client.post(f"/planning/plans/{other}/rounds", data={"year": "2026"}).status_code == 404
    city_round = demo.inspections["U-EDU"].round_id
    assert client.get(f"/planning/rounds/{city_round}").status_code == 404
    assert client.post(f"/planning/rounds/{city_round}/stage", data={"stage": "立卷归档"}).status_code == 404
    client.post("/logout")
    login(client, "office1")
    index = client.get("/planning").get_data(as_text=True)
    assert 'data-testid="counties"' in index and "某县" in index and "某区" in index
    assert client.get(f"/planning/plans/{plans['COUNTY-B']}/coverage").status_code == 200


def test_units_are_refused_every_planning_page(client: FlaskClient, factory: sessionmaker[Session],
                                               demo: Demo) -> None:
    city = plan_ids(factory, demo)["CITY"]
    login(client, "unit1")
    assert client.get("/planning").status_code == 403  # the pages are not theirs: refused, as in the matrix
    assert client.get(f"/planning/plans/{city}").status_code == 404  # and no plan is known to exist
    assert client.post(f"/planning/plans/{city}/rounds", data={"year": "2026"}).status_code == 404
    assert client.get(f"/publications/new?kind=announcement&source={demo.inspections['U-EDU'].id}").status_code == 404
    assert client.get("/publications").status_code == 403
    assert "巡察规划" not in client.get("/public").get_data(as_text=True)


def test_invalid_round_is_refused_with_a_message_and_nothing_saved(
        client: FlaskClient, factory: sessionmaker[Session], demo: Demo) -> None:
    login(client, "office1")
    city = plan_ids(factory, demo)["CITY"]
    response = client.post(f"/planning/plans/{city}/rounds", data={"year": "2026", "starts_on": "2026-12-10",
                                                                   "ends_on": "2026-12-01"}, follow_redirects=True)
    assert "结束日期不能早于开始日期" in response.get_data(as_text=True)
    with factory() as s:
        assert s.execute(select(Round).where(Round.year == 2026)).scalars().all().__len__() == 1


def test_withdrawing_needs_a_reason_and_hides_the_publication(
        client: FlaskClient, factory: sessionmaker[Session], demo: Demo) -> None:
    login(client, "office1")
    inspection = demo.inspections["U-HEALTH"].id
    client.post("/publications", data={"kind": "announcement", "source": str(inspection), "title": "卫健委巡察公告",
                                       "body": "受理来信来访。"})
    with factory() as s:
        publication = s.execute(select(Publication)).scalar_one()
    listing = client.get("/publications").get_data(as_text=True)
    assert "卫健委巡察公告" in listing and "data-confirm" in listing
    response = client.post(f"/publications/{publication.id}/withdraw", data={"reason": " "}, follow_redirects=True)
    assert "请填写撤回原因" in response.get_data(as_text=True)
    assert "卫健委巡察公告" in client.get("/public").get_data(as_text=True)
    client.post(f"/publications/{publication.id}/withdraw", data={"reason": "公告信息有误"})
    assert "卫健委巡察公告" not in client.get("/public").get_data(as_text=True)
    assert "公告信息有误" in client.get("/publications").get_data(as_text=True)


def test_revisit_from_a_finished_case_links_both_case_pages(
        client: FlaskClient, factory: sessionmaker[Session], ctx: EngineContext, demo: Demo) -> None:
    original = open_rectification(factory, ctx, demo, problems=("干部档案管理不规范。",))
    complete_rectification(factory, ctx, original, disclosure={"publish": False, "exemption_note": "无"})
    with factory() as s:
        item = s.execute(select(RectificationItem).where(RectificationItem.instance_id == original)).scalar_one()
    login(client, "unit1")
    assert 'data-testid="revisit-start"' not in client.get(f"/cases/{original}").get_data(as_text=True)
    assert client.get(f"/cases/{original}/revisit").status_code == 403  # the unit sees the case, may not act
    client.post("/logout")
    login(client, "office1")
    assert 'data-testid="revisit-start"' in client.get(f"/cases/{original}").get_data(as_text=True)
    form = client.get(f"/cases/{original}/revisit").get_data(as_text=True)
    assert "干部档案管理不规范。" in form and "data-confirm" in form
    response = client.post(f"/cases/{original}/revisit", data={
        "reopen_item_id": str(item.id), "new_problems": "整改后问题反弹。\n", "due_on": "2027-03-31"})
    assert response.status_code == 302
    new_case = int(response.headers["Location"].rstrip("/").split("/")[-1])
    new_page = client.get(f"/cases/{new_case}").get_data(as_text=True)
    assert "回头看自" in new_page and f"/cases/{original}" in new_page and "整改后问题反弹。" in new_page
    old_page = client.get(f"/cases/{original}").get_data(as_text=True)
    assert "已回头看" in old_page and f"/cases/{new_case}" in old_page


def test_office_publishes_a_finished_rectification_from_its_case_page_with_the_approved_text(
        client: FlaskClient, factory: sessionmaker[Session], ctx: EngineContext, demo: Demo) -> None:
    instance_id = open_rectification(factory, ctx, demo, problems=("意识形态责任制落实不到位。",))
    complete_rectification(factory, ctx, instance_id, disclosure={"publish": True,
                                                                  "public_text": "教育局整改已全部完成。"})
    login(client, "unit1")
    assert 'data-testid="publish-result"' not in client.get(f"/cases/{instance_id}").get_data(as_text=True)
    # The unit sees its case (so no 404) but may not publish for it.
    assert client.get(f"/publications/new?kind=rectification&source={instance_id}").status_code == 403
    client.post("/logout")
    login(client, "office1")
    assert 'data-testid="publish-result"' in client.get(f"/cases/{instance_id}").get_data(as_text=True)
    form = client.get(f"/publications/new?kind=rectification&source={instance_id}").get_data(as_text=True)
    assert "教育局整改已全部完成。" in form and "市教育局关于巡察整改情况的通报" in form
    client.post("/publications", data={"kind": "rectification", "source": str(instance_id),
                                       "title": "市教育局关于巡察整改情况的通报",
                                       "body": "教育局整改已全部完成（修订）。"})
    assert 'data-testid="publish-result"' not in client.get(f"/cases/{instance_id}").get_data(as_text=True)
    client.post("/logout")
    public = client.get("/public").get_data(as_text=True)
    assert "教育局整改已全部完成（修订）。" in public and "意识形态责任制" not in public


def test_a_wrong_round_field_is_named_in_the_message(client: FlaskClient, factory: sessionmaker[Session],
                                                     demo: Demo) -> None:
    login(client, "office1")
    city = plan_ids(factory, demo)["CITY"]
    page = client.post(f"/planning/plans/{city}/rounds", data={"year": "2026", "kind": "巡视"},
                       follow_redirects=True).get_data(as_text=True)
    assert "轮次信息有误" in page and "kind" in page and "巡察类型须为" in page


def test_the_leading_group_reads_plans_and_publications_but_cannot_change_them(
        client: FlaskClient, factory: sessionmaker[Session], ctx: EngineContext, demo: Demo) -> None:
    city = plan_ids(factory, demo)["CITY"]
    with transaction(factory) as s:
        disclosure.publish(s, ctx, demo.actor("office1"), kind="announcement",
                           source_id=demo.inspections["U-EDU"].id, values={"title": "教育局巡察公告"})
    login(client, "leader1")
    assert "巡察规划" in client.get("/tasks").get_data(as_text=True)  # in the navigation
    page = client.get(f"/planning/plans/{city}").get_data(as_text=True)
    assert "2026年第一轮常规巡察" in page and 'data-testid="new-round"' not in page
    round_page = client.get(f"/planning/rounds/{demo.inspections['U-EDU'].round_id}").get_data(as_text=True)
    assert 'data-testid="add-inspections"' not in round_page and 'data-testid="advance-stage"' not in round_page
    refused = client.post(f"/planning/plans/{city}/rounds", data={"year": "2026"}, follow_redirects=True)
    assert "只有本级巡察办可以修改" in refused.get_data(as_text=True)
    listing = client.get("/publications").get_data(as_text=True)
    assert "教育局巡察公告" in listing and "withdraw" not in listing
    with factory() as s:
        assert s.execute(select(Round).where(Round.year == 2026)).scalars().all().__len__() == 1
