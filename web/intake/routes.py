"""三位一体 intake pages: an inspection's three reports, and the grids in which its group enters the
clues and the feedback problems (typed, pasted from Excel/WPS, or read from an uploaded sheet)."""

from __future__ import annotations

import re
from typing import Any

from flask import Blueprint, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from werkzeug.wrappers import Response

from engine import intake, ledger_sheets
from engine.errors import InvalidInput, RowsInvalid, XunchaError

from ..auth.routes import login_required, permission_required
from ..db import ctx, db
from ..i18n import t
from ..pages import refused

bp = Blueprint("intake", __name__, template_folder="templates")

TABLES = {"clues": intake.CLUE_COLUMNS, "findings": intake.FINDING_COLUMNS}
REPORT_SLUGS = {"clues": intake.ReportKind.CLUES, "interviews": intake.ReportKind.INTERVIEWS,
                "inspection": intake.ReportKind.INSPECTION}
_CELL = re.compile(r"^rows-(\d{1,4})-([a-z_]+)$")
MAX_GRID_ROWS = 500


@bp.route("/intake")
@permission_required("intake", "read")
def index() -> str:
    return render_template("intake/index.html", inspections=intake.inspections_for(db(), g.actor))


def _grid_rows(table: str) -> list[dict[str, str]]:
    """The grid's cells (``rows-<n>-<key>``), then any rows pasted as tab-separated text, in order."""
    keys = {c.key for c in TABLES[table]}
    cells: dict[int, dict[str, str]] = {}
    for name, value in request.form.items():
        if (match := _CELL.match(name)) and match.group(2) in keys:
            cells.setdefault(int(match.group(1)), {})[match.group(2)] = value
    rows = [cells[n] for n in sorted(cells)]
    pasted = request.form.get("paste", "")
    for line in pasted.replace("\r\n", "\n").split("\n"):
        if line.strip():
            rows.append(dict(zip([c.key for c in TABLES[table]], line.split("\t"), strict=False)))
    if len(rows) > MAX_GRID_ROWS:
        raise InvalidInput(f"一次最多录入 {MAX_GRID_ROWS} 行。", f"At most {MAX_GRID_ROWS} rows at a time.")
    return rows


def _page(inspection_id: int, *, status: int = 200, grids: dict[str, list[dict[str, str]]] | None = None,
          problems: dict[str, list[dict[str, Any]]] | None = None) -> tuple[str, int]:
    session = db()
    inspection = intake.get_inspection(session, g.actor, inspection_id)
    return render_template(
        "intake/show.html", inspection=inspection, reports=intake.reports_of(session, g.actor, inspection_id),
        slugs={kind: slug for slug, kind in REPORT_SLUGS.items()}, may_record=intake.may_record(g.actor, inspection),
        rectification_id=intake.rectification_of(session, inspection), tables=TABLES, grids=grids or {},
        problems=problems or {}, bodies=intake.receiving_body_names(session)), status


@bp.route("/intake/<int:inspection_id>")
@login_required
def show(inspection_id: int) -> tuple[str, int]:
    return _page(inspection_id)


@bp.post("/intake/<int:inspection_id>/reports/<slug>")
@login_required
def save_report(inspection_id: int, slug: str) -> Response:
    kind = REPORT_SLUGS.get(slug)
    if kind is None:
        raise InvalidInput(f"未知的报告：{slug}", f"Unknown report: {slug}")
    revision = request.form.get("revision", "")
    try:
        intake.save_report(db(), g.actor, inspection_id, kind, title=request.form.get("title", ""),
                           body=request.form.get("body", ""), signed_by=request.form.get("signed_by"),
                           signed_on=request.form.get("signed_on") or None,
                           revision=int(revision) if revision.isdigit() else None, now=ctx().clock.now())
    except XunchaError as exc:
        return refused(exc, url_for("intake.show", inspection_id=inspection_id))
    db().commit()
    flash(_("%(kind)s已保存。", kind=_(kind)), "success")
    return redirect(url_for("intake.show", inspection_id=inspection_id))


@bp.post("/intake/<int:inspection_id>/<table>")
@login_required
def submit(inspection_id: int, table: str) -> Response | tuple[str, int]:
    if table not in TABLES:
        raise InvalidInput(f"未知的表格：{table}", f"Unknown table: {table}")
    intake.get_inspection(db(), g.actor, inspection_id, write=True)
    upload = request.files.get("sheet")
    if upload is not None and upload.filename:
        sha256 = ledger_sheets.store_sheet(ctx().attachments_dir, upload.filename, upload.mimetype, upload.stream)
        path = ledger_sheets.sheet_path(ctx().attachments_dir, sha256)
        rows = ledger_sheets.read_table(path, {c.zh: c.key for c in TABLES[table]})
        flash(_("已从表格读入 %(n)s 行，请核对后提交。", n=len(rows)), "success")
        return _page(inspection_id, grids={table: rows})
    rows = _grid_rows(table)
    try:
        if table == "clues":
            created = intake.record_clues(db(), ctx(), g.actor, inspection_id, rows)
            done = _("已移交 %(n)s 条问题线索。", n=len(created))
        else:
            intake.record_findings(db(), ctx(), g.actor, inspection_id, rows)
            done = _("已录入 %(n)s 个反馈问题，整改已启动。", n=sum(1 for r in rows if any(r.values())))
    except (RowsInvalid, InvalidInput) as exc:
        db().rollback()
        flash(t(exc.message_zh, exc.message_en), "error")
        return _page(inspection_id, status=422, grids={table: rows}, problems={table: exc.details.get("rows", [])})
    db().commit()
    flash(done, "success")
    return redirect(url_for("intake.show", inspection_id=inspection_id))
