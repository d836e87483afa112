"""延期 and 中止/挂起 through the pages and the API: the holder asks on the task page, the office decides
on 延期审批, the moved deadline shows its original; the office suspends and resumes on the case page.
Each refusal (wrong person, bad input) is the right status and changes nothing."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy.orm import Session, sessionmaker

from engine.context import EngineContext
from engine.demo import Demo
from tests.helpers import instance, open_rectification, ready_task, task_row
from tests.web.helpers import Api, api_for, login


@pytest.fixture
def api(db_url: str, ctx: EngineContext, demo: Demo) -> Iterator[Api]:
    with api_for(db_url, ctx) as client:
        yield client


def _held_feedback(factory: sessionmaker[Session], ctx: EngineContext, demo: Demo, client: FlaskClient
                   ) -> tuple[int, int]:
    iid = open_rectification(factory, ctx, demo)
    task = ready_task(factory, iid, "receive_feedback")
    login(client, "unit1")
    assert client.post(f"/tasks/{task.id}/claim").status_code == 302
    return iid, task.id


def test_the_holder_asks_on_the_task_page_and_the_office_approves_on_the_list(
        client: FlaskClient, factory: sessionmaker[Session], ctx: EngineContext, demo: Demo) -> None:
    iid, task_id = _held_feedback(factory, ctx, demo, client)
    page = client.get(f"/tasks/{task_id}").get_data(as_text=True)
    assert f"/tasks/{task_id}/extension" in page and "申请延期" in page
    first_due = task_row(factory, task_id).due_at

    refused = client.post(f"/tasks/{task_id}/extension", data={"requested_due_at": "2026-11-30", "reason": "x"},
                          follow_redirects=True).get_data(as_text=True)
    assert "申请的期限须晚于当前期限" in refused
    client.post(f"/tasks/{task_id}/extension", data={"requested_due_at": "2026-12-31", "reason": "材料较多"})
    page = client.get(f"/tasks/{task_id}").get_data(as_text=True)
    assert "待审批" in page and "材料较多" in page and "申请延期至" not in page  # one pending at a time
    assert "/withdraw" in page

    client.post("/logout")
    login(client, "office1")
    listing = client.get("/extensions").get_data(as_text=True)
    assert "材料较多" in listing and "/approve" in listing and "confirm(" in listing
    request_id = int(listing.split('data-testid="extension-')[1].split('"')[0])
    done = client.post(f"/extensions/{request_id}/approve", data={"note": "同意"}, follow_redirects=True)
    assert "已批准延期" in done.get_data(as_text=True)
    task = task_row(factory, task_id)
    assert task.original_due_at == first_due and task.due_at is not None and task.due_at > first_due
    page = client.get(f"/tasks/{task_id}").get_data(as_text=True)
    assert "原定期限" in page and "已延期至 2026-12-31" in page and "已批准" in page
    for case_page in (f"/cases/{iid}", f"/cases/{iid}/diagram"):  # both show 当前环节 the same way
        assert "已延期至 2026-12-31" in client.get(case_page).get_data(as_text=True)


def test_people_who_may_not_decide_see_no_buttons_and_are_refused(
        client: FlaskClient, factory: sessionmaker[Session], ctx: EngineContext, demo: Demo) -> None:
    iid, task_id = _held_feedback(factory, ctx, demo, client)
    client.post(f"/tasks/{task_id}/extension", data={"requested_due_at": "2026-12-31", "reason": "材料较多"})
    client.post("/logout")
    login(client, "leader1")  # sees the case, is not the approving group
    listing = client.get("/extensions").get_data(as_text=True)
    assert "材料较多" not in listing
    page = client.get(f"/tasks/{task_id}").get_data(as_text=True)
    assert "材料较多" in page and "/approve" not in page
    client.post("/logout")
    login(client, "unit2")  # another unit: the case does not exist for them
    assert client.get(f"/tasks/{task_id}").status_code == 404
    assert task_row(factory, task_id).original_due_at is None
    assert instance(factory, iid).status == "running"


def test_the_office_suspends_and_resumes_on_the_case_page(
        client: FlaskClient, factory: sessionmaker[Session], ctx: EngineContext, demo: Demo) -> None:
    iid = open_rectification(factory, ctx, demo)
    login(client, "unit1")
    assert "中止案件" not in client.get(f"/cases/{iid}").get_data(as_text=True)
    assert client.post(f"/cases/{iid}/suspend", data={"reason": "x"}).status_code == 302
    assert instance(factory, iid).status == "running"  # refused, with a message
    client.post("/logout")
    login(client, "office1")
    page = client.get(f"/cases/{iid}").get_data(as_text=True)
    assert "中止案件" in page and "confirm(" in page
    empty = client.post(f"/cases/{iid}/suspend", data={"reason": " "}, follow_redirects=True)
    assert "请填写中止理由" in empty.get_data(as_text=True) and instance(factory, iid).status == "running"
    client.post(f"/cases/{iid}/suspend", data={"reason": "等待审计结论"})
    page = client.get(f"/cases/{iid}").get_data(as_text=True)
    assert instance(factory, iid).status == "suspended" and "案件已中止" in page and "恢复办理" in page
    client.post(f"/cases/{iid}/resume", data={})
    assert instance(factory, iid).status == "running"


def test_the_api_refuses_the_wrong_people_and_bad_input_and_grants_the_approver(
        api: Any, factory: sessionmaker[Session], ctx: EngineContext, demo: Demo) -> None:
    iid = open_rectification(factory, ctx, demo)
    unit, office, leader, other_unit = api("unit1"), api("office1"), api("leader1"), api("unit2")
    task_id = unit.group_task(iid, "receive_feedback")
    unit.ok("POST", f"/tasks/{task_id}/claim")
    path = f"/tasks/{task_id}/extension-requests"
    assert office.post(path, json={"requested_due_at": "2026-12-31", "reason": "x"}).status_code == 403
    assert other_unit.post(path, json={"requested_due_at": "2026-12-31", "reason": "x"}).status_code == 404
    bad = unit.post(path, json={"requested_due_at": "31/12/2026", "reason": "x"})
    assert bad.status_code == 422 and "requested_due_at" in bad.get_json()["error"]["details"]["fields"]
    assert unit.post(path, json={"requested_due_at": "2026-12-31", "reason": ""}).status_code == 422
    made = unit.ok("POST", path, json={"requested_due_at": "2026-12-31", "reason": "材料较多"}, status=201)
    assert made["status"] == "pending" and made["may_withdraw"] and not made["may_decide"]
    assert unit.post(path, json={"requested_due_at": "2027-01-29", "reason": "x"}).status_code == 409
    listed = office.ok("GET", "/extension-requests?status=pending")["items"]
    assert [r["id"] for r in listed] == [made["id"]] and listed[0]["may_decide"]
    assert leader.ok("GET", "/extension-requests")["items"] == []
    assert leader.post(f"/extension-requests/{made['id']}/approve").status_code == 403
    assert other_unit.post(f"/extension-requests/{made['id']}/approve").status_code == 404
    assert unit.post(f"/extension-requests/{made['id']}/approve").status_code == 403
    assert task_row(factory, task_id).original_due_at is None
    granted = office.ok("POST", f"/extension-requests/{made['id']}/approve", json={"note": "同意"})
    assert granted["status"] == "approved" and granted["decided_by"] == "office1"
    assert unit.ok("GET", f"/tasks/{task_id}")["due_at"].startswith("2026-12-31T23:59:59")

    assert unit.post(f"/instances/{iid}/suspend", json={"reason": "x"}).status_code == 403
    assert other_unit.post(f"/instances/{iid}/suspend", json={"reason": "x"}).status_code == 404
    assert office.post(f"/instances/{iid}/suspend", json={}).status_code == 422
    assert office.ok("POST", f"/instances/{iid}/suspend", json={"reason": "等待审计"})["status"] == "suspended"
    assert unit.post(f"/tasks/{task_id}/complete", json={"data": {}}).status_code == 409
    assert office.ok("POST", f"/instances/{iid}/resume")["status"] == "running"
    assert office.post(f"/instances/{iid}/resume").status_code == 409

