"""Helpers for web tests: logging in, and cases built through the same engine functions people use."""

from __future__ import annotations

from typing import Any

from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from engine import cases, runtime
from engine.accounts import hash_password
from engine.actors import load_actor
from engine.context import EngineContext
from engine.db import transaction
from engine.demo import DEMO_PASSWORD, Demo
from engine.projection import open_tasks
from models import Clue, Finding, Group, HumanTask, Inspection, Membership, Organisation, ProcessInstance, User


def login(client: FlaskClient, username: str, password: str = DEMO_PASSWORD) -> Any:
    return client.post("/login", data={"username": username, "password": password})


def add_user(factory: sessionmaker[Session], username: str, org_code: str, group_key: str) -> None:
    """Another account holding ``group_key`` over ``org_code`` (e.g. a second liaison of a unit)."""
    with transaction(factory) as s:
        org = s.execute(select(Organisation).where(Organisation.code == org_code)).scalar_one()
        group = s.execute(select(Group).where(Group.key == group_key)).scalar_one()
        user = User(username=username, display_name=f"{org.name} {username}", password_hash=hash_password(
            DEMO_PASSWORD), org_id=org.id)
        s.add(user)
        s.flush()
        s.add(Membership(user_id=user.id, group_id=group.id, org_id=org.id))


def open_rectification(factory: sessionmaker[Session], ctx: EngineContext, demo: Demo, unit_code: str = "U-EDU",
                       problems: tuple[str, ...] = ("落实意识形态工作责任制不到位。", "干部档案管理不规范。")) -> int:
    """Feed back ``problems`` to the unit and start its rectification; returns the instance id."""
    with transaction(factory) as s:
        inspection = s.get(Inspection, demo.inspections[unit_code].id)
        assert inspection is not None
        findings = [Finding(inspection_id=inspection.id, number=f"{unit_code}-{n:02d}", category="其他",
                            description=text) for n, text in enumerate(problems, start=1)]
        s.add_all(findings)
        s.flush()
        instance = cases.open_rectification(s, ctx, load_actor(s, "office1"), inspection=inspection,
                                            findings=findings)
        return instance.id


def hand_over_clue(factory: sessionmaker[Session], ctx: EngineContext, demo: Demo, *, number: str = "XS-T-001",
                   summary: str = "反映某科长收受供应商财物。", person: str = "张某某",
                   receiving: str = "JW", unit_code: str = "U-EDU") -> int:
    with transaction(factory) as s:
        inspection = s.get(Inspection, demo.inspections[unit_code].id)
        receiving_org = s.get(Organisation, demo.orgs[receiving].id)
        assert inspection is not None and receiving_org is not None
        clue = cases.hand_over_clue(s, ctx, load_actor(s, "office1"), inspection=inspection,
                                    receiving_org=receiving_org, number=number, summary=summary,
                                    persons=[{"name": person, "post": "科长", "rank": "正科级"}], category="廉洁纪律")
        assert clue.instance_id is not None
        return clue.instance_id


def do_task(factory: sessionmaker[Session], ctx: EngineContext, username: str, instance_id: int, bpmn_id: str,
            data: dict[str, Any]) -> None:
    """Claim and complete every open task ``bpmn_id`` of the instance as ``username``."""
    with transaction(factory) as s:
        actor = load_actor(s, username)
        tasks = [t for t in open_tasks(s, instance_id) if t.bpmn_id == bpmn_id]
        assert tasks, f"no open task {bpmn_id}"
        for task in tasks:
            runtime.claim_task(s, ctx, actor, task.id)
            runtime.complete_task(s, ctx, actor, task.id, data)


def open_task(factory: sessionmaker[Session], instance_id: int, bpmn_id: str) -> HumanTask:
    with factory() as s:
        return next(t for t in open_tasks(s, instance_id) if t.bpmn_id == bpmn_id)


def instance_row(factory: sessionmaker[Session], instance_id: int) -> ProcessInstance:
    with factory() as s:
        instance = s.get(ProcessInstance, instance_id)
        assert instance is not None
        return instance


def clue_of(factory: sessionmaker[Session], instance_id: int) -> Clue:
    with factory() as s:
        return s.execute(select(Clue).where(Clue.instance_id == instance_id)).scalar_one()


def task_row(factory: sessionmaker[Session], task_id: int) -> HumanTask:
    with factory() as s:
        task = s.get(HumanTask, task_id)
        assert task is not None
        return task


def complete_rectification(factory: sessionmaker[Session], ctx: EngineContext, instance_id: int, *,
                           disclosure: dict[str, Any]) -> None:
    """Drive a one-problem rectification from feedback to close-out."""
    steps: list[tuple[str, str, dict[str, Any]]] = [
        ("unit1", "receive_feedback", {"feedback_received_on": "2026-11-25"}),
        ("unit1", "draft_plan", {"plan_summary": "逐项整改。", "pledge_signed": True, "pledge_signer": "党组书记",
                                 "plan_measures": [{"item_number": "U-EDU-01", "measures": "完善制度",
                                                    "responsible_leader": "周某", "responsible_department": "办公室",
                                                    "responsible_person": "吴某", "due_date": "2026-12-31",
                                                    "rectification_type": "限期整改"}]}),
        ("office1", "review_plan", {"plan_decision": "通过"}),
        ("unit1", "rectify_item", {"item_progress": "已建立制度。", "item_completion": "已完成"}),
        ("group1", "verify_item", {"item_verify_decision": "通过"}),
        ("office1", "strike_off_item", {"strike_off_date": "2026-12-01"}),
        ("unit1", "rectification_report", {"report_summary": "整改完成。", "report_date": "2026-12-10"}),
        ("office1", "disclosure", disclosure),
        ("office1", "close_out", {}),
    ]
    for username, bpmn_id, data in steps:
        do_task(factory, ctx, username, instance_id, bpmn_id, data)
