"""Helpers for the API tests: a client that logs in with tokens, and cases opened through the engine."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from io import BytesIO
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from werkzeug.test import TestResponse

from engine import cases
from engine.context import EngineContext
from engine.db import transaction
from engine.demo import DEMO_PASSWORD, Demo
from models import Finding, Group, Inspection, Membership, Organisation
from models import User as ModelUser
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


def simple_bpmn(process_id: str, lane: str = "office", task_name: str = "办理", lane_id: str = "Lane_1") -> bytes:
    """A one-task process in one lane (the task names no form, so it gets the generic one)."""
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="Defs_{process_id}"
    targetNamespace="http://xuncha.local/bpmn">
  <bpmn:process id="{process_id}" name="{process_id} 流程" isExecutable="true">
    <bpmn:laneSet id="LaneSet_1">
      <bpmn:lane id="{lane_id}" name="{lane}">
        <bpmn:flowNodeRef>start</bpmn:flowNodeRef>
        <bpmn:flowNodeRef>handle</bpmn:flowNodeRef>
        <bpmn:flowNodeRef>end</bpmn:flowNodeRef>
      </bpmn:lane>
    </bpmn:laneSet>
    <bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:userTask id="handle" name="{task_name}"><bpmn:incoming>f1</bpmn:incoming>
      <bpmn:outgoing>f2</bpmn:outgoing></bpmn:userTask>
    <bpmn:endEvent id="end"><bpmn:incoming>f2</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="handle" />
    <bpmn:sequenceFlow id="f2" sourceRef="handle" targetRef="end" />
  </bpmn:process>
</bpmn:definitions>
""".encode()


def bpmn_upload(xml: bytes, filename: str = "process.bpmn") -> tuple[BytesIO, str]:
    return BytesIO(xml), filename


def add_user(factory: sessionmaker[Session], demo: Demo, username: str, org: str, roles: list[tuple[str, str]],
             password_hash: str, id_number: str | None = None) -> None:
    """Another account besides the demo ones; ``roles`` are (group key, scope org code)."""
    with transaction(factory) as s:
        user = ModelUser(username=username, display_name=username, password_hash=password_hash,
                         org_id=demo.orgs[org].id, id_number=id_number)
        s.add(user)
        s.flush()
        groups = {g.key: g.id for g in s.execute(select(Group)).scalars()}
        s.add_all(Membership(user_id=user.id, group_id=groups[key], org_id=demo.orgs[scope].id) for key, scope in roles)

