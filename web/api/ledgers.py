"""The ledgers over the API: the 整改台账 of a unit (JSON pages, .xlsx export, import with preview and
confirmation, editing an item's columns, 对账) and the 问题线索台账 (every clue listed is a recorded read)."""

from __future__ import annotations

from typing import Any

from flask import g, request
from werkzeug.wrappers import Response

from engine import ledgers, reconciliation
from engine.errors import InvalidInput
from models import RectificationItem

from ..db import committed, ctx, db
from ..ledgers import service
from ..reads import record_clue_reads
from .cases import ITEM_STATUSES
from .params import choice_arg, json_body, pagination, text_field
from .serializers import iso, page


def get_rectification_ledger(unit_id: int) -> dict[str, Any]:
    page_number, per_page = pagination()
    unit = ledgers.ledger_unit(db(), g.actor, unit_id)
    found = ledgers.rectification_ledger(
        db(), g.actor, unit_id, q=request.args.get("q", "").strip(),
        category=choice_arg("category", ledgers.CATEGORIES), status=choice_arg("status", ITEM_STATUSES),
        rectification_type=choice_arg("type", ledgers.RECTIFICATION_TYPES), page=page_number, per_page=per_page)
    body = page(ledgers.item_rows(db(), found.items), found.total, page_number, per_page)
    return {"unit": {"id": unit.id, "name": unit.name}, **body}


def export_rectification_ledger(unit_id: int) -> Response:
    return service.rectification_export(unit_id)


def preview_ledger_import(unit_id: int) -> dict[str, Any]:
    ledgers.ledger_unit(db(), g.actor, unit_id)
    sha256 = service.take_sheet()
    return service.preview(unit_id, sha256)


def confirm_ledger_import(unit_id: int) -> dict[str, Any]:
    body = json_body()
    return service.confirm(unit_id, text_field(body, "sheet"), text_field(body, "basis"))


def edit_ledger_item(item_id: int) -> dict[str, Any]:
    values = json_body().get("values")
    if not isinstance(values, dict) or not all(isinstance(v, str) for v in values.values()):
        raise InvalidInput("缺少字段 values（列名到文本的对象）。", "Field 'values' (column → text) is required.",
                           {"field": "values"})
    changes = ledgers.update_item(db(), g.actor, item_id, values, ctx().clock.now())
    item = ledgers.visible_row(db(), g.actor, RectificationItem, item_id)
    (row,) = ledgers.item_rows(db(), [item])
    return committed({"item": row, "changed": sorted(changes)})


def reconcile_ledger(unit_id: int) -> tuple[dict[str, Any], int]:
    body = request.get_json(silent=True) or {}
    note = body.get("note") if isinstance(body, dict) else None
    row = reconciliation.reconcile(db(), g.actor, unit_id, note if isinstance(note, str) else None,
                                   ctx().clock.now())
    result = {"id": row.id, "unit_id": row.unit_id, "reconciled_at": iso(row.reconciled_at), "note": row.note,
              "items": len(row.snapshot.get("items", {}))}
    return committed((result, 201))


def ledger_reconciliation_diff(unit_id: int) -> dict[str, Any]:
    return reconciliation.diff_since_last(db(), g.actor, unit_id).as_dict()


def get_clue_ledger() -> dict[str, Any]:
    page_number, per_page = pagination()
    found = ledgers.clue_ledger(db(), g.actor, q=request.args.get("q", "").strip(),
                                status=choice_arg("status", service.CLUE_STATUSES), page=page_number,
                                per_page=per_page)
    body = page(ledgers.clue_rows(db(), found.items, (page_number - 1) * per_page + 1), found.total, page_number,
                per_page)
    record_clue_reads(found.items, "ledger")
    return body


def export_clue_ledger() -> Response:
    return service.clue_export(request.args.get("q", "").strip(), choice_arg("status", service.CLUE_STATUSES))
