"""工作日历 from both sides: the office's page and API edit the business calendar (audited, seen at once
by deadlines computed afterwards); anyone logged in reads it over the API; nobody else gets the page
or makes an edit."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest
from flask import Flask
from sqlalchemy import select

from engine import calendar
from engine.context import EngineContext
from engine.demo import Demo
from models import AuditEvent, CalendarDay
from tests.web.helpers import API, Api, login, make_app

BEIJING = ZoneInfo("Asia/Shanghai")
WEDNESDAY = datetime(2026, 11, 25, 9, 0, tzinfo=BEIJING)


@pytest.fixture
def app(db_url: str, ctx: EngineContext, demo: Demo) -> Iterator[Flask]:
    app = make_app(db_url, ctx, WTF_CSRF_ENABLED=False)
    yield app
    app.extensions["xuncha.engine"].dispose()


def _events(factory, kind: str) -> list[dict]:
    with factory() as session:
        rows = session.execute(select(AuditEvent).where(AuditEvent.event_type == kind).order_by(AuditEvent.seq))
        return [json.loads(e.payload) for e in rows.scalars()]


def test_the_office_sees_the_year_with_its_holidays_and_a_warning_that_next_year_is_missing(app):
    client = app.test_client()
    login(client, "office1")
    page = client.get("/calendar?year=2026")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert '<td class="holiday" data-day="2026-02-16" title="春节">16</td>' in html
    assert '<td class="makeup" data-day="2026-02-14" title="春节调休">14</td>' in html
    assert '<td class="makeup" data-day="2026-10-10" title="国庆节调休">10</td>' in html
    assert 'data-testid="missing-year"' in html and "2027 年的节假日安排尚未录入" in html
    nav = client.get("/calendar").get_data(as_text=True)
    assert 'href="/calendar"' in nav  # the nav link, for office users
    later = client.get("/calendar?year=2027").get_data(as_text=True)
    assert "本年安排尚未录入" in later and "确认本年安排已录入" in later
    assert client.get("/calendar?year=abc").status_code == 400


def test_other_people_get_403_on_the_page_and_every_edit(app, factory):
    client = app.test_client()
    login(client, "unit1")
    assert client.get("/calendar").status_code == 403
    assert 'href="/calendar"' not in client.get("/notifications").get_data(as_text=True)
    assert client.post("/calendar/days", data={"day": "2026-12-01", "working": "0", "note": "x"}).status_code == 403
    assert client.get("/calendar/days/2026-02-16/remove").status_code == 403
    assert client.post("/calendar/days/2026-02-16/remove").status_code == 403
    assert client.post("/calendar/2026/load").status_code == 403
    with factory() as session:
        assert session.get(CalendarDay, date(2026, 2, 16)) is not None
        assert session.get(CalendarDay, date(2026, 12, 1)) is None


def test_the_office_adds_a_local_day_off_and_deadlines_computed_afterwards_move(app, factory):
    client = app.test_client()
    login(client, "office1")
    assert calendar.deadline_after(WEDNESDAY, 3).astimezone(BEIJING).date() == date(2026, 11, 30)
    saved = client.post("/calendar/days", data={"day": "2026-11-27", "working": "0", "note": "台风停工"},
                        follow_redirects=True)
    assert saved.status_code == 200 and "已登记 2026-11-27 为休息日（台风停工）" in saved.get_data(as_text=True)
    assert calendar.deadline_after(WEDNESDAY, 3).astimezone(BEIJING).date() == date(2026, 12, 1)
    assert _events(factory, "calendar_day_set") == [
        {"day": "2026-11-27", "before": None, "after": {"working": False, "note": "台风停工", "source": "office"}}]


def test_a_day_the_weekday_already_settles_is_refused_beside_the_field(app, factory):
    client = app.test_client()
    login(client, "office1")
    page = client.post("/calendar/days", data={"day": "2026-11-25", "working": "1", "note": "加班"})
    html = page.get_data(as_text=True)
    assert page.status_code == 422 and "本来就是工作日" in html and 'class="field-error"' in html
    assert 'value="加班"' in html  # what was typed stays
    bad = client.post("/calendar/days", data={"day": "2026-02-30", "working": "0", "note": "x"})
    assert bad.status_code == 422 and "日期无效" in bad.get_data(as_text=True)
    assert _events(factory, "calendar_day_set") == []


def test_removing_asks_first_then_the_day_follows_its_weekday(app, factory):
    client = app.test_client()
    login(client, "office1")
    confirm = client.get("/calendar/days/2026-02-14/remove")
    assert confirm.status_code == 200 and "春节调休" in confirm.get_data(as_text=True)
    with factory() as session:
        assert session.get(CalendarDay, date(2026, 2, 14)) is not None  # asking changed nothing
    done = client.post("/calendar/days/2026-02-14/remove", follow_redirects=True)
    assert done.status_code == 200 and "已删除 2026-02-14 的登记" in done.get_data(as_text=True)
    assert not calendar.is_working_day(date(2026, 2, 14))
    assert client.get("/calendar/days/2026-02-14/remove").status_code == 404
    assert _events(factory, "calendar_day_removed")[0]["before"]["note"] == "春节调休"
    reloaded = client.post("/calendar/2026/load", follow_redirects=True)
    assert "新增 1 天" in reloaded.get_data(as_text=True)
    assert calendar.is_working_day(date(2026, 2, 14))
    assert client.post("/calendar/2031/load").status_code == 404


def test_the_api_reads_for_everyone_and_edits_for_the_office(app, factory):
    api = Api(app.test_client())
    unit, office = api("unit1"), api("office1")
    year = unit.get("/calendar?year=2026").get_json()
    assert year["known"] and year["source"] == "chinese_calendar" and year["missing_year"] == 2027
    days = {d["date"]: d for d in year["days"]}
    assert days["2026-02-16"]["working"] is False and days["2026-02-28"]["working"] is True
    assert unit.get("/calendar").get_json()["year"] == 2026
    assert unit.get("/calendar?year=2031").get_json()["known"] is False

    assert unit.put("/calendar/days/2026-12-01", json={"working": False, "note": "x"}).status_code == 403
    headers = {"Authorization": f"Bearer {unit.token}"}
    assert api.client.delete(f"{API}/calendar/days/2026-02-16", headers=headers).status_code == 403

    created = office.put("/calendar/days/2026-11-27", json={"working": False, "note": "台风停工"})
    assert created.status_code == 201 and created.get_json()["source"] == "office"
    assert calendar.deadline_after(WEDNESDAY, 3).astimezone(BEIJING).date() == date(2026, 12, 1)
    changed = office.put("/calendar/days/2026-11-27", json={"working": False, "note": "台风停工（全市）"})
    assert changed.status_code == 200 and changed.get_json()["note"] == "台风停工（全市）"
    refused = office.put("/calendar/days/2026-11-28", json={"working": False, "note": "周六"})
    assert refused.status_code == 422 and "working" in refused.get_json()["error"]["details"]["fields"]
    assert office.put("/calendar/days/2026-11-31", json={"working": False, "note": "x"}).status_code == 400
    office_headers = {"Authorization": f"Bearer {office.token}"}
    assert api.client.delete(f"{API}/calendar/days/2026-11-27", headers=office_headers).status_code == 204
    assert api.client.delete(f"{API}/calendar/days/2026-11-27", headers=office_headers).status_code == 404
    assert calendar.deadline_after(WEDNESDAY, 3).astimezone(BEIJING).date() == date(2026, 11, 30)
    assert [e["after"] for e in _events(factory, "calendar_day_set")] == [
        {"working": False, "note": "台风停工", "source": "office"},
        {"working": False, "note": "台风停工（全市）", "source": "office"}]
    assert len(_events(factory, "calendar_day_removed")) == 1
