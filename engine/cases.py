"""The case rows behind instances (clues, rectification items) and how each step changes them.

The diagrams drive the lifecycle; this module keeps the ledgers that people query (问题线索台账,
整改台账) in step with it, keyed by the stable bpmn ids of the shipped diagrams. A changed field is
recorded as an audit event with its value before and after.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from models import (
    Clue,
    ClueStatus,
    Finding,
    HumanTask,
    Inspection,
    ItemStatus,
    Organisation,
    ProcessInstance,
    RectificationItem,
    User,
)

from .actors import Actor
from .audit import EventDraft
from .calendar import END_OF_DAY, LOCAL_TZ, deadline_after
from .context import EngineContext
from .errors import InvalidInput

CLUE_PROCESS = "clue_disposition"
# 办理期限: the final result of a clue is due within about three months (DOMAIN.md; issue 5 makes
# deadlines configurable per definition and item, with 延期).
CLUE_RESULT_WORKING_DAYS = 66
RECTIFICATION_PROCESS = "rectification"


def _change(session: Session, entity: Any, kind: str, changes: dict[str, Any], instance_id: int) -> list[EventDraft]:
    """Write the fields that differ (one UPDATE, no unit-of-work flush) and describe them for the audit."""
    diff = {field: [getattr(entity, field), value] for field, value in changes.items()
            if getattr(entity, field) != value}
    if not diff:
        return []
    session.execute(update(type(entity)).where(type(entity).id == entity.id)
                    .values({field: after for field, (_before, after) in diff.items()})
                    .execution_options(synchronize_session=False))
    for field, (_before, after) in diff.items():
        set_committed_value(entity, field, after)
    return [EventDraft("case_updated", {"entity": kind, "id": entity.id, "changes": diff}, instance_id)]


def _end_of_day(value: str | None) -> datetime | None:
    if not value:
        return None
    day = date.fromisoformat(value)
    return datetime.combine(day, END_OF_DAY, tzinfo=LOCAL_TZ)


# -- clues -------------------------------------------------------------------------------------------

def clue_of(session: Session, instance: ProcessInstance) -> Clue | None:
    """The clue behind a clue case (None for any other case)."""
    if instance.case_kind != "clue":
        return None
    return session.execute(select(Clue).where(Clue.instance_id == instance.id)).scalar_one_or_none()


CLUE_STEPS = {"handover", "acknowledge", "handle_return", "dispose", "progress_report", "result_feedback",
              "verify_result"}


def _clue_step(session: Session, instance: ProcessInstance, bpmn_id: str, data: dict[str, Any], actor: Actor,
               now: datetime) -> list[EventDraft]:
    if bpmn_id not in CLUE_STEPS:  # e.g. a monthly progress report changes no ledger field
        return []
    clue = clue_of(session, instance)
    if clue is None:
        return []
    changes: dict[str, Any] = {}
    if bpmn_id == "handover":
        changes = {"status": ClueStatus.HANDING_OVER, "handed_over_at": clue.handed_over_at or now}
    elif bpmn_id == "acknowledge":
        returned = data.get("ack_decision") == "退回"
        changes = {"status": ClueStatus.RETURNED if returned else ClueStatus.ACKNOWLEDGED}
        if not returned:
            changes["acknowledged_at"] = now  # 签收日期 of the 问题线索台账
    elif bpmn_id == "handle_return":
        withdrawn = data.get("return_action") == "撤销移交"
        changes = {"status": ClueStatus.WITHDRAWN if withdrawn else ClueStatus.HANDING_OVER}
        if withdrawn:
            changes["closed_at"] = now
    elif bpmn_id == "dispose":
        changes = {"status": ClueStatus.IN_PROGRESS, "disposition_method": data.get("disposition_method")}
    elif bpmn_id == "progress_report":
        changes = {"last_progress_at": now}  # 进展反馈日期
    elif bpmn_id == "result_feedback":
        changes = {"status": ClueStatus.RESULT_REPORTED, "four_forms": data.get("four_forms"),
                   "result_summary": data.get("result_summary")}
    elif bpmn_id == "verify_result":
        closed = data.get("verify_decision") == "销号"
        changes = {"status": ClueStatus.CLOSED if closed else ClueStatus.IN_PROGRESS}
        if closed:
            changes["closed_at"] = now
    return _change(session, clue, "clue", changes, instance.id)


# -- rectification -----------------------------------------------------------------------------------

def _item_of(session: Session, instance: ProcessInstance, data: dict[str, Any]) -> RectificationItem | None:
    item = data.get("item")
    if not isinstance(item, dict) or "item_id" not in item:
        return None
    row = session.get(RectificationItem, int(item["item_id"]))
    return row if row is not None and row.instance_id == instance.id else None


def _rectification_step(session: Session, instance: ProcessInstance, bpmn_id: str, data: dict[str, Any],
                        actor: Actor, now: datetime) -> list[EventDraft]:
    drafts: list[EventDraft] = []
    if bpmn_id == "draft_plan":
        items = {i.number: i for i in session.execute(
            select(RectificationItem).where(RectificationItem.instance_id == instance.id)).scalars()}
        for row in data.get("plan_measures") or []:
            item = items.get(str(row.get("item_number", "")).strip())
            if item is None:
                continue
            drafts += _change(session, item, "rectification_item", {
                "measures": row.get("measures"), "responsible_leader": row.get("responsible_leader"),
                "responsible_department": row.get("responsible_department"),
                "responsible_person": row.get("responsible_person"),
                "rectification_type": row.get("rectification_type"), "due_at": _end_of_day(row.get("due_date")),
                "status": ItemStatus.IN_PROGRESS}, instance.id)
        return drafts
    item = _item_of(session, instance, data)
    if item is None:
        return []
    if bpmn_id == "rectify_item":
        return _change(session, item, "rectification_item", {"status": ItemStatus.SUBMITTED,
                                                    "completion": data.get("item_completion"),
                                                    "progress": data.get("item_progress")}, instance.id)
    if bpmn_id == "verify_item":
        passed = data.get("item_verify_decision") == "通过"
        return _change(session, item, "rectification_item",
                       {"status": ItemStatus.VERIFIED if passed else ItemStatus.REJECTED}, instance.id)
    if bpmn_id == "strike_off_item":
        return _change(session, item, "rectification_item", {"status": ItemStatus.STRUCK_OFF, "struck_off_at": now,
                                                    "struck_off_by_id": actor.user_id}, instance.id)
    return []


Hook = Callable[[Session, ProcessInstance, str, dict[str, Any], Actor, datetime], list[EventDraft]]
HOOKS: dict[str, Hook] = {"clue": _clue_step, "rectification": _rectification_step}


def on_task_completed(session: Session, instance: ProcessInstance, task: HumanTask, task_data: dict[str, Any],
                      submitted: dict[str, Any], actor: Actor, now: datetime) -> list[EventDraft]:
    hook = HOOKS.get(instance.case_kind or "")
    if hook is None:
        return []
    return hook(session, instance, task.bpmn_id, {**task_data, **submitted}, actor, now)


# -- opening cases -----------------------------------------------------------------------------------

def _recused_for(session: Session, unit: Organisation, persons: list[dict[str, Any]]) -> list[int]:
    """回避: everyone working in the inspected unit, and anyone named as a person concerned."""
    ids = set(session.execute(select(User.id).join(Organisation, User.org_id == Organisation.id)
                              .where(Organisation.path.startswith(unit.path))).scalars())
    for person in persons:
        id_number = person.get("id_number")
        if id_number:
            ids.update(session.execute(select(User.id).where(User.id_number == id_number)).scalars())
    return sorted(ids)


def hand_over_clue(session: Session, ctx: EngineContext, actor: Actor, *, inspection: Inspection,
                   receiving_org: Organisation, number: str, summary: str, persons: list[dict[str, Any]],
                   category: str | None = None) -> Clue:
    """Record a clue and start its disposition process with the receiving body bound to the case."""
    from .runtime import start_instance
    now = ctx.clock.now()
    clue = Clue(number=number, inspection_id=inspection.id, unit_id=inspection.unit_id,
                receiving_org_id=receiving_org.id, persons_concerned=persons, summary=summary, category=category,
                status=ClueStatus.HANDING_OVER, created_at=now, due_at=deadline_after(now, CLUE_RESULT_WORKING_DAYS))
    session.add(clue)
    session.flush()
    instance = start_instance(
        session, ctx, actor, CLUE_PROCESS,
        {"clue_id": clue.id, "clue_number": number, "clue_summary": summary,
         "receiving_body_name": receiving_org.name},
        scope_path=inspection.round.org.path, title=f"问题线索 {number}", reference=number,
        case_kind="clue", confidential=True,
        bindings={"receiving_body": receiving_org.path, "inspection_group": inspection.team.path,
                  "unit": inspection.unit.path},
        recused_user_ids=_recused_for(session, inspection.unit, persons),
        unit_path=inspection.unit.path, round_id=inspection.round_id)
    clue.instance_id = instance.id
    return clue


def open_rectification(session: Session, ctx: EngineContext, actor: Actor, *, inspection: Inspection,
                       findings: list[Finding]) -> ProcessInstance:
    """Put the findings on the unit's ledger (one item each) and start the rectification process."""
    from .runtime import start_instance

    if not findings:
        raise InvalidInput("至少需要一个反馈问题。", "At least one finding is needed.")
    items = []
    for finding in findings:
        item = RectificationItem(finding_id=finding.id, unit_id=inspection.unit_id, number=finding.number,
                                 problem=finding.description, status=ItemStatus.PENDING,
                                 created_at=ctx.clock.now())
        session.add(item)
        items.append(item)
    session.flush()
    unit = inspection.unit
    instance = start_instance(
        session, ctx, actor, RECTIFICATION_PROCESS,
        {"unit_name": unit.name, "case_title": f"{unit.name} 巡察整改",
         "items": [{"item_id": i.id, "number": i.number, "problem": i.problem} for i in items]},
        scope_path=inspection.round.org.path, title=f"{unit.name} 巡察整改",
        reference=f"ZG-{inspection.round.year}-{inspection.id:04d}", case_kind="rectification",
        bindings={"unit": unit.path, "inspection_group": inspection.team.path},
        unit_path=unit.path, round_id=inspection.round_id)
    for item in items:
        item.instance_id = instance.id
    return instance
