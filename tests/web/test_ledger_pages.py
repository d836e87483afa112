"""Intake and ledger pages and their API: who may enter, see, edit, export, import and reconcile."""

from __future__ import annotations

import io
import json
import re

import pytest
from flask.testing import FlaskClient
from openpyxl import load_workbook
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from engine.context import EngineContext
from engine.demo import Demo
from models import AuditEvent, Clue, RectificationItem
from tests.helpers import open_clue, open_rectification
from tests.web.helpers import Api, login

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _clue_events(factory: sessionmaker[Session], via: str) -> int:
    with factory() as s:
        return s.execute(select(func.count()).select_from(AuditEvent).where(
            AuditEvent.event_type == "clue_viewed", AuditEvent.payload.contains(f'"via":"{via}"'))).scalar_one()


def test_group_enters_clues_and_findings_in_the_grid(client: FlaskClient, factory: sessionmaker[Session],
                                                     demo: Demo) -> None:
    login(client, "group1")
    inspection = demo.inspections["U-EDU"].id
    page = client.get(f"/intake/{inspection}").get_data(as_text=True)
    assert "问题线索报告" in page and "rows-1-summary" in page
    uploads = re.findall(r'enctype="multipart/form-data" action="([^"]+)" class="inline">\s*'
                         r'<input type="hidden" name="csrf_token"[^>]*>\s*<label>[^<]*<input type="file" name="sheet"',
                         page)
    assert uploads == [f"/intake/{inspection}/clues", f"/intake/{inspection}/findings"]  # a sheet for either grid

    response = client.post(f"/intake/{inspection}/clues", data={
        "rows-1-number": "XS-W-001", "rows-1-person_name": "张某", "rows-1-summary": "反映收受礼金。",
        "rows-1-receiving_body": "市纪委监委",
        "paste": "XS-W-002\t李某\t副处长\t副处级\t\t反映违规兼职。\t\t市管\t市委组织部\n"})
    assert response.status_code == 302
    response = client.post(f"/intake/{inspection}/findings", data={
        "rows-1-description": "落实意识形态工作责任制不到位。", "rows-2-description": "干部档案管理不规范。",
        "rows-3-description": ""})
    assert response.status_code == 302
    with factory() as s:
        assert sorted(s.execute(select(Clue.number)).scalars()) == ["XS-W-001", "XS-W-002"]
        assert s.execute(select(Clue.cadre_authority).where(Clue.number == "XS-W-002")).scalar_one() == "市管"
        assert s.execute(select(func.count()).select_from(RectificationItem)).scalar_one() == 2


def test_a_bad_grid_row_is_shown_with_its_row_and_nothing_is_created(client: FlaskClient,
                                                                     factory: sessionmaker[Session],
                                                                     demo: Demo) -> None:
    login(client, "office1")
    response = client.post(f"/intake/{demo.inspections['U-EDU'].id}/clues", data={
        "rows-1-number": "XS-W-001", "rows-1-person_name": "张某", "rows-1-summary": "反映收受礼金。",
        "rows-1-receiving_body": "市纪委监委", "rows-2-number": "XS-W-002", "rows-2-person_name": "李某",
        "rows-2-summary": "", "rows-2-receiving_body": "市纪委监委"})
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "第2 行" in html.replace("第 2 行", "第2 行") or "第2行" in html.replace(" ", "")
    assert 'value="XS-W-001"' in html  # the rows come back as entered
    with factory() as s:
        assert s.execute(select(func.count()).select_from(Clue)).scalar_one() == 0


@pytest.mark.parametrize("username", ["unit1", "jw1"])
def test_units_and_receiving_bodies_do_not_see_the_intake(username: str, client: FlaskClient, demo: Demo) -> None:
    login(client, username)
    assert client.get(f"/intake/{demo.inspections['U-EDU'].id}").status_code == 404
    assert client.post(f"/intake/{demo.inspections['U-EDU'].id}/findings",
                       data={"rows-1-description": "x"}).status_code == 404


def test_ledger_page_lists_and_filters_and_the_unit_edits_its_columns(
        client: FlaskClient, factory: sessionmaker[Session], ctx: EngineContext, demo: Demo) -> None:
    open_rectification(factory, ctx, demo, problems=["落实意识形态工作责任制不到位。", "干部档案管理不规范。"])
    unit_id = demo.orgs["U-EDU"].id
    login(client, "unit1")
    html = client.get(f"/ledgers/rectification/{unit_id}").get_data(as_text=True)
    assert "市教育局巡察整改台账" in html and "干部档案管理不规范" in html and "整改措施" in html
    html = client.get(f"/ledgers/rectification/{unit_id}?q=档案&view=responsibilities").get_data(as_text=True)
    table = html.split('data-testid="ledger"')[1].split("</table>")[0]
    assert "干部档案管理不规范" in table and "意识形态" not in table
    with factory() as s:
        item_id = s.execute(select(RectificationItem.id).order_by(RectificationItem.id)).scalars().first()
    assert client.post(f"/ledgers/rectification/{unit_id}/items/{item_id}",
                       data={"measures": "修订制度", "progress": "已起草"}).status_code == 302
    with factory() as s:
        item = s.get(RectificationItem, item_id)
        assert item is not None and (item.measures, item.progress) == ("修订制度", "已起草")
    login(client, "unit2")
    assert client.get(f"/ledgers/rectification/{unit_id}").status_code == 404


def test_clue_ledger_page_is_audited_and_never_shown_to_units(
        client: FlaskClient, factory: sessionmaker[Session], ctx: EngineContext, demo: Demo) -> None:
    open_clue(factory, ctx, demo)
    login(client, "unit1")
    assert "张某某" not in client.get("/ledgers/clues").get_data(as_text=True)
    assert _clue_events(factory, "ledger_page") == 0
    login(client, "office1")
    html = client.get("/ledgers/clues").get_data(as_text=True)
    assert "张某某" in html and "被反映人姓名" in html and "干部管理权限" in html
    assert _clue_events(factory, "ledger_page") == 1


def test_export_import_and_reconcile_through_the_pages(
        client: FlaskClient, factory: sessionmaker[Session], ctx: EngineContext, demo: Demo) -> None:
    open_rectification(factory, ctx, demo)
    unit_id = demo.orgs["U-EDU"].id
    login(client, "unit1")
    exported = client.get(f"/ledgers/rectification/{unit_id}/export")
    assert exported.status_code == 200 and exported.mimetype == XLSX
    assert "attachment" in exported.headers["Content-Disposition"]
    wb = load_workbook(io.BytesIO(exported.data))
    wb["整改台账"].cell(5, 6, "建立意识形态工作台账")  # 整改措施 of the first item
    out = io.BytesIO()
    wb.save(out)
    preview = client.post(f"/ledgers/rectification/{unit_id}/import",
                          data={"file": (io.BytesIO(out.getvalue()), "台账.xlsx")}, content_type="multipart/form-data")
    html = preview.get_data(as_text=True)
    assert preview.status_code == 200 and "建立意识形态工作台账" in html and "确认导入" in html
    with factory() as s:
        assert s.execute(select(RectificationItem.measures).where(RectificationItem.number == "U-EDU-01")
                         ).scalar_one() is None  # nothing before confirming
    sheet = html.split('name="sheet" value="')[1].split('"')[0]
    basis = html.split('name="basis" value="')[1].split('"')[0]
    assert client.post(f"/ledgers/rectification/{unit_id}/import/confirm",
                       data={"sheet": sheet, "basis": basis}).status_code == 302
    with factory() as s:
        assert s.execute(select(RectificationItem.measures).where(RectificationItem.number == "U-EDU-01")
                         ).scalar_one() == "建立意识形态工作台账"
    refused = client.post(f"/ledgers/rectification/{unit_id}/import",
                          data={"file": (io.BytesIO(b"a,b"), "台账.csv")}, content_type="multipart/form-data")
    assert refused.status_code == 415
    assert client.post(f"/ledgers/rectification/{unit_id}/reconcile", data={"note": "月度对账"}).status_code == 302
    assert "自上次对账以来台账没有变动" in client.get(f"/ledgers/rectification/{unit_id}").get_data(as_text=True)


def test_the_api_from_intake_to_reconciliation(api: Api, factory: sessionmaker[Session], demo: Demo) -> None:
    inspection, unit_id = demo.inspections["U-EDU"].id, demo.orgs["U-EDU"].id
    group = api("group1")
    saved = group.client.put(f"/api/v1/inspections/{inspection}/reports/inspection",
                             json={"title": "巡察报告", "body": "……", "signed_by": "李强"},
                             headers={"Authorization": f"Bearer {group.token}"})
    assert saved.status_code == 200 and saved.get_json()["revision"] == 1
    stale = group.put(f"/inspections/{inspection}/reports/inspection", json={"title": "改", "revision": 7})
    assert stale.status_code == 409
    assert api("unit1").get(f"/inspections/{inspection}/reports").status_code == 404
    assert group.ok("GET", f"/inspections/{inspection}/reports")["reports"][2]["title"] == "巡察报告"
    bad = group.post(f"/inspections/{inspection}/clues", {"rows": [{"number": "XS-A-1"}]})
    assert bad.status_code == 422 and bad.get_json()["error"]["code"] == "rows_invalid"
    assert {r["column"] for r in bad.get_json()["error"]["details"]["rows"]} == {"被反映人姓名", "反映的主要问题",
                                                                                "移交对象"}
    clues = group.ok("POST", f"/inspections/{inspection}/clues", {"rows": [
        {"number": "XS-A-1", "person_name": "张某", "summary": "反映问题。", "receiving_body": "JW"}]}, 201)
    assert clues["clues"][0]["number"] == "XS-A-1"
    case = group.ok("POST", f"/inspections/{inspection}/findings",
                    {"rows": [{"description": "问题一"}, {"description": "问题二"}]}, 201)
    assert case["instance_id"]
    ledger = api("unit1").ok("GET", f"/ledgers/rectification/{unit_id}?per_page=1")
    assert ledger["total"] == 2 and len(ledger["items"]) == 1 and ledger["items"][0]["problem"] == "问题一"
    assert api("unit2").get(f"/ledgers/rectification/{unit_id}").status_code == 404
    assert api("unit1").ok("GET", "/ledgers/clues")["total"] == 0
    assert api("office1").ok("GET", "/ledgers/clues")["items"][0]["person_names"] == "张某"
    item_id = ledger["items"][0]["id"]
    unit = api("unit1")
    edited = unit.client.patch(f"/api/v1/ledgers/rectification-items/{item_id}",
                               json={"values": {"progress": "已部署"}},
                               headers={"Authorization": f"Bearer {unit.token}"})
    assert edited.status_code == 200 and edited.get_json()["changed"] == ["progress"]
    refused = unit.client.patch(f"/api/v1/ledgers/rectification-items/{item_id}",
                                json={"values": {"review_opinion": "同意"}},
                                headers={"Authorization": f"Bearer {unit.token}"})
    assert refused.status_code == 403
    created = api("office1").ok("POST", f"/ledgers/rectification/{unit_id}/reconciliations", {"note": "季度对账"}, 201)
    assert created["items"] == 2
    assert api("group1").ok("GET", f"/ledgers/rectification/{unit_id}/reconciliations/diff")["changed"] == []
    exported = api("office1").get(f"/ledgers/rectification/{unit_id}/export")
    assert exported.status_code == 200 and exported.mimetype == XLSX
    big = unit.post(f"/ledgers/rectification/{unit_id}/import/preview",
                    data={"file": (io.BytesIO(b"PK" + b"\0" * (6 * 1024 * 1024)), "big.xlsx")},
                    content_type="multipart/form-data")
    assert big.status_code == 413
    junk = unit.post(f"/ledgers/rectification/{unit_id}/import/preview",
                     data={"file": (io.BytesIO(b"not a workbook"), "x.xlsx")}, content_type="multipart/form-data")
    assert junk.status_code == 422
    assert json.loads(junk.data)["error"]["message"]


@pytest.fixture
def api(client: FlaskClient) -> Api:
    return Api(client)
