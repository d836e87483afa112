"""中文 / English: the switch kept on the user, and messages people act on — errors beside fields, the error
banner, flash messages of task actions, error pages, API errors — in the reader's language."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from engine.context import EngineContext
from engine.db import transaction
from engine.demo import Demo
from engine.runtime import claim_task
from models import AuditEvent, User
from tests.helpers import open_rectification, ready_task
from tests.web.helpers import Api, api_for, login, make_app

ZH_REQUIRED, EN_REQUIRED = "此项为必填项。", "This field is required."
ZH_BANNER, EN_BANNER = "表单有错误，请修改后再提交。", "The form has errors; correct them and submit again."


def _locale_of(factory: sessionmaker[Session], username: str) -> str:
    with factory() as s:
        return str(s.execute(select(User.locale).where(User.username == username)).scalar_one())


def _english(factory: sessionmaker[Session], username: str) -> None:
    with transaction(factory) as s:
        s.execute(select(User).where(User.username == username)).scalar_one().locale = "en"


def _revision(html: str) -> str:
    match = re.search(r'name="revision" value="(\d+)"', html)
    assert match
    return match.group(1)


def test_a_user_switches_to_english_and_back(client: FlaskClient, factory: sessionmaker[Session]) -> None:
    login(client, "unit1")
    page = client.get("/tasks").get_data(as_text=True)
    assert 'name="locale" value="en"' in page and 'name="next" value="/tasks"' in page

    switched = client.post("/locale", data={"locale": "en", "next": "/tasks?queue=group"})

    assert switched.status_code == 302 and switched.headers["Location"].endswith("/tasks?queue=group")
    assert _locale_of(factory, "unit1") == "en"
    assert 'name="locale" value="zh_CN"' in client.get("/tasks").get_data(as_text=True)
    client.post("/locale", data={"locale": "zh_CN"})
    assert _locale_of(factory, "unit1") == "zh_CN"
    with factory() as s:
        changes = [json.loads(p) for p in s.execute(select(AuditEvent.payload).where(
            AuditEvent.event_type == "locale_changed").order_by(AuditEvent.id)).scalars()]
    assert changes == [{"username": "unit1", "before": "zh_CN", "after": "en"},
                       {"username": "unit1", "before": "en", "after": "zh_CN"}]


def test_the_switch_needs_a_login_a_known_language_and_a_safe_return_path(
        client: FlaskClient, factory: sessionmaker[Session]) -> None:
    assert "/login" in client.post("/locale", data={"locale": "en"}).headers["Location"]
    login(client, "unit1")
    refused = client.post("/locale", data={"locale": "fr"})
    assert refused.status_code == 400 and "不支持的语言" in refused.get_data(as_text=True)
    assert _locale_of(factory, "unit1") == "zh_CN"
    offsite = client.post("/locale", data={"locale": "en", "next": "https://evil.example/"})
    assert offsite.status_code == 302 and "evil" not in offsite.headers["Location"]


def test_the_switch_is_csrf_protected(db_url: str, demo: Demo, ctx: EngineContext,
                                      factory: sessionmaker[Session]) -> None:
    app = make_app(db_url, ctx, WTF_CSRF_ENABLED=True)
    try:
        client = app.test_client()
        page = client.get("/login").get_data(as_text=True)
        token = re.search(r'name="csrf_token" value="([^"]+)"', page)
        assert token
        login_form = {"username": "unit1", "password": "xuncha-demo", "csrf_token": token.group(1)}
        assert client.post("/login", data=login_form).status_code == 302
        assert client.post("/locale", data={"locale": "en"}).status_code == 400
        assert _locale_of(factory, "unit1") == "zh_CN"
        page = client.get("/tasks").get_data(as_text=True)
        token = re.search(r'name="csrf_token" value="([^"]+)"', page)
        assert token
        assert client.post("/locale", data={"locale": "en", "csrf_token": token.group(1)}).status_code == 302
        assert _locale_of(factory, "unit1") == "en"
    finally:
        app.extensions["xuncha.engine"].dispose()


@pytest.mark.parametrize(("english", "shown", "hidden"), [
    (False, (ZH_REQUIRED, ZH_BANNER, "请输入有效日期"), (EN_REQUIRED, EN_BANNER)),
    (True, (EN_REQUIRED, EN_BANNER, "Enter a valid date"), (ZH_REQUIRED, ZH_BANNER)),
])
def test_form_errors_beside_the_fields_and_the_banner_are_in_the_readers_language(
        client: FlaskClient, factory: sessionmaker[Session], ctx: EngineContext, demo: Demo,
        english: bool, shown: tuple[str, ...], hidden: tuple[str, ...]) -> None:
    task_id = ready_task(factory, open_rectification(factory, ctx, demo), "receive_feedback").id
    if english:
        _english(factory, "unit1")
    login(client, "unit1")
    revision = _revision(client.get(f"/tasks/{task_id}").get_data(as_text=True))

    missing = client.post(f"/tasks/{task_id}/complete", data={"revision": revision})
    wrong = client.post(f"/tasks/{task_id}/complete", data={"revision": revision, "feedback_received_on": "昨天"})

    assert missing.status_code == wrong.status_code == 422
    html = missing.get_data(as_text=True) + wrong.get_data(as_text=True)
    field = missing.get_data(as_text=True).split('for="feedback_received_on"')[1].split("</div>")[0]
    assert shown[0] in field
    for text in shown:
        assert text in html
    for text in hidden:
        assert text not in html


def test_flash_messages_and_error_pages_of_task_actions_follow_the_language(
        client: FlaskClient, factory: sessionmaker[Session], ctx: EngineContext, demo: Demo) -> None:
    rect = open_rectification(factory, ctx, demo)
    task_id = ready_task(factory, rect, "receive_feedback").id
    _english(factory, "unit1")
    login(client, "unit1")

    claimed = client.post(f"/tasks/{task_id}/claim", follow_redirects=True).get_data(as_text=True)
    assert "Claimed; the task is yours to handle." in claimed and "已签收，请办理。" not in claimed
    revision = _revision(claimed)
    drafted = client.post(f"/tasks/{task_id}/complete", data={"_action": "draft", "revision": revision},
                          follow_redirects=True).get_data(as_text=True)
    assert "Draft saved." in drafted and "Draft saved at" in drafted and "草稿已保存" not in drafted
    again = client.post(f"/tasks/{task_id}/unclaim", follow_redirects=True).get_data(as_text=True)
    assert "Returned to the group queue." in again
    submitted = client.post(f"/tasks/{task_id}/complete", data={
        "revision": _revision(again), "feedback_received_on": "2026-11-25"}, follow_redirects=True)
    assert "Submitted; the case moves on to its next step." in submitted.get_data(as_text=True)

    other = ready_task(factory, open_rectification(factory, ctx, demo, unit="U-HEALTH"), "receive_feedback").id
    with transaction(factory) as s:
        claim_task(s, ctx, demo.actor("unit2"), other)
    # a unit1 page about someone else's task is not found; the error page leads with English
    page = client.get(f"/tasks/{other}")
    text = page.get_data(as_text=True)
    assert page.status_code == 404
    assert text.index("The task does not exist") < text.index("任务不存在")


def test_a_chinese_reader_gets_chinese_first_on_error_pages(
        client: FlaskClient, factory: sessionmaker[Session], ctx: EngineContext, demo: Demo) -> None:
    other = ready_task(factory, open_rectification(factory, ctx, demo, unit="U-HEALTH"), "receive_feedback").id
    login(client, "unit1")
    text = client.get(f"/tasks/{other}").get_data(as_text=True)
    assert text.index("任务不存在") < text.index("The task does not exist")


@pytest.fixture
def api(db_url: str, ctx: EngineContext, demo: Demo) -> Iterator[Api]:
    with api_for(db_url, ctx) as client:
        yield client


def test_api_errors_follow_accept_language_then_the_users_setting(
        api: Api, factory: sessionmaker[Session], ctx: EngineContext, demo: Demo) -> None:
    task_id = ready_task(factory, open_rectification(factory, ctx, demo), "receive_feedback").id
    unit = api("unit1")
    unit.ok("POST", f"/tasks/{task_id}/claim")
    path = f"/tasks/{task_id}/complete"

    def error(headers: dict[str, str] | None = None) -> dict[str, object]:
        response = unit.post(path, json={"data": {}}, headers=headers)
        assert response.status_code == 422
        body: dict[str, object] = response.get_json()["error"]
        return body

    assert error()["message"] == ZH_BANNER
    english = error({"Accept-Language": "en"})
    assert english["message"] == EN_BANNER
    assert english["details"] == {"fields": {"feedback_received_on": {"message_zh": ZH_REQUIRED,
                                                                      "message_en": EN_REQUIRED}}}
    _english(factory, "unit1")
    assert error()["message"] == EN_BANNER  # no header: the user's own setting
    assert error({"Accept-Language": "zh-CN,zh;q=0.9"})["message"] == ZH_BANNER  # the request's language wins
