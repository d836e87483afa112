"""Drafts on the task page (保存草稿, the second submit button) and in the API (PUT/GET .../draft)."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from engine import drafts
from engine.context import EngineContext
from engine.db import transaction
from engine.demo import Demo
from engine.runtime import claim_task
from models import TaskDraft, TaskStatus
from tests.helpers import open_rectification, ready_task, task_row
from tests.web.helpers import Api, api_for, login

DRAFT_BUTTON = 'name="_action" value="draft"'


def _revision(html: str) -> str:
    match = re.search(r'name="revision" value="(\d+)"', html)
    assert match
    return match.group(1)


def _drafts(factory: sessionmaker[Session]) -> int:
    with factory() as s:
        return int(s.execute(select(func.count()).select_from(TaskDraft)).scalar_one())


def _claimed(factory: sessionmaker[Session], ctx: EngineContext, demo: Demo, username: str = "unit1") -> int:
    task_id = ready_task(factory, open_rectification(factory, ctx, demo), "receive_feedback").id
    with transaction(factory) as s:
        claim_task(s, ctx, demo.actor(username), task_id)
    return task_id


@pytest.fixture
def api(db_url: str, ctx: EngineContext, demo: Demo) -> Iterator[Api]:
    with api_for(db_url, ctx) as client:
        yield client


def test_the_holder_saves_an_unfinished_form_and_finds_it_on_the_task_page(
        client: FlaskClient, factory: sessionmaker[Session], ctx: EngineContext, demo: Demo) -> None:
    task_id = _claimed(factory, ctx, demo)
    login(client, "unit1")
    page = client.get(f"/tasks/{task_id}").get_data(as_text=True)
    assert DRAFT_BUTTON in page and "草稿已保存于" not in page
    revision = _revision(page)

    saved = client.post(f"/tasks/{task_id}/complete", data={
        "_action": "draft", "revision": revision, "feedback_received_on": "下周一",
        "feedback_meeting_note": "会议纪要"})

    assert saved.status_code == 302 and saved.headers["Location"].endswith(f"/tasks/{task_id}")
    page = client.get(f"/tasks/{task_id}").get_data(as_text=True)
    assert "草稿已保存。" in page and "草稿已保存于" in page and ">09:00</time>" in page
    assert 'value="下周一"' in page and "会议纪要" in page
    assert "此项为必填项" not in page and "请输入有效日期" not in page  # a draft is not validated
    assert task_row(factory, task_id).status == TaskStatus.READY
    assert _revision(page) == revision  # saving a draft does not make the open form stale

    done = client.post(f"/tasks/{task_id}/complete", data={
        "revision": revision, "feedback_received_on": "2026-11-25", "feedback_meeting_note": "会议纪要"})
    assert done.status_code == 302
    assert task_row(factory, task_id).status == TaskStatus.COMPLETED
    assert _drafts(factory) == 0


def test_a_candidate_who_has_not_claimed_gets_no_draft_button_and_cannot_save_one(
        client: FlaskClient, factory: sessionmaker[Session], ctx: EngineContext, demo: Demo) -> None:
    task = ready_task(factory, open_rectification(factory, ctx, demo), "receive_feedback")
    login(client, "unit1")
    page = client.get(f"/tasks/{task.id}").get_data(as_text=True)
    assert "提交时将自动签收此任务" in page and DRAFT_BUTTON not in page

    refused = client.post(f"/tasks/{task.id}/complete", data={
        "_action": "draft", "revision": _revision(page), "feedback_meeting_note": "x"})

    assert refused.status_code == 409 and "只有任务的办理人可以保存草稿" in refused.get_data(as_text=True)
    assert _drafts(factory) == 0 and task_row(factory, task.id).assignee_id is None


def test_a_draft_from_a_stale_form_is_refused(
        client: FlaskClient, factory: sessionmaker[Session], ctx: EngineContext, demo: Demo) -> None:
    task_id = _claimed(factory, ctx, demo)
    login(client, "unit1")
    stale = str(task_row(factory, task_id).revision - 1)
    response = client.post(f"/tasks/{task_id}/complete", data={
        "_action": "draft", "revision": stale, "feedback_meeting_note": "x"})
    assert response.status_code == 409 and "请刷新后重新提交" in response.get_data(as_text=True)
    assert _drafts(factory) == 0


def test_the_draft_is_shown_only_to_its_author(
        client: FlaskClient, factory: sessionmaker[Session], ctx: EngineContext, demo: Demo) -> None:
    task_id = _claimed(factory, ctx, demo)
    with transaction(factory) as s:
        drafts.save_draft(s, ctx, demo.actor("unit1"), task_id, {"feedback_meeting_note": "只给自己看的草稿"})
    login(client, "office1")  # oversees the case: sees the task, not the liaison's draft
    page = client.get(f"/tasks/{task_id}").get_data(as_text=True)
    assert "反馈" in page and "只给自己看的草稿" not in page and "草稿已保存于" not in page


def test_api_saves_and_reads_back_the_callers_draft(api: Api, factory: sessionmaker[Session], ctx: EngineContext,
                                                    demo: Demo) -> None:
    task_id = _claimed(factory, ctx, demo)
    unit = api("unit1")
    assert unit.ok("GET", f"/tasks/{task_id}/draft") == {"task_id": task_id, "data": None, "saved_at": None}
    revision = unit.ok("GET", f"/tasks/{task_id}")["revision"]

    saved = unit.put(f"/tasks/{task_id}/draft", json={"data": {"feedback_received_on": "不详"}, "revision": revision})

    assert saved.status_code == 200
    body = {"task_id": task_id, "data": {"feedback_received_on": "不详"}, "saved_at": "2026-11-25T09:00:00+08:00"}
    assert saved.get_json() == body
    assert unit.ok("GET", f"/tasks/{task_id}/draft") == body
    assert unit.ok("GET", f"/tasks/{task_id}")["revision"] == revision
    assert api("office1").ok("GET", f"/tasks/{task_id}/draft")["data"] is None  # only one's own


def test_api_refuses_drafts_from_anyone_but_the_holder_and_hides_the_task_from_strangers(
        api: Api, factory: sessionmaker[Session], ctx: EngineContext, demo: Demo) -> None:
    task_id = _claimed(factory, ctx, demo)
    office = api("office1").put(f"/tasks/{task_id}/draft", json={"data": {}})
    assert office.status_code == 409 and office.get_json()["error"]["code"] == "task_not_claimed_by_you"
    for response in (api("unit2").put(f"/tasks/{task_id}/draft", json={"data": {}}),
                     api("unit2").get(f"/tasks/{task_id}/draft")):
        assert response.status_code == 404 and response.get_json()["error"]["code"] == "not_found"
    assert _drafts(factory) == 0


def test_api_refuses_bad_drafts_with_the_fitting_status(api: Api, factory: sessionmaker[Session],
                                                        ctx: EngineContext, demo: Demo) -> None:
    task_id = _claimed(factory, ctx, demo)
    unit = api("unit1")
    path = f"/tasks/{task_id}/draft"

    too_big = unit.put(path, json={"data": {"feedback_meeting_note": "x" * drafts.MAX_DRAFT_BYTES}})
    unknown = unit.put(path, json={"data": {"plan_summary": "x"}})
    not_object = unit.put(path, json={"data": ["x"]})
    stale = unit.put(path, json={"data": {}, "revision": 0})

    assert too_big.status_code == 413 and too_big.get_json()["error"]["code"] == "too_large"
    assert unknown.status_code == 422 and set(unknown.get_json()["error"]["details"]["fields"]) == {"plan_summary"}
    assert not_object.status_code == 400
    assert stale.status_code == 409 and stale.get_json()["error"]["code"] == "stale_state"
    assert _drafts(factory) == 0


def test_api_completing_the_task_discards_the_draft(api: Api, factory: sessionmaker[Session],
                                                    ctx: EngineContext, demo: Demo) -> None:
    task_id = _claimed(factory, ctx, demo)
    unit = api("unit1")
    assert unit.put(f"/tasks/{task_id}/draft", json={"data": {"feedback_meeting_note": "草稿"}}).status_code == 200
    unit.ok("POST", f"/tasks/{task_id}/complete", {"data": {"feedback_received_on": "2026-11-25"}})
    assert unit.ok("GET", f"/tasks/{task_id}/draft")["data"] is None
    late = unit.put(f"/tasks/{task_id}/draft", json={"data": {}})
    assert late.status_code == 409 and late.get_json()["error"]["code"] == "task_not_active"
