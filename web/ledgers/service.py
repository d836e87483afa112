"""What the ledger pages and the ledger API share: the exported workbooks as downloads, and taking an
uploaded sheet in (type and size limits, stored by checksum until the import is confirmed)."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from flask import Response, g, request

from engine import ledger_sheets, ledgers
from engine.errors import InvalidInput, TooLarge
from models import ClueStatus

from ..db import ctx, db
from ..reads import record_clue_reads

CLUE_STATUSES = tuple(v for k, v in vars(ClueStatus).items() if k.isupper())


def xlsx_download(data: bytes, filename: str) -> Response:
    """An .xlsx as a download (RFC 5987 name, never rendered, never cached)."""
    response = Response(data, mimetype=ledger_sheets.XLSX_TYPE)
    response.headers["Content-Disposition"] = (
        f"attachment; filename=\"ledger.xlsx\"; filename*=UTF-8''{quote(filename, safe='')}")
    response.headers["Cache-Control"] = "private, no-store"
    return response


def rectification_export(unit_id: int) -> Response:
    session = db()
    unit = ledgers.ledger_unit(session, g.actor, unit_id)
    rows = ledgers.item_rows(session, ledgers.all_visible_items(session, g.actor, unit_id))
    now = ctx().clock.now()
    data = ledger_sheets.rectification_workbook(unit.name, rows, now)
    return xlsx_download(data, f"{unit.name}巡察整改台账.xlsx")


def clue_export(q: str, status: str | None) -> Response:
    """Every clue of the 问题线索台账 the actor may see; each is recorded as read (exported)."""
    session = db()
    found = ledgers.clue_ledger(session, g.actor, q=q, status=status, page=1, per_page=1_000_000)
    rows = ledgers.clue_rows(session, found.items)
    data = ledger_sheets.clue_workbook(g.actor.display_name, rows, ctx().clock.now())
    record_clue_reads(found.items, "export")
    return xlsx_download(data, "巡察发现问题线索台账.xlsx")


def take_sheet() -> str:
    """The uploaded sheet (form field ``file``), checked and stored; returns its sha256."""
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        raise InvalidInput("请选择要导入的 .xlsx 文件。", "Choose an .xlsx file to import.", {"field": "file"})
    ledger_sheets.check_upload(upload.filename, upload.mimetype)
    if request.content_length and request.content_length > ledger_sheets.MAX_SHEET_BYTES + 64 * 1024:
        raise _too_large()
    return ledger_sheets.store_sheet(ctx().attachments_dir, upload.filename, upload.mimetype, upload.stream)


def _too_large() -> TooLarge:
    size = ledger_sheets.MAX_SHEET_BYTES // (1024 * 1024)
    return TooLarge(f"导入的表格不得超过 {size} MB。", f"An imported sheet may be at most {size} MB.",
                    {"max_bytes": ledger_sheets.MAX_SHEET_BYTES})


def preview(unit_id: int, sha256: str) -> dict[str, Any]:
    rows = ledger_sheets.read_sheet(ledger_sheets.sheet_path(ctx().attachments_dir, sha256))
    plan = ledger_sheets.plan_import(db(), g.actor, unit_id, rows)
    return {"sheet": sha256, **plan.as_dict()}


def confirm(unit_id: int, sha256: str, basis: str) -> dict[str, Any]:
    rows = ledger_sheets.read_sheet(ledger_sheets.sheet_path(ctx().attachments_dir, sha256))
    plan = ledger_sheets.apply_import(db(), g.actor, unit_id, rows, basis, ctx().clock.now())
    db().commit()
    return {"updated": len(plan.updates), "created": len(plan.creates)}
