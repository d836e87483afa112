"""回头看: revisiting a unit whose rectification has finished, reopening what was not really fixed.

The office starts it from a finished rectification (or one whose every item is struck off): a 回头看
inspection of the unit (``inspection.revisit_of_id`` → the original inspection) in a 回头看 round,
reopened items (new ledger rows whose ``origin_item_id`` points at the original, same problem text,
a new deadline) and/or new problems, and a new ``rectification`` case for them, opened exactly as
any rectification is (engine.cases.open_rectification). The link is kept by the rows themselves:
new case → its findings' inspection → ``revisit_of_id`` → the original inspection's case.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from models import (
    Finding,
    Inspection,
    InstanceStatus,
    ItemStatus,
    ProcessInstance,
    RectificationItem,
    Round,
    RoundKind,
    TermPlan,
)

from . import audit, cases, planning
from .actors import Actor
from .calendar import END_OF_DAY, LOCAL_TZ
from .context import EngineContext
from .errors import Conflict, InvalidInput, NotFound, NotPermitted
from .permissions import allows_on_case, can_see_instance
from .taskaccess import lock_instance

REVISIT_DAYS = 25  # a 回头看 round lasts 20–25 days (DOMAIN.md)


@dataclass
class Revisit:
    instance: ProcessInstance
    inspection: Inspection
    items: list[RectificationItem]


def _not_found() -> NotFound:
    return NotFound("整改案件不存在或无权查看。", "The rectification case does not exist or is not visible to you.")


def _items(session: Session, instance_id: int) -> list[RectificationItem]:
    return list(session.execute(select(RectificationItem).where(RectificationItem.instance_id == instance_id)
                                .order_by(RectificationItem.id)).scalars())


def source_inspection(session: Session, instance: ProcessInstance) -> Inspection | None:
    """The inspection whose feedback a rectification case works on."""
    item = next(iter(_items(session, instance.id)), None)
    return item.finding.inspection if item is not None else None


def may_revisit(session: Session, actor: Actor, instance: ProcessInstance) -> bool:
    """Can the actor start a 回头看 from this case now (office over it, and the rectification is done)?"""
    if instance.case_kind != "rectification" or not allows_on_case(actor, "case", "revisit", instance):
        return False
    items = _items(session, instance.id)
    return bool(items) and (instance.status == InstanceStatus.COMPLETED
                            or all(i.status == ItemStatus.STRUCK_OFF for i in items))


def require_revisit_rights(actor: Actor, instance: ProcessInstance) -> None:
    """Refuse (403) one who sees the case but is not the office over it; whether it is finished comes after."""
    if not allows_on_case(actor, "case", "revisit", instance):
        raise NotPermitted("只有本级巡察办可以开展回头看。", "Only the office over the case may start a 回头看.")


def _revisit_round(session: Session, ctx: EngineContext, actor: Actor, plan: TermPlan, round_id: int | None,
                   today: date) -> Round:
    if round_id is not None:
        round_ = planning.get_round(session, actor, round_id, edit=True)
        if round_.kind != RoundKind.REVISIT or round_.plan_id != plan.id:
            raise InvalidInput("请选择本届规划中的“回头看”轮次。", "Choose a 回头看 round of the same plan.",
                               {"field": "round_id"})
        return round_
    ends = min(today + timedelta(days=REVISIT_DAYS), date(today.year, 12, 31))
    return planning.create_round(session, ctx, actor, plan.id, {
        "year": today.year, "kind": RoundKind.REVISIT, "starts_on": today, "ends_on": ends})


def start_revisit(session: Session, ctx: EngineContext, actor: Actor, instance_id: int, *,
                  reopen_item_ids: list[int], new_problems: list[str], due_on: date | None,
                  round_id: int | None = None, team_id: int | None = None) -> Revisit:
    """Start a 回头看 of the unit of a finished rectification (see the module docstring)."""
    instance = session.get(ProcessInstance, instance_id)
    if instance is None or not can_see_instance(actor, instance) or instance.case_kind != "rectification":
        raise _not_found()
    require_revisit_rights(actor, instance)
    if not may_revisit(session, actor, instance):
        raise Conflict("整改尚未办结（或仍有未销号事项），不能开展回头看。",
                       "The rectification has not finished (items remain on the ledger); no 回头看 yet.")
    today = ctx.clock.now().astimezone(LOCAL_TZ).date()
    if due_on is None or due_on <= today:
        raise InvalidInput("请填写晚于今天的整改期限。", "Give a new deadline after today.", {"field": "due_on"})
    originals = {i.id: i for i in _items(session, instance.id)}
    if len(set(reopen_item_ids)) != len(reopen_item_ids) or any(i not in originals for i in reopen_item_ids):
        raise InvalidInput("只能重新打开本案件的整改事项（每项一次）。",
                           "Only this case's items can be reopened, each once.", {"field": "reopen_item_ids"})
    problems = [p.strip() for p in new_problems if p and p.strip()]
    if not reopen_item_ids and not problems:
        raise InvalidInput("请至少重新打开一项整改事项或新增一个问题。",
                           "Reopen at least one item or add at least one new problem.")
    original = source_inspection(session, instance)
    assert original is not None
    plan = session.get(TermPlan, original.round.plan_id)
    assert plan is not None
    round_ = _revisit_round(session, ctx, actor, plan, round_id, today)
    inspection = planning.add_inspection(
        session, ctx, actor, round_.id, unit_id=original.unit_id, team_id=team_id or original.team_id,
        contacts={"contact_phone": original.contact_phone, "contact_mailbox": original.contact_mailbox,
                  "contact_address": original.contact_address}, revisit_of_id=original.id)
    code = original.unit.code
    findings: list[Finding] = []
    for item_id in reopen_item_ids:
        item = originals[item_id]
        findings.append(Finding(inspection_id=inspection.id, number="", source="反馈问题",
                                category=item.finding.category, description=item.problem))
    findings += [Finding(inspection_id=inspection.id, number="", source="反馈问题", category="其他", description=p)
                 for p in problems]
    for n, finding in enumerate(findings, start=1):
        finding.number = f"{code}-H{inspection.id}-{n:02d}"
    session.add_all(findings)
    session.flush()
    new_case = cases.open_rectification(session, ctx, actor, inspection=inspection, findings=findings)
    due_at = datetime.combine(due_on, END_OF_DAY, tzinfo=LOCAL_TZ)
    items = _items(session, new_case.id)
    origin_ids: list[int | None] = [*reopen_item_ids, *[None] * len(problems)]
    for item, origin in zip(items, origin_ids, strict=True):
        item.origin_item_id, item.due_at = origin, due_at
    session.flush()
    now = ctx.clock.now()
    audit.record_case(session, new_case, [audit.EventDraft("revisit_started", {
        "revisit_of_instance_id": instance.id, "inspection_id": inspection.id, "round_id": round_.id,
        "reopened_item_ids": reopen_item_ids, "new_problems": problems, "due_on": due_on.isoformat()},
        new_case.id)], at=now, actor_id=actor.user_id, actor_name=actor.username)
    old = lock_instance(session, instance.id)
    audit.record_case(session, old, [audit.EventDraft("revisit_opened", {
        "revisit_instance_id": new_case.id, "inspection_id": inspection.id, "reopened_item_ids": reopen_item_ids},
        old.id)], at=now, actor_id=actor.user_id, actor_name=actor.username)
    return Revisit(new_case, inspection, items)


def _cases_of_inspections(session: Session, inspection_ids: set[int]) -> list[ProcessInstance]:
    if not inspection_ids:
        return []
    ids = set(session.execute(select(RectificationItem.instance_id)
                              .join(Finding, Finding.id == RectificationItem.finding_id)
                              .where(Finding.inspection_id.in_(inspection_ids))).scalars()) - {None}
    return list(session.execute(select(ProcessInstance).where(ProcessInstance.id.in_(ids))
                                .order_by(ProcessInstance.id)).scalars())


def revisit_of(session: Session, actor: Actor, instance: ProcessInstance) -> list[ProcessInstance]:
    """回头看自 …: the earlier case(s) this 回头看 case revisits (those the actor may see)."""
    inspection = source_inspection(session, instance) if instance.case_kind == "rectification" else None
    if inspection is None or inspection.revisit_of_id is None:
        return []
    return [c for c in _cases_of_inspections(session, {inspection.revisit_of_id}) if can_see_instance(actor, c)]


def revisited_by(session: Session, actor: Actor, instance: ProcessInstance) -> list[ProcessInstance]:
    """已回头看 →: the 回头看 cases started from this case's inspection (those the actor may see)."""
    inspection = source_inspection(session, instance) if instance.case_kind == "rectification" else None
    if inspection is None:
        return []
    later = set(session.execute(select(Inspection.id).where(Inspection.revisit_of_id == inspection.id)).scalars())
    return [c for c in _cases_of_inspections(session, later) if can_see_instance(actor, c) and c.id != instance.id]
