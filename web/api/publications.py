"""Publications over the JSON API (engine.disclosure): the office's list, publishing a 巡察公告 or a 整改公开
from its source (inspection or rectification case), and withdrawing with a reason."""

from __future__ import annotations

from datetime import date
from typing import Any

from flask import g

from engine import disclosure
from engine.errors import InvalidInput
from models import Publication, PublicationKind

from ..db import committed, ctx, db
from . import serializers
from .auth import require_permission
from .params import choice_arg, json_body, pagination, text_field

KINDS = (PublicationKind.ANNOUNCEMENT, PublicationKind.RECTIFICATION)
VALUES = ("title", "body", "period_start", "period_end", "contact_phone", "contact_mailbox", "contact_address")


def _day(value: date | None) -> str | None:
    return value.isoformat() if value else None


def publication_body(row: Publication) -> dict[str, Any]:
    return {"id": row.id, "kind": row.kind, "scope_org_id": row.scope_org_id, "round_id": row.round_id,
            "inspection_id": row.inspection_id, "unit_id": row.unit_id, "instance_id": row.instance_id,
            "title": row.title, "body": row.body, "period_start": _day(row.period_start),
            "period_end": _day(row.period_end), "contact_phone": row.contact_phone,
            "contact_mailbox": row.contact_mailbox, "contact_address": row.contact_address,
            "published_at": serializers.iso(row.published_at), "withdrawn_at": serializers.iso(row.withdrawn_at),
            "withdraw_reason": row.withdraw_reason}


def list_publications() -> dict[str, Any]:
    require_permission("publication", "read")
    kind = choice_arg("kind", KINDS)
    page, per_page = pagination()
    listing = disclosure.office_page(db(), g.actor, kind=kind, page=page, per_page=per_page)
    return serializers.page([publication_body(p) for p in listing.items], listing.total, page, per_page)


def create_publication() -> tuple[dict[str, Any], int]:
    body = json_body()
    kind, source = body.get("kind"), body.get("source_id")
    if kind not in KINDS:
        raise InvalidInput("kind 须为 announcement 或 rectification。", "kind must be announcement or rectification.",
                           {"field": "kind"})
    if isinstance(source, bool) or not isinstance(source, int):
        raise InvalidInput("source_id（巡察对象或整改案件的 id）必须是整数。",
                           "source_id (the inspection's or the case's id) must be an integer.", {"field": "source_id"})
    values = {k: v for k, v in body.items() if k in VALUES}
    row = disclosure.publish(db(), ctx(), g.actor, kind=kind, source_id=source, values=values)
    return committed((publication_body(row), 201))


def withdraw_publication(publication_id: int) -> dict[str, Any]:
    reason = text_field(json_body(), "reason")
    row = disclosure.withdraw(db(), ctx(), g.actor, publication_id, reason)
    return committed(publication_body(row))
