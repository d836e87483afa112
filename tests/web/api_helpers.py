"""Helpers for the API tests: a client that logs in with tokens, and cases opened through the engine."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session, sessionmaker
from werkzeug.test import TestResponse

from engine import cases
from engine.context import EngineContext
from engine.db import transaction
from engine.demo import DEMO_PASSWORD, Demo
from models import Finding, Inspection, Organisation
from web import create_app

API = "/api/v1"


def make_app(db_url: str, ctx: EngineContext) -> Flask:
    return create_app({"DATABASE_URL": db_url, "TESTING": True, "ENGINE_CONTEXT": ctx,
                       "DEPLOY_SHIPPED_WORKFLOWS": False, "SECRET_KEY": "test"})


def token_for(client: FlaskClient, username: str, password: str = DEMO_PASSWORD) -> str:
    response = client.post(f"{API}/auth/token", json={"username": username, "password": password})
    assert response.status_code == 200, response.get_json()
    token: str = response.get_json()["token"]
    return token


class Caller:
    """One demo account talking to the API with its own bearer token."""

    def __init__(self, client: FlaskClient, username: str):
        self.client, self.username = client, username
        self.token = token_for(client, username)

    def _headers(self, extra: dict[str, str] | None) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}", **(extra or {})}

    def get(self, path: str, headers: dict[str, str] | None = None, **kwargs: Any) -> TestResponse:
        return self.client.get(API + path, headers=self._headers(headers), **kwargs)

    def post(self, path: str, json: Any = None, headers: dict[str, str] | None = None, **kwargs: Any) -> TestResponse:
        return self.client.post(API + path, json=json, headers=self._headers(headers), **kwargs)

    def ok(self, method: str, path: str, json: Any = None, status: int = 200) -> Any:
        response = self.get(path) if method == "GET" else self.post(path, json=json)
        assert response.status_code == status, (method, path, response.status_code, response.get_json())
        return response.get_json()

    def group_tasks(self, instance_id: int, bpmn_id: str) -> list[dict[str, Any]]:
        """The instance's tasks with that bpmn id in this user's group queue."""
        page = self.ok("GET", "/tasks?queue=group&per_page=100")
        return [t for t in page["items"] if t["instance_id"] == instance_id and t["bpmn_id"] == bpmn_id]

    def group_task(self, instance_id: int, bpmn_id: str, name_contains: str = "") -> int:
        found = [t for t in self.group_tasks(instance_id, bpmn_id) if name_contains in t["name"]]
        assert len(found) == 1, (self.username, bpmn_id, found)
        task_id: int = found[0]["id"]
        return task_id

    def do(self, instance_id: int, bpmn_id: str, data: dict[str, Any], name_contains: str = "") -> Any:
        """Take the task from the group queue, check its form, and complete it."""
        task_id = self.group_task(instance_id, bpmn_id, name_contains)
        self.ok("POST", f"/tasks/{task_id}/claim")
        detail = self.ok("GET", f"/tasks/{task_id}")
        assert detail["assignee"] == self.username
        assert set(data) <= set(detail["form"]["schema"]["properties"])
        return self.ok("POST", f"/tasks/{task_id}/complete", {"data": data, "revision": detail["revision"]})


class Api:
    def __init__(self, client: FlaskClient):
        self.client = client
        self._users: dict[str, Caller] = {}

    def __call__(self, username: str) -> Caller:
        if username not in self._users:
            self._users[username] = Caller(self.client, username)
        return self._users[username]


@contextmanager
def api_for(db_url: str, ctx: EngineContext) -> Iterator[Api]:
    app = make_app(db_url, ctx)
    with app.test_client() as client:
        yield Api(client)
    app.extensions["xuncha.engine"].dispose()


def hand_over(factory: sessionmaker[Session], ctx: EngineContext, demo: Demo, *, unit: str, receiving: str,
              number: str, persons: list[dict[str, Any]] | None = None) -> tuple[int, int]:
    """A clue found at ``unit`` and handed to ``receiving`` (org codes); returns (clue id, instance id)."""
    with transaction(factory) as s:
        inspection = s.get(Inspection, demo.inspections[unit].id)
        receiving_org = s.get(Organisation, demo.orgs[receiving].id)
        assert inspection is not None and receiving_org is not None
        clue = cases.hand_over_clue(s, ctx, demo.actor("office1"), inspection=inspection,
                                    receiving_org=receiving_org, number=number, summary=f"线索 {number} 的摘要。",
                                    persons=persons or [{"name": "张某", "post": "科长"}], category="廉洁纪律")
        assert clue.instance_id is not None
        return clue.id, clue.instance_id


def open_rectification(factory: sessionmaker[Session], ctx: EngineContext, demo: Demo, *, unit: str,
                       problems: list[str]) -> tuple[int, list[str]]:
    """Feedback problems put on ``unit``'s ledger; returns (instance id, the item numbers)."""
    with transaction(factory) as s:
        inspection = s.get(Inspection, demo.inspections[unit].id)
        assert inspection is not None
        findings = [Finding(inspection_id=inspection.id, number=f"{unit}-{n:02d}", description=text)
                    for n, text in enumerate(problems, start=1)]
        s.add_all(findings)
        s.flush()
        instance = cases.open_rectification(s, ctx, demo.actor("office1"), inspection=inspection, findings=findings)
        return instance.id, [f.number for f in findings]
