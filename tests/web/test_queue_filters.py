"""Queue filters and 常用筛选 on the queue page and over the API: the same parameters, the same answers, bad
ones refused with a message naming the parameter, and nobody touching anyone else's saved filters.

Two cases looked at on Thursday 2026-12-03 09:00: A, the rectification of 市教育局 (反馈 due 12-02: red),
and C, clue XS-2026-077 at 市卫健委, handed over to 组织部 (签收 due 12-03: yellow)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from engine.clock import FrozenClock
from engine.context import EngineContext
from engine.demo import Demo
from models import AuditEvent, SavedFilter
from tests.conftest import START
from tests.helpers import act, open_clue, open_rectification, ready_task
from tests.web.helpers import Api, api_for, login
from tests.web.test_api_openapi import check_response

NOW = datetime(2026, 12, 3, 9, 0, tzinfo=ZoneInfo("Asia/Shanghai"))


@dataclass
class Cases:
    a: int  # open task ids
    c: int


@pytest.fixture
def cases(factory: sessionmaker[Session], ctx: EngineContext, clock: FrozenClock, demo: Demo) -> Cases:
    a = open_rectification(factory, ctx, demo, unit="U-EDU", problems=1)
    clock.set(START + timedelta(days=5))
    c = open_clue(factory, ctx, demo, unit="U-HEALTH", receiving="ZZB", number="XS-2026-077")
    act(factory, ctx, "office1", c, "handover", {"handover_list": "线索材料 1 份"})
    clock.set(NOW)
    return Cases(ready_task(factory, a, "receive_feedback").id, ready_task(factory, c, "acknowledge").id)


@pytest.fixture
def api(db_url: str, ctx: EngineContext, demo: Demo) -> Iterator[Api]:
    with api_for(db_url, ctx) as client:
        yield client


def _ids(page: dict[str, Any]) -> list[int]:
    assert page["total"] == len(page["items"])
    return [t["id"] for t in page["items"]]


def _error(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.get_json()
    error: dict[str, Any] = response.get_json()["error"]
    assert error["code"] == code and error["message"]
    return error


# -- the API ---------------------------------------------------------------------------------------------------

def test_the_api_filters_a_queue_by_each_parameter(api: Api, cases: Cases, demo: Demo) -> None:
    office = api("office1")
    county = demo.orgs["COUNTY-A"].id
    for query, expected in [
        ("", [cases.a, cases.c]),
        ("colour=red", [cases.a]), ("colour=yellow", [cases.c]), ("colour=green", []),
        ("process=clue_disposition", [cases.c]), ("task=反馈", [cases.a]),
        (f"unit={demo.orgs['U-EDU'].id}", [cases.a]), (f"unit={demo.orgs['U-HEALTH'].path}", [cases.c]),
        (f"county={county}", []), (f"county={demo.orgs['CITY'].id}", [cases.a, cases.c]),
        ("assignee=unassigned", [cases.a, cases.c]), ("assignee=office1", []),
        ("created_from=2026-11-30", [cases.c]), ("due_to=2026-12-02", [cases.a]),
        ("q=xs-2026-077", [cases.c]), ("q=教育局", [cases.a]), ("sort=-due", [cases.c, cases.a]),
    ]:
        response = office.get(f"/tasks?queue=all&{query}")
        check_response("GET", "/tasks", response)
        assert _ids(response.get_json()) == expected, query
    assert _ids(api("zzb1").ok("GET", "/tasks?queue=group&colour=yellow")) == [cases.c]
    assert _ids(api("zzb1").ok("GET", "/tasks?queue=group&colour=red")) == []


@pytest.mark.parametrize(("query", "parameter"), [
    ("queue=all&colour=purple", "colour"), ("queue=all&round=x", "round"), ("queue=all&unit=教育局", "unit"),
    ("queue=all&unit=99999", "unit"), ("queue=all&created_from=2026-02-30", "created_from"),
    ("queue=all&due_from=2026-12-09&due_to=2026-12-01", "due_from"), ("queue=all&assignee=nobody", "assignee"),
    ("queue=mine&assignee=office1", "assignee"), ("queue=done&colour=red", "colour"), ("sort=sideways", "sort"),
    ("queue=everything", "queue"),
])
def test_bad_filter_parameters_are_400_naming_the_parameter(api: Api, cases: Cases, query: str,
                                                            parameter: str) -> None:
    response = api("office1").get(f"/tasks?{query}")
    check_response("GET", "/tasks", response)
    error = _error(response, 400, "invalid_input")
    assert error["details"]["parameter"] == parameter and parameter in error["message"]
    english = api("office1").get(f"/tasks?{query}", headers={"Accept-Language": "en"}).get_json()["error"]
    assert parameter in english["message"] and english["message"] != error["message"]


def test_all_stays_for_oversight_with_or_without_filters(api: Api, cases: Cases) -> None:
    _error(api("unit1").get("/tasks?queue=all&colour=red"), 403, "not_permitted")
    _error(api("unit1").post("/saved-filters", {"name": "全部", "queue": "all"}), 403, "not_permitted")


def test_saved_filters_over_the_api(api: Api, cases: Cases, factory: sessionmaker[Session]) -> None:
    office, unit = api("office1"), api("unit1")
    overdue = {"name": "逾期", "queue": "all", "params": {"colour": "red", "sort": "-due"}}
    created = office.post("/saved-filters", overdue)
    check_response("POST", "/saved-filters", created)
    assert created.status_code == 201
    saved = created.get_json()
    assert (saved["name"], saved["queue"], saved["params"]) == ("逾期", "all", {"colour": "red", "sort": "-due"})
    assert _ids(office.ok("GET", saved["tasks_url"].removeprefix("/api/v1"))) == [cases.a]

    duplicate = office.post("/saved-filters", {"name": "逾期", "queue": "all", "params": {"colour": "yellow"}})
    check_response("POST", "/saved-filters", duplicate)
    assert _error(duplicate, 409, "conflict")["details"]["id"] == saved["id"]
    replaced = office.post("/saved-filters", {"name": "逾期", "queue": "all", "params": {"colour": "yellow"},
                                              "replace": True})
    check_response("POST", "/saved-filters", replaced)
    assert replaced.status_code == 200 and replaced.get_json()["id"] == saved["id"]
    assert _ids(office.ok("GET", replaced.get_json()["tasks_url"].removeprefix("/api/v1"))) == [cases.c]

    theirs = unit.ok("POST", "/saved-filters", {"name": "逾期", "params": {"colour": "red"}}, status=201)
    listed = office.get("/saved-filters")
    check_response("GET", "/saved-filters", listed)
    assert [f["id"] for f in listed.get_json()["items"]] == [saved["id"]]

    not_mine = office.client.delete(f"/api/v1/saved-filters/{theirs['id']}",
                                    headers={"Authorization": f"Bearer {office.token}"})
    check_response("DELETE", "/saved-filters/{filter_id}", not_mine)
    _error(not_mine, 404, "not_found")
    with factory() as s:
        assert s.get(SavedFilter, theirs["id"]) is not None
    gone = office.client.delete(f"/api/v1/saved-filters/{saved['id']}",
                                headers={"Authorization": f"Bearer {office.token}"})
    check_response("DELETE", "/saved-filters/{filter_id}", gone)
    assert gone.status_code == 204
    assert office.ok("GET", "/saved-filters")["items"] == []
    assert [f["id"] for f in unit.ok("GET", "/saved-filters")["items"]] == [theirs["id"]]
    with factory() as s:
        kinds = s.execute(select(AuditEvent.event_type, AuditEvent.actor_name).where(
            AuditEvent.event_type.like("saved_filter_%")).order_by(AuditEvent.id)).all()
    assert [tuple(k) for k in kinds] == [("saved_filter_created", "office1"), ("saved_filter_replaced", "office1"),
                                         ("saved_filter_created", "unit1"), ("saved_filter_deleted", "office1")]


@pytest.mark.parametrize(("body", "field"), [
    (None, None), ({"queue": "mine"}, "name"), ({"name": "x", "params": "colour=red"}, "params"),
    ({"name": "x", "params": {"colour": "purple"}}, "colour"), ({"name": "x", "params": {"per_page": 5}}, "per_page"),
    ({"name": "x", "replace": "yes"}, "replace"),
])
def test_malformed_saved_filters_are_400(api: Api, cases: Cases, body: Any, field: str | None) -> None:
    response = api("office1").post("/saved-filters", body)
    check_response("POST", "/saved-filters", response)
    details = _error(response, 400, "invalid_input")["details"]
    if field:
        assert field in (details.get("parameter"), details.get("field"))
    assert api("office1").ok("GET", "/saved-filters")["items"] == []


# -- the pages -------------------------------------------------------------------------------------------------

def test_the_queue_page_filters_and_offers_only_visible_choices(client: FlaskClient, cases: Cases,
                                                               demo: Demo) -> None:
    login(client, "office1")
    page = client.get("/tasks?queue=all&colour=red").get_data(as_text=True)
    assert "ZG-2026-" in page and "XS-2026-077" not in page
    assert '<option value="red" selected>' in page
    assert "某县" in page and "市教育局" in page and "2026年第一轮常规巡察" in page  # county, unit, round choices
    page = client.get("/tasks?queue=all&q=XS-2026-077").get_data(as_text=True)
    assert "XS-2026-077" in page and "ZG-2026-" not in page
    assert "没有符合筛选条件的任务" in client.get("/tasks?queue=all&colour=green").get_data(as_text=True)

    client.post("/logout")
    login(client, "unit1")
    page = client.get("/tasks?queue=group").get_data(as_text=True)
    assert "市教育局" in page and "市卫生健康委员会" not in page and "某县" not in page
    assert 'name="assignee"' not in page  # 全部 only


def test_a_bad_parameter_on_the_page_is_400_with_the_reason(client: FlaskClient, cases: Cases) -> None:
    login(client, "office1")
    for query, parameter in (("colour=purple", "colour"), ("created_from=2026-13-01", "created_from"),
                             ("unit=99999", "unit")):
        response = client.get(f"/tasks?queue=all&{query}")
        assert response.status_code == 400
        assert f"参数 {parameter} 无效" in response.get_data(as_text=True)


def test_saving_using_and_deleting_a_filter_on_the_page(client: FlaskClient, cases: Cases, demo: Demo,
                                                        factory: sessionmaker[Session], ctx: EngineContext) -> None:
    login(client, "office1")
    form = {"name": "逾期的", "queue": "all", "colour": "red", "sort": "-due", "q": ""}
    response = client.post("/tasks/saved-filters", data=form)
    assert response.status_code == 302 and "colour=red" in response.headers["Location"]
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "已保存常用筛选“逾期的”" in page
    with factory() as s:
        row = s.execute(select(SavedFilter)).scalar_one()
    assert (row.queue, row.params) == ("all", {"colour": "red", "sort": "-due"})
    assert f'action="/tasks/saved-filters/{row.id}/delete"' in page
    assert 'data-confirm="确定删除常用筛选“逾期的”？"' in page
    link = 'href="/tasks?queue=all&amp;colour=red&amp;sort=-due">逾期的</a>'
    assert link in client.get("/tasks?queue=mine").get_data(as_text=True)

    again = client.post("/tasks/saved-filters", data={**form, "colour": "yellow"}, follow_redirects=True)
    assert "已有名为“逾期的”的常用筛选" in again.get_data(as_text=True)
    replaced = client.post("/tasks/saved-filters", data={**form, "colour": "yellow", "replace": "1"},
                           follow_redirects=True)
    assert "已覆盖常用筛选“逾期的”" in replaced.get_data(as_text=True)
    with factory() as s:
        assert s.get(SavedFilter, row.id).params == {"colour": "yellow", "sort": "-due"}  # type: ignore[union-attr]

    client.post("/logout")
    login(client, "leader1")
    assert client.post(f"/tasks/saved-filters/{row.id}/delete").status_code == 404
    assert "逾期的" not in client.get("/tasks?queue=all").get_data(as_text=True)
    client.post("/logout")
    login(client, "office1")
    deleted = client.post(f"/tasks/saved-filters/{row.id}/delete", data={"back_queue": "all"})
    assert deleted.status_code == 302 and deleted.headers["Location"].endswith("/tasks?queue=all")
    assert "已删除常用筛选“逾期的”" in client.get(deleted.headers["Location"]).get_data(as_text=True)
    with factory() as s:
        assert s.execute(select(SavedFilter)).first() is None


def test_a_saved_filter_with_a_bad_name_is_explained_not_saved(client: FlaskClient, cases: Cases,
                                                               factory: sessionmaker[Session]) -> None:
    login(client, "unit1")
    response = client.post("/tasks/saved-filters", data={"name": "  ", "queue": "mine"}, follow_redirects=True)
    assert "筛选名称须为" in response.get_data(as_text=True)
    response = client.post("/tasks/saved-filters", data={"name": "全部", "queue": "all"})
    assert response.status_code == 403
    with factory() as s:
        assert s.execute(select(SavedFilter)).first() is None
