"""Building cases and driving their tasks through the engine, the way users do (claim, then complete)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from engine import cases, runtime
from engine.actors import Actor
from engine.context import EngineContext
from engine.db import transaction
from engine.demo import Demo
from models import Finding, HumanTask, Inspection, Organisation, ProcessInstance, TaskStatus


def open_clue(factory: sessionmaker[Session], ctx: EngineContext, demo: Demo, *, unit: str = "U-EDU",
              receiving: str = "JW", number: str = "XS-T-001", persons: list[dict[str, Any]] | None = None) -> int:
    """Hand a clue about ``unit`` over to ``receiving``; returns the instance id."""
    with transaction(factory) as session:
        inspection = session.get(Inspection, demo.inspections[unit].id)
        receiving_org = session.get(Organisation, demo.orgs[receiving].id)
        assert inspection is not None and receiving_org is not None
        clue = cases.hand_over_clue(session, ctx, demo.actor("office1"), inspection=inspection,
                                    receiving_org=receiving_org, number=number, summary="测试线索摘要",
                                    persons=persons or [{"name": "张某", "post": "科长", "rank": "正科级"}])
        assert clue.instance_id is not None
        return clue.instance_id


def open_rectification(factory: sessionmaker[Session], ctx: EngineContext, demo: Demo, *, unit: str = "U-EDU",
                       problems: int = 2) -> int:
    with transaction(factory) as session:
        inspection = session.get(Inspection, demo.inspections[unit].id)
        assert inspection is not None
        findings = [Finding(inspection_id=inspection.id, number=f"{unit}-T{n}", category="其他",
                            description=f"问题 {n}") for n in range(1, problems + 1)]
        session.add_all(findings)
        session.flush()
        return cases.open_rectification(session, ctx, demo.actor("office1"), inspection=inspection,
                                        findings=findings).id


def ready_tasks(factory: sessionmaker[Session], instance_id: int, bpmn_id: str | None = None) -> list[HumanTask]:
    with factory() as session:
        stmt = select(HumanTask).where(HumanTask.instance_id == instance_id, HumanTask.status == TaskStatus.READY)
        if bpmn_id:
            stmt = stmt.where(HumanTask.bpmn_id == bpmn_id)
        return list(session.execute(stmt.order_by(HumanTask.id)).scalars())


def task_id(factory: sessionmaker[Session], instance_id: int, bpmn_id: str, index: int = 0) -> int:
    tasks = ready_tasks(factory, instance_id, bpmn_id)
    ready = [t.bpmn_id for t in ready_tasks(factory, instance_id)]
    assert len(tasks) > index, f"no ready {bpmn_id} task (ready: {ready})"
    return tasks[index].id


def act(factory: sessionmaker[Session], ctx: EngineContext, actor: Actor, instance_id: int, bpmn_id: str,
        data: dict[str, Any], index: int = 0) -> None:
    """Claim the ready task ``bpmn_id`` as ``actor`` and complete it with ``data``."""
    tid = task_id(factory, instance_id, bpmn_id, index)
    with transaction(factory) as session:
        runtime.claim_task(session, ctx, actor, tid)
    with transaction(factory) as session:
        runtime.complete_task(session, ctx, actor, tid, data)


def instance(factory: sessionmaker[Session], instance_id: int) -> ProcessInstance:
    with factory() as session:
        row = session.get(ProcessInstance, instance_id)
        assert row is not None
        return row


PLAN_ROW = {"measures": "建立台账，逐项整改。", "responsible_leader": "吴某", "responsible_department": "办公室",
            "responsible_person": "郑某", "due_date": "2026-12-31", "rectification_type": "限期整改"}


def make_members(factory: sessionmaker[Session], demo: Demo, count: int, group_key: str, org_code: str) -> list[Actor]:
    """``count`` extra users holding ``group_key`` over ``org_code`` (e.g. many liaisons of one unit)."""
    from engine.actors import actor_for
    from models import Group, Membership, User

    actors = []
    with transaction(factory) as session:
        group = session.execute(select(Group).where(Group.key == group_key)).scalar_one()
        org = demo.orgs[org_code]
        for n in range(count):
            user = User(username=f"{group_key}-{org_code}-{n}", display_name=f"成员 {n}", password_hash="x",
                        org_id=org.id)
            session.add(user)
            session.flush()
            session.add(Membership(user_id=user.id, group_id=group.id, org_id=org.id))
            session.flush()
            session.refresh(user)
            actors.append(actor_for(user))
    return actors
