"""Logging in to the web UI, pages that need a login, and CSRF protection of forms."""

from __future__ import annotations

from flask.testing import FlaskClient

from engine.context import EngineContext
from engine.demo import Demo
from tests.web.helpers import login, make_app


def test_login_with_the_right_password_opens_my_queue(client: FlaskClient) -> None:
    response = login(client, "unit1")
    assert response.status_code == 302
    page = client.get("/", follow_redirects=True)
    assert page.status_code == 200
    assert "我的待办" in page.get_data(as_text=True)
    assert "教育局联络员 周洁" in page.get_data(as_text=True)


def test_wrong_password_shows_the_error_and_logs_nobody_in(client: FlaskClient) -> None:
    response = login(client, "unit1", "wrong")
    assert response.status_code == 200
    assert "用户名或密码错误" in response.get_data(as_text=True)
    with client.session_transaction() as session:
        assert "user_id" not in session
    assert client.get("/tasks").status_code == 302


def test_pages_need_a_login(client: FlaskClient) -> None:
    for path in ("/", "/tasks", "/tasks/1", "/cases", "/cases/1", "/definitions"):
        response = client.get(path)
        assert response.status_code == 302, path
        assert "/login" in response.headers["Location"]


def test_logout_ends_the_session(client: FlaskClient) -> None:
    login(client, "unit1")
    assert client.post("/logout").status_code == 302
    assert client.get("/tasks").status_code == 302


def test_a_post_without_csrf_token_is_refused(db_url: str, demo: Demo, ctx: EngineContext) -> None:
    app = make_app(db_url, ctx, WTF_CSRF_ENABLED=True)
    try:
        client = app.test_client()
        response = client.post("/login", data={"username": "unit1", "password": "xuncha-demo"})
        assert response.status_code == 400
        assert "页面已过期" in response.get_data(as_text=True)
        page = client.get("/login").get_data(as_text=True)
        assert 'name="csrf_token"' in page
    finally:
        app.extensions["xuncha.engine"].dispose()
