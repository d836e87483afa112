"""The case ledgers: 问题线索 (clues) and 整改台账 (rectification items), each scoped to the caller.

Reading a clue is itself a recorded event: every clue returned, in a list or alone, leaves a
``clue_viewed`` event on its case's audit stream.
"""

from __future__ import annotations

from typing import Any

from flask import g, request
from sqlalchemy import or_

from engine import ledgers
from models import Clue, ClueStatus, ItemStatus, RectificationItem

from ..db import db
from ..reads import record_clue_reads
from . import serializers
from .params import choice_arg, int_arg, pagination

CLUE_STATUSES = tuple(v for k, v in vars(ClueStatus).items() if k.isupper())
ITEM_STATUSES = tuple(v for k, v in vars(ItemStatus).items() if k.isupper())


def list_clues() -> dict[str, Any]:
    status = choice_arg("status", CLUE_STATUSES)
    q = request.args.get("q", "").strip()
    page, per_page = pagination()
    where = []
    if status:
        where.append(Clue.status == status)
    if q:
        like = f"%{q}%"
        where.append(or_(Clue.number.ilike(like), Clue.summary.ilike(like)))
    found = ledgers.visible_page(db(), g.actor, Clue, "clue", where, [Clue.number, Clue.id], page, per_page)
    body = serializers.page([serializers.clue(c) for c in found.items], found.total, page, per_page)
    record_clue_reads(found.items, "list")
    return body


def get_clue(clue_id: int) -> dict[str, Any]:
    clue = ledgers.visible_row(db(), g.actor, Clue, clue_id)
    body = serializers.clue(clue)
    record_clue_reads([clue], "detail")
    return body


def list_rectification_items() -> dict[str, Any]:
    status = choice_arg("status", ITEM_STATUSES)
    unit = int_arg("unit")
    page, per_page = pagination()
    where = []
    if status:
        where.append(RectificationItem.status == status)
    if unit is not None:
        where.append(RectificationItem.unit_id == unit)
    found = ledgers.visible_page(db(), g.actor, RectificationItem, "rectification", where,
                                 [RectificationItem.unit_id, RectificationItem.number, RectificationItem.id],
                                 page, per_page)
    return serializers.page([serializers.rectification_item(i) for i in found.items], found.total, page, per_page)


def get_rectification_item(item_id: int) -> dict[str, Any]:
    return serializers.rectification_item(ledgers.visible_row(db(), g.actor, RectificationItem, item_id))
