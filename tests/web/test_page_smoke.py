"""Every page renders for every demo account on the full demo data (cases at every stage)."""

from __future__ import annotations

from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from engine import demo as demo_data
from engine.context import EngineContext
from engine.db import transaction
from engine.demo import USERS, Demo
from models import HumanTask, ProcessInstance
from tests.web.helpers import login


def test_every_page_renders_for_every_account(
        client: FlaskClient, factory: sessionmaker[Session], ctx: EngineContext, demo: Demo) -> None:
    with transaction(factory) as s:
        demo_data.seed_cases(s, ctx, demo_data.seed_reference_data(s))
    with factory() as s:
        instance_ids = list(s.execute(select(ProcessInstance.id)).scalars())
        task_ids = list(s.execute(select(HumanTask.id)).scalars())
    pages = ["/tasks?queue=mine", "/tasks?queue=group", "/tasks?queue=done", "/cases?kind=clue",
             "/cases?kind=rectification", "/definitions", "/public"]
    pages += [f"/cases/{i}" for i in instance_ids] + [f"/tasks/{t}" for t in task_ids]
    for username, *_rest in USERS:
        login(client, username)
        for path in pages:
            status = client.get(path).status_code
            assert status in (200, 404), (username, path, status)
        client.post("/logout")
    login(client, "leader1")
    assert client.get("/tasks?queue=all").status_code == 200
    html = client.get("/cases?kind=clue").get_data(as_text=True)
    assert all(f"XS-2026-00{n}" in html for n in range(1, 5))
