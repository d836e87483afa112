"""Read-only queries behind the case pages: the case lists, and the history of a case in words."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from flask_babel import gettext
from sqlalchemy import select
from sqlalchemy.orm import Session

from engine import ledgers
from engine.actors import Actor
from engine.paging import Page
from models import AuditEvent, Clue, Organisation, ProcessInstance, RectificationItem

from ..display import label
from ..i18n import N_

CASE_KINDS = {"rectification": N_("巡察整改案件"), "clue": N_("问题线索案件")}


@dataclass
class CaseRow:
    instance: ProcessInstance
    number: str | None  # the clue's number (clue cases only)
    org_name: str  # receiving body (clues) or inspected unit (rectification)
    status: str | None  # the clue's own status (clue cases only)


def list_cases(session: Session, actor: Actor, kind: str, page: int, per_page: int = 20) -> Page[CaseRow]:
    """Cases of ``kind`` the actor may see, newest first (visibility: engine.ledgers)."""
    found = ledgers.visible_page(session, actor, ProcessInstance, kind, [],
                                 [ProcessInstance.started_at.desc(), ProcessInstance.id.desc()], page, per_page)
    ids = [instance.id for instance in found.items]
    if kind == "clue":
        details = {iid: (number, org, status) for iid, number, org, status in session.execute(
            select(Clue.instance_id, Clue.number, Organisation.name, Clue.status)
            .join(Organisation, Organisation.id == Clue.receiving_org_id).where(Clue.instance_id.in_(ids)))}
    else:
        details = {iid: (None, org, None) for iid, org in session.execute(
            select(RectificationItem.instance_id, Organisation.name)
            .join(Organisation, Organisation.id == RectificationItem.unit_id)
            .where(RectificationItem.instance_id.in_(ids)).distinct())}
    rows = [CaseRow(instance, *details.get(instance.id, (None, "—", None))) for instance in found.items]
    return Page(rows, found.total, found.page, found.per_page)


_FIELD_LABELS = {"status": N_("状态"), "disposition_method": N_("处置方式"), "four_forms": N_("四种形态"),
                 "measures": N_("整改措施"), "responsible_leader": N_("责任领导"),
                 "responsible_department": N_("牵头部门"), "responsible_person": N_("责任人"),
                 "rectification_type": N_("整改类型"), "due_at": N_("完成时限"), "completion": N_("完成情况"),
                 "handed_over_at": N_("移交时间"), "closed_at": N_("办结时间"), "struck_off_at": N_("销号时间"),
                 "struck_off_by_id": N_("销号人")}
_STATUS_KIND = {"clue": "clue", "rectification_item": "item"}


def _change_text(entity: str, field: str, values: Any) -> str:
    name = gettext(_FIELD_LABELS[field]) if field in _FIELD_LABELS else field
    after = values[1] if isinstance(values, list) and len(values) == 2 else values
    if field == "status":
        return gettext("%(name)s：%(value)s", name=name, value=label(after, _STATUS_KIND.get(entity, entity)))
    if field.endswith("_at") or field.endswith("_id"):
        return name
    return gettext("%(name)s：%(value)s", name=name, value=after if after not in (None, "") else "—")


def event_summary(event: AuditEvent) -> str:
    """A line a person can read, from the event's payload (never its form data in full)."""
    try:
        payload = json.loads(event.payload)
    except ValueError:
        return ""
    if not isinstance(payload, dict):
        return ""
    name = payload.get("name") or ""
    kind = event.event_type
    if kind == "instance_started":
        return gettext("%(title)s（流程 %(key)s 第 %(version)s 版）", title=payload.get("title", ""),
                       key=payload.get("process_key"), version=payload.get("version"))
    if kind == "task_assigned" and payload.get("assignee"):
        return f"{name} → {payload['assignee']}"
    if kind == "case_updated":
        entity = str(payload.get("entity", ""))
        changes = payload.get("changes") or {}
        parts = [_change_text(entity, f, v) for f, v in changes.items()] if isinstance(changes, dict) else []
        return gettext("%(name)s：%(value)s", name=label(entity, "entity"), value=gettext("；").join(parts))
    if kind == "timer_fired":
        return str(payload.get("bpmn_id", ""))
    if kind in ("attachment_added", "attachment_removed", "attachment_downloaded"):
        return str(payload.get("filename", ""))
    if kind == "comment_added":
        body = str(payload.get("body", ""))
        return body if len(body) <= 60 else body[:60] + "…"
    return str(name)
