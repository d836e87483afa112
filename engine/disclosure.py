"""Public disclosure: 巡察公告 for a round's inspections and 整改公开 for a finished rectification.

Only ``Publication`` rows the office has explicitly published reach the public page, and only their
own fields (title, body, period, contact channels): nothing is read from a case for the public. A
publication is never deleted; withdrawing it records who, when and why, and hides it. Publishing and
withdrawing are audited (a rectification's on its case stream, an announcement on the system stream).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from models import (
    AuditEvent,
    Inspection,
    InstanceStatus,
    Organisation,
    ProcessInstance,
    Publication,
    PublicationKind,
    Round,
    TermPlan,
)

from . import audit, planning
from .actors import Actor
from .cases import RECTIFICATION_PROCESS
from .context import EngineContext
from .errors import Conflict, InvalidInput, NotFound, NotPermitted
from .paging import Page
from .permissions import allows, allows_on_case, can_see_instance, org_id_of, orgs_within, scopes

DISCLOSURE_STEP = "disclosure"  # the 整改公开 step of the shipped rectification diagram
LIMITS = {"title": 300, "body": 20000, "contact_phone": 64, "contact_mailbox": 200, "contact_address": 300}
ANNOUNCEMENT_BODY = ("根据市委巡察工作统一部署，{team}对{unit}开展{kind}巡察。"
                     "巡察期间，巡察组受理反映{unit}领导班子及其成员、下一级党组织领导班子主要负责人和重要岗位领导干部问题的来信来电来访，重点受理违反政治纪律、组织纪律、"
                     "廉洁纪律、群众纪律、工作纪律和生活纪律等方面的举报和反映。")


@dataclass
class Draft:
    """A prefilled publication the office reviews and may edit before publishing."""

    kind: str
    title: str
    body: str
    period_start: date | None = None
    period_end: date | None = None
    contact_phone: str | None = None
    contact_mailbox: str | None = None
    contact_address: str | None = None
    round_id: int | None = None
    inspection_id: int | None = None
    unit_id: int | None = None
    instance_id: int | None = None

    def fields(self) -> dict[str, Any]:
        return {k: v for k, v in vars(self).items()}


def _not_found() -> NotFound:
    return NotFound("公开信息不存在或无权查看。", "The publication does not exist or is not visible to you.")


def _not_the_office() -> NotPermitted:
    return NotPermitted("只有本级巡察办可以发布或撤回公开信息。",
                        "Only the office over it may publish or withdraw a publication.")


# -- drafts ----------------------------------------------------------------------------------------------

def announcement_draft(session: Session, actor: Actor, inspection_id: int) -> Draft:
    """A 巡察公告 for one inspection, prefilled from the round and the inspection's contact fields."""
    inspection = planning.get_inspection(session, actor, inspection_id, edit=True)
    round_ = inspection.round
    return Draft(PublicationKind.ANNOUNCEMENT, f"{round_.name}：{inspection.team.name}进驻{inspection.unit.name}公告",
                 ANNOUNCEMENT_BODY.format(team=inspection.team.name, unit=inspection.unit.name, kind=round_.kind),
                 round_.starts_on, round_.ends_on, inspection.contact_phone, inspection.contact_mailbox,
                 inspection.contact_address, round_.id, inspection.id, inspection.unit_id)


def approved_disclosure(session: Session, instance_id: int) -> dict[str, Any] | None:
    """What the 整改公开 step last submitted (``publish``, ``public_text`` …), from the case's audit trail."""
    rows = session.execute(select(AuditEvent.payload).where(
        AuditEvent.instance_id == instance_id, AuditEvent.event_type == "task_completed")
        .order_by(AuditEvent.seq.desc())).scalars()
    for payload in rows:
        event = json.loads(payload)
        if event.get("bpmn_id") == DISCLOSURE_STEP:
            data: dict[str, Any] = event.get("data") or {}
            return data
    return None


def _rectification(session: Session, actor: Actor, instance_id: int) -> ProcessInstance:
    instance = session.get(ProcessInstance, instance_id)
    if instance is None or instance.case_kind != "rectification" or not can_see_instance(actor, instance):
        raise _not_found()
    if not allows_on_case(actor, "publication", "publish", instance):
        raise _not_the_office()
    return instance


def rectification_draft(session: Session, actor: Actor, instance_id: int) -> Draft:
    """A 整改公开 for a finished rectification, prefilled with the text its 整改公开 step approved."""
    instance = _rectification(session, actor, instance_id)
    if instance.status != InstanceStatus.COMPLETED or instance.process_key != RECTIFICATION_PROCESS:
        raise Conflict("整改尚未办结，不能公开结果。", "The rectification has not finished; nothing to publish yet.")
    approved = approved_disclosure(session, instance.id) or {}
    if approved.get("publish") is not True or not approved.get("public_text"):
        raise Conflict("整改公开环节决定不予公开（或没有审定的公开文本）。",
                       "The 整改公开 step decided not to publish (or approved no public text).")
    unit = session.get(Organisation, planning_unit_id(instance))
    unit_name = unit.name if unit else ""
    return Draft(PublicationKind.RECTIFICATION, f"{unit_name}关于巡察整改情况的通报", str(approved["public_text"]),
                 unit_id=unit.id if unit else None, instance_id=instance.id, round_id=instance.round_id)


def planning_unit_id(instance: ProcessInstance) -> int | None:
    return org_id_of(instance.unit_path)


def may_publish_result(session: Session, actor: Actor, instance: ProcessInstance) -> bool:
    """Is there a 整改公开 the actor could publish now (finished, approved for publication, not yet live)?"""
    if (instance.case_kind != "rectification" or instance.status != InstanceStatus.COMPLETED
            or not allows_on_case(actor, "publication", "publish", instance)):
        return False
    approved = approved_disclosure(session, instance.id) or {}
    if approved.get("publish") is not True or not approved.get("public_text"):
        return False
    return session.execute(select(Publication.id).where(
        Publication.instance_id == instance.id, Publication.withdrawn_at.is_(None))).first() is None


# -- publishing and withdrawing ----------------------------------------------------------------------------

def _text(values: dict[str, Any], name: str, required: bool = False) -> str | None:
    raw = values.get(name)
    text = str(raw).strip() if raw is not None else ""
    if required and not text:
        raise InvalidInput(f"请填写{ {'title': '标题', 'body': '正文'}.get(name, name) }。", f"'{name}' is required.",
                           {"field": name})
    if len(text) > LIMITS[name]:
        raise InvalidInput(f"{name} 过长（最多 {LIMITS[name]} 字）。",
                           f"'{name}' is too long (at most {LIMITS[name]}).", {"field": name})
    return text or None


def _scope_of(session: Session, draft: Draft) -> int:
    """The publishing office's organisation: the plan's (city or county) for a round, the case's otherwise."""
    if draft.round_id is not None:
        round_ = session.get(Round, draft.round_id)
        plan = session.get(TermPlan, round_.plan_id) if round_ else None
        if plan is not None:
            return plan.org_id
    instance = session.get(ProcessInstance, draft.instance_id) if draft.instance_id else None
    scope = org_id_of((instance.bindings or {}).get("_scope")) if instance else None
    assert scope is not None
    return scope


def publish(session: Session, ctx: EngineContext, actor: Actor, *, kind: str, source_id: int,
            values: dict[str, Any]) -> Publication:
    """Publish an announcement (``source_id`` = the inspection) or a rectification result (the instance), with
    the office's edits of the prefilled draft in ``values`` (title, body, dates and contacts)."""
    if kind == PublicationKind.ANNOUNCEMENT:
        draft = announcement_draft(session, actor, source_id)
    elif kind == PublicationKind.RECTIFICATION:
        draft = rectification_draft(session, actor, source_id)
    else:
        raise InvalidInput("公开类型须为 announcement 或 rectification。",
                           "The kind must be announcement or rectification.", {"field": "kind"})
    live = select(Publication.id).where(Publication.kind == kind, Publication.withdrawn_at.is_(None),
                                        Publication.inspection_id == draft.inspection_id
                                        if kind == PublicationKind.ANNOUNCEMENT
                                        else Publication.instance_id == draft.instance_id)
    if session.execute(live).first() is not None:
        raise Conflict("已经公开过，如需更正请先撤回。", "Already published; withdraw it first to correct it.")
    title = _text({**draft.fields(), **values}, "title", required=True)
    body = _text({**draft.fields(), **values}, "body", required=True)
    fields = {**draft.fields()}
    if kind == PublicationKind.ANNOUNCEMENT:
        for name in ("contact_phone", "contact_mailbox", "contact_address"):
            if name in values:
                fields[name] = _text(values, name)
        for name in ("period_start", "period_end"):
            if name in values:
                fields[name] = planning._date(values[name], name)
        if fields["period_start"] and fields["period_end"] and fields["period_start"] > fields["period_end"]:
            raise InvalidInput("公告期结束日期不能早于开始日期。", "The period cannot end before it starts.",
                               {"field": "period_end"})
    fields.update(title=title, body=body)
    now = ctx.clock.now()
    row = Publication(scope_org_id=_scope_of(session, draft), published_at=now, published_by_id=actor.user_id,
                      **fields)
    session.add(row)
    session.flush()
    if kind == PublicationKind.ANNOUNCEMENT and draft.inspection_id is not None:
        inspection = session.get(Inspection, draft.inspection_id)
        assert inspection is not None
        inspection.announced = True
    _audit(session, ctx, actor, row, "publication_published", {
        "publication_id": row.id, "kind": kind, "title": title, "body": body,
        "contacts": [row.contact_phone, row.contact_mailbox, row.contact_address]})
    return row


def _audit(session: Session, ctx: EngineContext, actor: Actor, row: Publication, event_type: str,
           payload: dict[str, Any]) -> None:
    at = ctx.clock.now()
    if row.instance_id is not None:
        from .taskaccess import lock_instance
        instance = lock_instance(session, row.instance_id)
        audit.record_case(session, instance, [audit.EventDraft(event_type, payload, instance.id)], at=at,
                          actor_id=actor.user_id, actor_name=actor.username)
    else:
        audit.record(session, audit.SYSTEM_STREAM, [audit.EventDraft(event_type, payload)], at=at,
                     actor_id=actor.user_id, actor_name=actor.username)


def get_publication(session: Session, actor: Actor, publication_id: int) -> Publication:
    row = session.get(Publication, publication_id)
    org = session.get(Organisation, row.scope_org_id) if row is not None else None
    if row is None or org is None or not allows(actor, "publication", "read", org.path):
        raise _not_found()
    return row


def withdraw(session: Session, ctx: EngineContext, actor: Actor, publication_id: int, reason: str) -> Publication:
    """Take a publication off the public page, with a reason; the row and its history stay."""
    row = get_publication(session, actor, publication_id)
    org = session.get(Organisation, row.scope_org_id)
    assert org is not None
    if not allows(actor, "publication", "publish", org.path):
        raise _not_the_office()
    reason = (reason or "").strip()
    if not reason:
        raise InvalidInput("请填写撤回原因。", "Give a reason for withdrawing.", {"field": "reason"})
    if len(reason) > 500:
        raise InvalidInput("撤回原因过长（最多 500 字）。", "The reason is too long (at most 500).",
                           {"field": "reason"})
    if row.withdrawn_at is not None:
        raise Conflict("该公开信息已撤回。", "This publication has already been withdrawn.")
    row.withdrawn_at, row.withdrawn_by_id, row.withdraw_reason = ctx.clock.now(), actor.user_id, reason
    if row.kind == PublicationKind.ANNOUNCEMENT and row.inspection_id is not None:
        inspection = session.get(Inspection, row.inspection_id)
        assert inspection is not None
        inspection.announced = False
    session.flush()
    _audit(session, ctx, actor, row, "publication_withdrawn", {"publication_id": row.id, "reason": reason})
    return row


# -- listings --------------------------------------------------------------------------------------------

def _page(session: Session, stmt: Any, page: int, per_page: int) -> Page[Publication]:
    total = session.execute(select(func.count()).select_from(stmt.subquery())).scalar_one()
    rows = session.execute(stmt.order_by(Publication.published_at.desc(), Publication.id.desc())
                           .offset((page - 1) * per_page).limit(per_page)).scalars().all()
    return Page(list(rows), total, page, per_page)


def public_page(session: Session, *, kind: str | None = None, page: int = 1, per_page: int = 20) -> Page[Publication]:
    """What anyone may read: published, never withdrawn."""
    stmt = select(Publication).where(Publication.withdrawn_at.is_(None))
    if kind:
        stmt = stmt.where(Publication.kind == kind)
    return _page(session, stmt, page, per_page)


def office_page(session: Session, actor: Actor, *, kind: str | None = None, page: int = 1,
                per_page: int = 20) -> Page[Publication]:
    """Every publication (withdrawn ones too) of the offices the actor oversees."""
    paths = scopes(actor, "publication", "read")
    if not paths:
        return Page([], 0, page, per_page)
    stmt = select(Publication).join(Organisation, Organisation.id == Publication.scope_org_id).where(
        orgs_within(paths))
    if kind:
        stmt = stmt.where(Publication.kind == kind)
    return _page(session, stmt, page, per_page)
