"""Helpers for the web tests: the app, logging in to the pages, and a client that calls the API with bearer
tokens. Cases are built and driven with ``tests.helpers``."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from io import BytesIO
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from engine.context import EngineContext
from engine.demo import DEMO_PASSWORD
from web import create_app

API = "/api/v1"


def make_app(db_url: str, ctx: EngineContext, **config: Any) -> Flask:
    """The app on the test database; ``config`` adds to or overrides the test settings. Dispose of it with
    ``app.extensions["xuncha.engine"].dispose()``."""
    return create_app({"DATABASE_URL": db_url, "TESTING": True, "ENGINE_CONTEXT": ctx,
                       "DEPLOY_SHIPPED_WORKFLOWS": False, "SECRET_KEY": "test", **config})


def login(client: FlaskClient, username: str, password: str = DEMO_PASSWORD) -> Any:
    return client.post("/login", data={"username": username, "password": password})


def token_for(client: FlaskClient, username: str, password: str = DEMO_PASSWORD) -> str:
    response = client.post(f"{API}/auth/token", json={"username": username, "password": password})
    assert response.status_code == 200, response.get_json()
    token: str = response.get_json()["token"]
    return token


def bpmn_upload(xml: bytes, filename: str = "process.bpmn") -> tuple[BytesIO, str]:
    """A file field for a multipart upload."""
    return BytesIO(xml), filename


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

    def put(self, path: str, json: Any = None, headers: dict[str, str] | None = None, **kwargs: Any) -> TestResponse:
        return self.client.put(API + path, json=json, headers=self._headers(headers), **kwargs)

    def ok(self, method: str, path: str, json: Any = None, status: int = 200) -> Any:
        response = self.get(path) if method == "GET" else self.post(path, json=json)
        assert response.status_code == status, (method, path, response.status_code, response.get_json())
        return response.get_json()

    def group_tasks(self, instance_id: int, bpmn_id: str, queue: str = "group") -> list[dict[str, Any]]:
        """The instance's tasks with that bpmn id in this user's group queue (or another queue)."""
        page = self.ok("GET", f"/tasks?queue={queue}&per_page=100")
        return [t for t in page["items"] if t["instance_id"] == instance_id and t["bpmn_id"] == bpmn_id]

    def group_task(self, instance_id: int, bpmn_id: str, name_contains: str = "", queue: str = "group") -> int:
        found = [t for t in self.group_tasks(instance_id, bpmn_id, queue) if name_contains in t["name"]]
        assert len(found) == 1, (self.username, bpmn_id, found)
        task_id: int = found[0]["id"]
        return task_id

    def do(self, instance_id: int, bpmn_id: str, data: dict[str, Any], name_contains: str = "") -> Any:
        """Take the task from the group queue (or find it in 我的待办, where a returned step comes back
        to its previous performer), check its form, and complete it."""
        queue = "group" if self.group_tasks(instance_id, bpmn_id) else "mine"
        task_id = self.group_task(instance_id, bpmn_id, name_contains, queue)
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
