"""统计、报告、凡提必用 pages from both sides: who reaches them, what they show, what they record."""

from __future__ import annotations

import json
import re
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from engine.db import transaction
from models import AuditEvent, RectificationItem
from tests.helpers import add_user, open_clue, open_rectification
from tests.web.helpers import login


def _client(app, username):
    client = app.test_client()
    login(client, username)
    return client


def _events(factory, kind):
    with factory() as session:
        return [json.loads(e.payload) for e in session.execute(
            select(AuditEvent).where(AuditEvent.event_type == kind).order_by(AuditEvent.id)).scalars()]


def test_the_dashboard_shows_the_figures_and_carries_the_chart_data(app, factory, ctx, demo):
    instance_id = open_rectification(factory, ctx, demo, problems=2)
    with transaction(factory) as session:
        session.execute(update(RectificationItem).where(RectificationItem.instance_id == instance_id)
                        .values(due_at=ctx.clock.now() - timedelta(days=5)))
    open_clue(factory, ctx, demo, number="XS-D-1")

    page = _client(app, "office1").get("/dashboard")

    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert 'data-testid="items-total">2<' in html and 'data-testid="overdue-total">2<' in html
    data = json.loads(re.search(r'<script type="application/json" id="dashboard-data">(.*?)</script>', html, re.S)[1])
    assert data["rectification"]["overdue"] == 2 and data["clues"]["total"] == 1
    assert "XS-D-1" not in html  # clues are counted, never listed here
    assert "build/dashboard.js" in html and "<script>" not in html


@pytest.mark.parametrize("username", ["unit1", "group1", "jw1", "designer1"])
def test_the_dashboard_and_reports_are_refused_outside_the_office_and_leading_group(app, username):
    client = _client(app, username)
    assert client.get("/dashboard").status_code == 403
    assert client.get("/reports").status_code == 403
    assert client.post("/reports", data={"kind": "bulletin"}).status_code == 403


def test_drilling_down_to_a_county_outside_ones_scope_is_not_found(app, factory, demo):
    assert _client(app, "leader1").get("/dashboard?county=COUNTY-A").status_code == 200
    add_user(factory, "county_dash", "COUNTY-A-OFFICE", [("office", "COUNTY-A")])
    client = _client(app, "county_dash")
    assert client.get("/dashboard?county=NO-SUCH").status_code == 404
    assert client.get("/dashboard").status_code == 200


def test_the_office_generates_a_bulletin_and_the_leading_group_downloads_it(app, factory, ctx, demo):
    open_rectification(factory, ctx, demo, problems=1)
    office = _client(app, "office1")

    generated = office.post("/reports", data={"kind": "bulletin"})
    assert generated.status_code == 302
    listing = _client(app, "leader1").get("/reports").get_data(as_text=True)
    report_id = int(re.search(r"/reports/(\d+)\.pdf", listing)[1])
    assert "第1期" in listing

    pdf = _client(app, "leader1").get(f"/reports/{report_id}.pdf")
    assert pdf.status_code == 200 and pdf.data.startswith(b"%PDF") and pdf.mimetype == "application/pdf"
    assert "attachment" in pdf.headers["Content-Disposition"]
    assert _client(app, "leader1").post("/reports", data={"kind": "bulletin"}).status_code == 403
    assert office.post("/reports", data={"kind": "nonsense"}).status_code == 400
    assert _events(factory, "report_generated")[0]["kind"] == "bulletin"


def test_a_promotion_check_by_person_lists_clues_and_items_and_is_audited(app, factory, ctx, demo):
    open_clue(factory, ctx, demo, number="XS-P-1",
              persons=[{"name": "张某某", "post": "科长", "rank": "正科级", "id_number": "410100198001011234"}])
    open_clue(factory, ctx, demo, number="XS-P-2", person="李某某")

    client = _client(app, "zzb1")
    assert client.get("/promotion-checks").status_code == 200
    page = client.post("/promotion-checks", data={"kind": "person", "name": "张某某",
                                                  "id_number": "410100198001011234"})

    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "XS-P-1" in html and "XS-P-2" not in html
    assert "data-print" in html
    checks = _events(factory, "promotion_check")
    assert checks[-1]["query"]["name"] == "张某某" and len(checks[-1]["clue_ids"]) == 1
    assert any(e["via"] == "promotion_check" for e in _events(factory, "clue_viewed"))


def test_a_promotion_check_needs_an_id_number_or_a_unit_and_is_refused_to_others(app, factory, ctx, demo):
    client = _client(app, "zzb1")
    missing = client.post("/promotion-checks", data={"kind": "person", "name": "张某某"})
    assert missing.status_code == 400 and "身份证号" in missing.get_data(as_text=True)
    assert _events(factory, "promotion_check") == []
    for username in ("unit1", "jw1", "group1", "leader1"):
        assert _client(app, username).post("/promotion-checks", data={"kind": "unit", "unit_code": "U-EDU"}
                                           ).status_code == 403


def test_a_promotion_check_by_unit_lists_its_rectification_items(app, factory, ctx, demo):
    open_rectification(factory, ctx, demo, unit="U-EDU", problems=["干部档案管理不规范。"])
    open_clue(factory, ctx, demo, unit="U-EDU", number="XS-U-1")

    html = _client(app, "office1").post("/promotion-checks", data={"kind": "unit", "unit_code": "U-EDU"}
                                        ).get_data(as_text=True)

    assert "干部档案管理不规范。" in html and "XS-U-1" in html
