"""Building cases and driving their tasks through the engine, the way users do (claim, then complete).

Shared by the engine and the web tests; what only the web tests need (logging in, the app, API tokens)
is in ``tests/web/helpers.py``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Engine, select, text
from sqlalchemy.orm import Session, sessionmaker

from engine import cases, runtime
from engine.accounts import hash_password
from engine.actors import Actor, actor_for, load_actor
from engine.context import EngineContext
from engine.db import transaction
from engine.definitions import deploy
from engine.demo import DEMO_PASSWORD, Demo
from models import (
    Clue,
    Finding,
    Group,
    HumanTask,
    Inspection,
    Membership,
    Organisation,
    ProcessInstance,
    RectificationItem,
    TaskStatus,
    Timer,
    User,
)

# -- opening cases ---------------------------------------------------------------------------------------------


def open_clue(factory: sessionmaker[Session], ctx: EngineContext, demo: Demo, *, unit: str = "U-EDU",
              receiving: str = "JW", number: str = "XS-T-001", summary: str = "反映某科长收受供应商财物。",
              person: str = "张某某", persons: list[dict[str, Any]] | None = None,
              category: str | None = "廉洁纪律") -> int:
    """The inspection office hands a clue found at ``unit`` over to ``receiving`` (org codes); returns the
    instance id (``clue_of`` finds the clue). ``persons`` replaces the one person concerned, ``person`` (科长)."""
    with transaction(factory) as session:
        inspection = session.get(Inspection, demo.inspections[unit].id)
        receiving_org = session.get(Organisation, demo.orgs[receiving].id)
        assert inspection is not None and receiving_org is not None
        clue = cases.hand_over_clue(session, ctx, demo.actor("office1"), inspection=inspection,
                                    receiving_org=receiving_org, number=number, summary=summary,
                                    persons=persons or [{"name": person, "post": "科长", "rank": "正科级"}],
                                    category=category)
        assert clue.instance_id is not None
        return clue.instance_id


PROBLEMS = ("落实意识形态工作责任制不到位。", "干部档案管理不规范。")


def open_rectification(factory: sessionmaker[Session], ctx: EngineContext, demo: Demo, *, unit: str = "U-EDU",
                       problems: int | Sequence[str] = PROBLEMS, category: str | None = "其他") -> int:
    """Feed back ``problems`` (their texts, or how many) to ``unit`` and start its rectification; returns the
    instance id. The ledger items are numbered ``{unit}-01``, ``{unit}-02``, … (see ``item_numbers``)."""
    texts = [f"问题 {n}" for n in range(1, problems + 1)] if isinstance(problems, int) else list(problems)
    with transaction(factory) as session:
        inspection = session.get(Inspection, demo.inspections[unit].id)
        assert inspection is not None
        findings = [Finding(inspection_id=inspection.id, number=f"{unit}-{n:02d}", category=category,
                            description=text) for n, text in enumerate(texts, start=1)]
        session.add_all(findings)
        session.flush()
        return cases.open_rectification(session, ctx, demo.actor("office1"), inspection=inspection,
                                        findings=findings).id


def start_cases(factory: sessionmaker[Session], ctx: EngineContext, demo: Demo, bpmn: bytes, key: str,
                count: int = 1, data: dict[str, Any] | None = None) -> list[int]:
    """Deploy a diagram written for a test (an identical one deploys once) and start ``count`` cases of its
    process ``key`` as office1 within the city, with ``data``; returns their instance ids."""
    with transaction(factory) as session:
        deploy(session, bpmn, None, ctx.forms, at=ctx.clock.now())
    with transaction(factory) as session:
        return [runtime.start_instance(session, ctx, demo.actor("office1"), key, dict(data or {}),
                                       scope_path=demo.orgs["CITY"].path).id for _ in range(count)]


# -- reading what is stored ------------------------------------------------------------------------------------


def instance(factory: sessionmaker[Session], instance_id: int) -> ProcessInstance:
    with factory() as session:
        row = session.get(ProcessInstance, instance_id)
        assert row is not None
        return row


def timers_of(factory: sessionmaker[Session], instance_id: int) -> list[Timer]:
    """The instance's timer rows, oldest first."""
    with factory() as session:
        return list(session.execute(select(Timer).where(Timer.instance_id == instance_id).order_by(Timer.id))
                    .scalars())


def clue_of(factory: sessionmaker[Session], instance_id: int) -> Clue:
    with factory() as session:
        return session.execute(select(Clue).where(Clue.instance_id == instance_id)).scalar_one()


def item_numbers(factory: sessionmaker[Session], instance_id: int) -> list[str]:
    """The numbers of a rectification's ledger items, in the order the problems were fed back."""
    with factory() as session:
        return list(session.execute(select(RectificationItem.number).where(
            RectificationItem.instance_id == instance_id).order_by(RectificationItem.id)).scalars())


def task_row(factory: sessionmaker[Session], task_id: int) -> HumanTask:
    with factory() as session:
        task = session.get(HumanTask, task_id)
        assert task is not None
        return task


def ready_tasks(factory: sessionmaker[Session], instance_id: int, bpmn_id: str | None = None) -> list[HumanTask]:
    with factory() as session:
        stmt = select(HumanTask).where(HumanTask.instance_id == instance_id, HumanTask.status == TaskStatus.READY)
        if bpmn_id:
            stmt = stmt.where(HumanTask.bpmn_id == bpmn_id)
        return list(session.execute(stmt.order_by(HumanTask.id)).scalars())


def ready_task(factory: sessionmaker[Session], instance_id: int, bpmn_id: str, index: int = 0) -> HumanTask:
    """The ``index``-th ready task ``bpmn_id`` of the instance (oldest first)."""
    tasks = ready_tasks(factory, instance_id, bpmn_id)
    ready = [t.bpmn_id for t in ready_tasks(factory, instance_id)]
    assert len(tasks) > index, f"no ready {bpmn_id} task (ready: {ready})"
    return tasks[index]


# -- driving tasks ---------------------------------------------------------------------------------------------


def act(factory: sessionmaker[Session], ctx: EngineContext, actor: Actor | str, instance_id: int, bpmn_id: str,
        data: dict[str, Any], index: int = 0) -> None:
    """Claim the ready task ``bpmn_id`` as ``actor`` (or the user of that name) and complete it with ``data``."""
    tid = ready_task(factory, instance_id, bpmn_id, index).id
    with transaction(factory) as session:
        if isinstance(actor, str):
            actor = load_actor(session, actor)
        runtime.claim_task(session, ctx, actor, tid)
    with transaction(factory) as session:
        runtime.complete_task(session, ctx, actor, tid, data)


PLAN_ROW = {"measures": "建立台账，逐项整改。", "responsible_leader": "吴某", "responsible_department": "办公室",
            "responsible_person": "郑某", "due_date": "2026-12-31", "rectification_type": "限期整改"}


def submit_plan(factory: sessionmaker[Session], ctx: EngineContext, instance_id: int) -> dict[str, Any]:
    """The unit receives the feedback and submits its plan, a measure for every item; returns the plan's data."""
    plan = {"plan_summary": "逐项整改。", "pledge_signed": True, "pledge_signer": "党组书记",
            "plan_measures": [{"item_number": n, **PLAN_ROW} for n in item_numbers(factory, instance_id)]}
    act(factory, ctx, "unit1", instance_id, "receive_feedback", {"feedback_received_on": "2026-11-25"})
    act(factory, ctx, "unit1", instance_id, "draft_plan", plan)
    return plan


def approve_plan(factory: sessionmaker[Session], ctx: EngineContext, instance_id: int) -> None:
    """``submit_plan``, and the office approves it: every item then waits at 整改 (``rectify_item``)."""
    submit_plan(factory, ctx, instance_id)
    act(factory, ctx, "office1", instance_id, "review_plan", {"plan_decision": "通过"})


RECTIFIED = {"item_progress": "已建立制度。", "item_completion": "已完成"}


def strike_off_items(factory: sessionmaker[Session], ctx: EngineContext, instance_id: int) -> None:
    """``approve_plan``, then every item is rectified, verified and struck off (销号), each passing first time."""
    approve_plan(factory, ctx, instance_id)
    count = len(item_numbers(factory, instance_id))
    for username, bpmn_id, data in [("unit1", "rectify_item", RECTIFIED),
                                    ("group1", "verify_item", {"item_verify_decision": "通过"}),
                                    ("office1", "strike_off_item", {"strike_off_date": "2026-12-01"})]:
        for _ in range(count):
            act(factory, ctx, username, instance_id, bpmn_id, data)


def complete_rectification(factory: sessionmaker[Session], ctx: EngineContext, instance_id: int, *,
                           disclosure: dict[str, Any]) -> None:
    """Drive a rectification from feedback to close-out, every item passing first time."""
    strike_off_items(factory, ctx, instance_id)
    act(factory, ctx, "unit1", instance_id, "rectification_report",
        {"report_summary": "整改完成。", "report_date": "2026-12-10"})
    act(factory, ctx, "office1", instance_id, "disclosure", disclosure)
    act(factory, ctx, "office1", instance_id, "close_out", {})


# -- people ----------------------------------------------------------------------------------------------------


def add_user(factory: sessionmaker[Session], username: str, org: str, roles: str | list[tuple[str, str]], *,
             password_hash: str | None = None, display_name: str | None = None,
             id_number: str | None = None) -> Actor:
    """Another account besides the demo ones, working at ``org`` (an org code). ``roles`` is a group key held
    over ``org`` itself, or (group key, scope org code) pairs. Without ``password_hash`` the password is the
    demo one; without ``display_name`` it is ``"{org name} {username}"``."""
    pairs = [(roles, org)] if isinstance(roles, str) else roles
    with transaction(factory) as session:
        orgs = {o.code: o for o in session.execute(select(Organisation)).scalars()}
        groups = {g.key: g.id for g in session.execute(select(Group)).scalars()}
        user = User(username=username, display_name=display_name or f"{orgs[org].name} {username}",
                    password_hash=password_hash or hash_password(DEMO_PASSWORD), org_id=orgs[org].id,
                    id_number=id_number)
        session.add(user)
        session.flush()
        session.add_all(Membership(user_id=user.id, group_id=groups[key], org_id=orgs[scope].id)
                        for key, scope in pairs)
        session.flush()
        session.refresh(user)
        return actor_for(user)


def make_members(factory: sessionmaker[Session], count: int, group_key: str, org: str) -> list[Actor]:
    """``count`` extra users holding ``group_key`` over ``org`` (e.g. many liaisons of one unit)."""
    return [add_user(factory, f"{group_key}-{org}-{n}", org, group_key, password_hash="x", display_name=f"成员 {n}")
            for n in range(count)]


# -- the database underneath -----------------------------------------------------------------------------------


def tamper(sql_engine: Engine, statement: str) -> None:
    """What a person with database access might try on the audit trail; on PostgreSQL past its trigger, as the
    table's owner can."""
    with sql_engine.begin() as conn:
        postgres = conn.dialect.name == "postgresql"
        if postgres:
            conn.execute(text("ALTER TABLE audit_event DISABLE TRIGGER USER"))
        conn.execute(text(statement))
        if postgres:
            conn.execute(text("ALTER TABLE audit_event ENABLE TRIGGER USER"))


# -- diagrams --------------------------------------------------------------------------------------------------


def simple_bpmn(process_id: str = "test_process", *, name: str | None = None, lane: str = "office",
                lane_id: str = "Lane_1", task_id: str = "handle", task_name: str = "办理", form: str | None = None,
                condition: str | None = None, participant: bool = False) -> bytes:
    """A deployable process: start → one user task → end, all in one lane (``lane`` is the group's key or
    Chinese name). The task uses the form file ``form``, or without one the generic form (a deploy warning).
    With a ``condition`` an exclusive gateway follows the task, its conditional flow testing it. With
    ``participant`` the process sits in a collaboration, as modellers such as bpmn.io save it."""
    name = name or f"{process_id} 流程"
    nodes = ["start", task_id, *(["gw"] if condition else []), "end"]
    refs = "".join(f"\n        <bpmn:flowNodeRef>{node}</bpmn:flowNodeRef>" for node in nodes)
    collaboration = (f'\n  <bpmn:collaboration id="Collab_{process_id}">\n    <bpmn:participant '
                     f'id="Participant_{process_id}" name="{name}" processRef="{process_id}" />\n'
                     f'  </bpmn:collaboration>') if participant else ""
    spiff = ' xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core"' if form else ""
    extension = (f'<bpmn:extensionElements><spiffworkflow:properties><spiffworkflow:property '
                 f'name="formJsonSchemaFilename" value="{form}" /></spiffworkflow:properties>'
                 f'</bpmn:extensionElements>\n      ') if form else ""
    if condition:
        after_task = f"""
    <bpmn:exclusiveGateway id="gw" default="f4"><bpmn:incoming>f2</bpmn:incoming>
      <bpmn:outgoing>f3</bpmn:outgoing><bpmn:outgoing>f4</bpmn:outgoing></bpmn:exclusiveGateway>
    <bpmn:endEvent id="end"><bpmn:incoming>f3</bpmn:incoming><bpmn:incoming>f4</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="{task_id}" />
    <bpmn:sequenceFlow id="f2" sourceRef="{task_id}" targetRef="gw" />
    <bpmn:sequenceFlow id="f3" sourceRef="gw" targetRef="end">
      <bpmn:conditionExpression>{condition}</bpmn:conditionExpression></bpmn:sequenceFlow>
    <bpmn:sequenceFlow id="f4" sourceRef="gw" targetRef="end" />"""
    else:
        after_task = f"""
    <bpmn:endEvent id="end"><bpmn:incoming>f2</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="{task_id}" />
    <bpmn:sequenceFlow id="f2" sourceRef="{task_id}" targetRef="end" />"""
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"{spiff} id="Defs_{process_id}"
    targetNamespace="http://xuncha.local/bpmn">{collaboration}
  <bpmn:process id="{process_id}" name="{name}" isExecutable="true">
    <bpmn:laneSet id="LaneSet_1">
      <bpmn:lane id="{lane_id}" name="{lane}">{refs}
      </bpmn:lane>
    </bpmn:laneSet>
    <bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:userTask id="{task_id}" name="{task_name}">{extension}<bpmn:incoming>f1</bpmn:incoming>
      <bpmn:outgoing>f2</bpmn:outgoing></bpmn:userTask>{after_task}
  </bpmn:process>
</bpmn:definitions>
""".encode()
