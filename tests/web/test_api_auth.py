"""Bearer tokens: issued for a right password only, required everywhere, revocable, and errors in the
caller's language."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.clock import FrozenClock
from engine.context import EngineContext
from engine.demo import Demo
from models import AuditEvent
from tests.web.helpers import API, Api, api_for, token_for


@pytest.fixture
def api(db_url: str, ctx: EngineContext, demo: Demo) -> Iterator[Api]:
    with api_for(db_url, ctx) as client:
        yield client


def test_right_password_gets_a_token_that_works(api: Api) -> None:
    response = api.client.post(f"{API}/auth/token", json={"username": "office1", "password": "xuncha-demo"})
    assert response.status_code == 200
    body = response.get_json()
    assert len(body["token"]) > 30
    assert body["expires_at"].endswith("+08:00")
    tasks = api.client.get(f"{API}/tasks", headers={"Authorization": f"Bearer {body['token']}"})
    assert tasks.status_code == 200


def test_wrong_password_is_401_and_audited(api: Api, session: Session) -> None:
    response = api.client.post(f"{API}/auth/token", json={"username": "office1", "password": "guess"})
    assert response.status_code == 401
    assert response.get_json()["error"]["code"] == "authentication_failed"
    assert "token" not in response.get_json()
    failed = session.execute(select(AuditEvent).where(AuditEvent.event_type == "login_failed")).scalars().all()
    assert [e.actor_name for e in failed] == ["office1"]


def test_unknown_user_is_the_same_401(api: Api) -> None:
    response = api.client.post(f"{API}/auth/token", json={"username": "nobody", "password": "xuncha-demo"})
    assert response.status_code == 401


def test_token_request_without_json_is_400(api: Api) -> None:
    response = api.client.post(f"{API}/auth/token", data="username=office1")
    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == "invalid_input"


@pytest.mark.parametrize("header", [None, "Bearer", "Bearer not-a-token", "Basic b2ZmaWNlMTp4"])
def test_missing_or_bad_token_is_401(api: Api, header: str | None) -> None:
    headers = {"Authorization": header} if header else {}
    response = api.client.get(f"{API}/tasks", headers=headers)
    assert response.status_code == 401
    assert response.get_json()["error"]["code"] == "authentication_failed"
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_revoked_token_is_401(api: Api) -> None:
    token = token_for(api.client, "office1")
    headers = {"Authorization": f"Bearer {token}"}
    assert api.client.post(f"{API}/auth/revoke", headers=headers).status_code == 204
    assert api.client.get(f"{API}/tasks", headers=headers).status_code == 401
    other = token_for(api.client, "office1")
    assert api.client.get(f"{API}/tasks", headers={"Authorization": f"Bearer {other}"}).status_code == 200


def test_expired_token_is_401(api: Api, clock: FrozenClock) -> None:
    token = token_for(api.client, "unit1")
    clock.advance(timedelta(hours=13))
    assert api.client.get(f"{API}/tasks", headers={"Authorization": f"Bearer {token}"}).status_code == 401


def test_errors_speak_the_requested_language(api: Api) -> None:
    english = api.client.get(f"{API}/tasks", headers={"Accept-Language": "en"}).get_json()["error"]
    chinese = api.client.get(f"{API}/tasks").get_json()["error"]
    assert english["message"].startswith("Missing access token")
    assert chinese["message"].startswith("缺少访问令牌")
    office = api("office1")
    missing = office.get("/clues/999999", headers={"Accept-Language": "en-GB,en;q=0.9"}).get_json()["error"]
    assert missing == {"code": "not_found", "message": "The record does not exist or is not visible to you.",
                       "details": {}}
    assert office.get("/clues/999999").get_json()["error"]["message"] == "记录不存在或无权查看。"


def test_the_openapi_document_needs_no_token(api: Api) -> None:
    response = api.client.get(f"{API}/openapi.json")
    assert response.status_code == 200
    assert response.get_json()["openapi"] == "3.0.3"
