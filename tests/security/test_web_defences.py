"""The web's defences: security headers, CSRF on every form, login lock-out and throttling, session
expiry, and revoking API tokens and sessions (a password change ends them all)."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from engine.clock import FrozenClock
from engine.context import EngineContext
from engine.demo import DEMO_PASSWORD, Demo
from models import AuditEvent, User
from tests.web.helpers import API, login, make_app, token_for

NEW_PASSWORD = "a-much-longer-secret"
LOCKED_ZH = "登录失败次数过多"
WRONG_ZH = "用户名或密码错误"


def _events(factory: sessionmaker[Session], event_type: str) -> list[AuditEvent]:
    with factory() as session:
        return list(session.scalars(select(AuditEvent).where(AuditEvent.event_type == event_type)
                                    .order_by(AuditEvent.id)))


@pytest.fixture
def second_app(db_url: str, demo: Demo, ctx: EngineContext) -> Iterator[Flask]:
    """Another app on the same database: a second gunicorn worker."""
    app = make_app(db_url, ctx, WTF_CSRF_ENABLED=False)
    yield app
    app.extensions["xuncha.engine"].dispose()


# --- security headers -------------------------------------------------------------------------------

HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
}


@pytest.mark.parametrize("path", ["/login", "/public", "/no-such-page", f"{API}/openapi.json", f"{API}/clues",
                                  f"{API}/clues/1", "/healthz"])
def test_every_response_carries_the_security_headers(client: FlaskClient, path: str) -> None:
    response = client.get(path)
    for name, value in HEADERS.items():
        assert response.headers.get(name) == value, (path, name)
    csp = response.headers["Content-Security-Policy"]
    assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert "script-src" not in csp or "'unsafe-inline'" not in csp.split("script-src")[1].split(";")[0]
    assert "camera=()" in response.headers["Permissions-Policy"]
    assert "Strict-Transport-Security" not in response.headers  # plain HTTP on a laptop: no HSTS


def test_hsts_and_secure_cookies_only_when_served_over_https(db_url: str, demo: Demo, ctx: EngineContext) -> None:
    app = make_app(db_url, ctx, WTF_CSRF_ENABLED=False, HTTPS=True, SESSION_COOKIE_SECURE=True)
    try:
        client = app.test_client()
        assert "max-age=" in client.get("/login").headers["Strict-Transport-Security"]
        cookie = login(client, "unit1").headers["Set-Cookie"]
        assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie
    finally:
        app.extensions["xuncha.engine"].dispose()


# --- CSRF -------------------------------------------------------------------------------------------


def _csrf_token(client: FlaskClient, path: str = "/login") -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', client.get(path).get_data(as_text=True))
    assert match
    return match.group(1)


@pytest.fixture
def csrf_client(db_url: str, demo: Demo, ctx: EngineContext) -> Iterator[FlaskClient]:
    app = make_app(db_url, ctx)  # CSRF on, as in production
    client = app.test_client()
    response = client.post("/login", data={"username": "office1", "password": DEMO_PASSWORD,
                                           "csrf_token": _csrf_token(client)})
    assert response.status_code == 302
    yield client
    app.extensions["xuncha.engine"].dispose()


def _state_changing_page_routes(app: Flask) -> list[tuple[str, str]]:
    routes = []
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith(("/api/", "/static")):
            continue
        for method in sorted((rule.methods or set()) & {"POST", "PUT", "PATCH", "DELETE"}):
            path = rule.rule
            for argument in rule.arguments:
                path = re.sub(rf"<(?:[^:<>]+:)?{argument}>", "1", path)
            routes.append((method, path))
    return routes


def test_every_state_changing_form_refuses_a_post_without_the_csrf_token(
        csrf_client: FlaskClient, factory: sessionmaker[Session]) -> None:
    assert csrf_client.application is not None
    routes = _state_changing_page_routes(csrf_client.application)
    assert len(routes) > 30 and ("POST", "/account/password") in routes and ("POST", "/logout") in routes
    audit_before = len(_events(factory, "locale_changed"))
    for method, path in routes:
        response = csrf_client.open(path, method=method, data={"locale": "en", "current_password": DEMO_PASSWORD,
                                                               "new_password": NEW_PASSWORD})
        assert response.status_code == 400, (method, path, response.status_code)
        assert "页面已过期" in response.get_data(as_text=True), (method, path)
    # nothing happened: still logged in, still Chinese, the password unchanged
    assert csrf_client.get("/tasks").status_code == 200
    assert len(_events(factory, "locale_changed")) == audit_before
    with factory() as session:
        office = session.scalars(select(User).where(User.username == "office1")).one()
        assert office.locale == "zh_CN"
    assert _events(factory, "password_changed") == []


def test_the_same_form_with_its_csrf_token_goes_through(csrf_client: FlaskClient,
                                                        factory: sessionmaker[Session]) -> None:
    token = _csrf_token(csrf_client, "/tasks")
    response = csrf_client.post("/locale", data={"locale": "en", "csrf_token": token})
    assert response.status_code == 302
    assert len(_events(factory, "locale_changed")) == 1


def test_a_token_from_another_session_is_refused(db_url: str, demo: Demo, ctx: EngineContext,
                                                 csrf_client: FlaskClient) -> None:
    other = make_app(db_url, ctx).test_client()
    foreign = _csrf_token(other)
    assert csrf_client.post("/locale", data={"locale": "en", "csrf_token": foreign}).status_code == 400


# --- login lock-out and throttling --------------------------------------------------------------------


def _try(client: FlaskClient, username: str, password: str = "wrong-password", ip: str = "10.0.0.1") -> Any:
    return client.post("/login", data={"username": username, "password": password},
                       environ_base={"REMOTE_ADDR": ip})


def test_five_wrong_passwords_lock_the_account_for_fifteen_minutes(
        client: FlaskClient, clock: FrozenClock, factory: sessionmaker[Session]) -> None:
    for _ in range(5):
        assert WRONG_ZH in _try(client, "unit1").get_data(as_text=True)
    refused = _try(client, "unit1", DEMO_PASSWORD)  # even the right password, while locked
    assert refused.status_code == 429
    assert LOCKED_ZH in refused.get_data(as_text=True) and "15 分钟" in refused.get_data(as_text=True)
    with client.session_transaction() as session:
        assert "user_id" not in session
    locked = _events(factory, "account_locked")
    assert [e.actor_name for e in locked] == ["unit1"]
    assert len(_events(factory, "login_failed")) == 5 and len(_events(factory, "login_refused")) == 1

    clock.advance(timedelta(minutes=14))
    assert _try(client, "unit1", DEMO_PASSWORD).status_code == 429
    clock.advance(timedelta(minutes=1, seconds=1))
    assert _try(client, "unit1", DEMO_PASSWORD).status_code == 302  # the lock ended on time


def test_four_wrong_passwords_do_not_lock_and_a_login_starts_the_count_again(client: FlaskClient) -> None:
    for _ in range(4):
        _try(client, "unit1")
    assert _try(client, "unit1", DEMO_PASSWORD).status_code == 302
    client.post("/logout")
    for _ in range(4):
        _try(client, "unit1")
    assert _try(client, "unit1", DEMO_PASSWORD).status_code == 302


def test_failures_older_than_the_window_are_forgotten(client: FlaskClient, clock: FrozenClock) -> None:
    for _ in range(4):
        _try(client, "unit1")
    clock.advance(timedelta(minutes=16))
    _try(client, "unit1")
    assert _try(client, "unit1", DEMO_PASSWORD).status_code == 302


def test_a_lock_reads_the_same_whether_or_not_the_account_exists(client: FlaskClient) -> None:
    answers = {}
    for name in ("unit1", "no-such-user"):
        wrong = [_try(client, name) for _ in range(5)]
        answers[name] = ([(r.status_code, WRONG_ZH in r.get_data(as_text=True)) for r in wrong],
                         _try(client, name).status_code, LOCKED_ZH in _try(client, name).get_data(as_text=True))
    assert answers["unit1"] == answers["no-such-user"] == ([(200, True)] * 5, 429, True)


def test_a_lock_holds_for_the_api_and_for_every_worker(client: FlaskClient, second_app: Flask) -> None:
    for _ in range(3):
        _try(client, "office1")
    other = second_app.test_client()  # another process on the same database
    for _ in range(2):
        response = other.post(f"{API}/auth/token", json={"username": "office1", "password": "nope"},
                              environ_base={"REMOTE_ADDR": "10.0.0.1"})
        assert response.status_code == 401
    response = other.post(f"{API}/auth/token", json={"username": "office1", "password": DEMO_PASSWORD},
                          environ_base={"REMOTE_ADDR": "10.0.0.1"})
    assert response.status_code == 429
    assert response.get_json()["error"]["code"] == "too_many_attempts"
    assert 0 < int(response.headers["Retry-After"]) <= 15 * 60
    assert _try(client, "office1", DEMO_PASSWORD).status_code == 429


def test_a_locked_account_does_not_stop_anyone_else(client: FlaskClient) -> None:
    for _ in range(5):
        _try(client, "unit1")
    assert _try(client, "unit1", DEMO_PASSWORD).status_code == 429
    assert _try(client, "unit2", DEMO_PASSWORD).status_code == 302


def test_one_address_failing_too_often_is_throttled_whatever_name_it_tries(
        db_url: str, demo: Demo, ctx: EngineContext, clock: FrozenClock) -> None:
    app = make_app(db_url, ctx, WTF_CSRF_ENABLED=False, LOGIN_IP_FAILURES=6)
    try:
        client = app.test_client()
        for n in range(6):
            assert _try(client, f"guess{n}", ip="10.9.9.9").status_code == 200
        assert _try(client, "unit2", DEMO_PASSWORD, ip="10.9.9.9").status_code == 429
        assert _try(client, "unit2", DEMO_PASSWORD, ip="10.1.1.1").status_code == 302  # another address
        clock.advance(timedelta(minutes=15, seconds=1))
        assert _try(client, "unit1", DEMO_PASSWORD, ip="10.9.9.9").status_code == 302
    finally:
        app.extensions["xuncha.engine"].dispose()


# --- session expiry ----------------------------------------------------------------------------------


def _age_session(client: FlaskClient, **ages: float) -> None:
    with client.session_transaction() as session:
        for key, seconds in ages.items():
            session[key] = time.time() - seconds


def test_a_session_idle_for_thirty_minutes_ends(client: FlaskClient) -> None:
    login(client, "unit1")
    _age_session(client, seen_at=29 * 60)
    assert client.get("/tasks").status_code == 200  # a request within the idle time keeps it alive
    _age_session(client, seen_at=31 * 60)
    response = client.get("/tasks")
    assert response.status_code == 302 and "expired=1" in response.headers["Location"]
    assert "登录已过期" in client.get(response.headers["Location"]).get_data(as_text=True)
    assert client.get("/tasks").status_code == 302


def test_a_session_ends_eight_hours_after_logging_in_however_busy(client: FlaskClient) -> None:
    login(client, "unit1")
    _age_session(client, login_at=8 * 3600 - 60)
    assert client.get("/tasks").status_code == 200
    _age_session(client, login_at=8 * 3600 + 1)
    assert client.get("/tasks").status_code == 302


def test_a_session_cookie_without_its_times_is_not_accepted(client: FlaskClient, demo: Demo) -> None:
    with client.session_transaction() as session:
        session["user_id"] = demo.users["office1"].id
    assert client.get("/tasks").status_code == 302


# --- token revocation and password changes ------------------------------------------------------------


def test_a_revoked_token_is_refused_at_once(client: FlaskClient) -> None:
    token = token_for(client, "office1")
    headers = {"Authorization": f"Bearer {token}"}
    assert client.get(f"{API}/clues", headers=headers).status_code == 200
    assert client.post(f"{API}/auth/revoke", headers=headers).status_code == 204
    refused = client.get(f"{API}/clues", headers=headers)
    assert refused.status_code == 401 and refused.get_json()["error"]["code"] == "authentication_failed"


def test_changing_the_password_revokes_tokens_and_ends_other_sessions(
        app: Flask, client: FlaskClient, factory: sessionmaker[Session]) -> None:
    token = token_for(client, "unit1")
    elsewhere = app.test_client()
    login(elsewhere, "unit1")
    login(client, "unit1")
    response = client.post("/account/password", data={
        "current_password": DEMO_PASSWORD, "new_password": NEW_PASSWORD, "confirm_password": NEW_PASSWORD})
    assert response.status_code == 200 and "已吊销 API 令牌 1 个" in response.get_data(as_text=True)

    assert client.get(f"{API}/clues", headers={"Authorization": f"Bearer {token}"}).status_code == 401
    assert client.get("/tasks").status_code == 200  # this session stays
    ended = elsewhere.get("/tasks")
    assert ended.status_code == 302 and "expired=1" in ended.headers["Location"]
    assert login(app.test_client(), "unit1").status_code == 200  # the old password no longer works
    assert login(app.test_client(), "unit1", NEW_PASSWORD).status_code == 302
    changed = _events(factory, "password_changed")
    assert [(e.actor_name, e.payload) for e in changed] == [("unit1", '{"tokens_revoked":1,"username":"unit1"}')]


@pytest.mark.parametrize(("current", "new", "confirm", "status", "message"), [
    ("wrong-password", NEW_PASSWORD, NEW_PASSWORD, 403, "当前密码不正确"),
    (DEMO_PASSWORD, "short", "short", 400, "至少需要 10 个字符"),
    (DEMO_PASSWORD, "unit1", "unit1", 400, "至少需要"),
    (DEMO_PASSWORD, DEMO_PASSWORD + "x", DEMO_PASSWORD + "x", None, None),
    (DEMO_PASSWORD, NEW_PASSWORD, NEW_PASSWORD + "x", 400, "两次输入的新密码不一致"),
    (DEMO_PASSWORD, "x" * 300, "x" * 300, 400, "不得超过 256"),
])
def test_a_refused_password_change_changes_nothing(client: FlaskClient, factory: sessionmaker[Session],
                                                    current: str, new: str, confirm: str, status: int | None,
                                                    message: str | None) -> None:
    token = token_for(client, "unit1")
    login(client, "unit1")
    response = client.post("/account/password", data={
        "current_password": current, "new_password": new, "confirm_password": confirm})
    if status is None:  # the other side: a valid change goes through
        assert response.status_code == 200 and _events(factory, "password_changed")
        return
    assert response.status_code == status and message in response.get_data(as_text=True)
    assert client.get(f"{API}/clues", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    assert _events(factory, "password_changed") == []
    assert login(client.application.test_client(), "unit1").status_code == 302


def test_the_password_page_needs_a_login(client: FlaskClient) -> None:
    assert client.get("/account/password").status_code == 302
    assert client.post("/account/password", data={"current_password": DEMO_PASSWORD}).status_code == 302
