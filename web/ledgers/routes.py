"""Ledger pages: the 整改台账 of a unit (its three lists, search, filters, editing its columns, Excel
export and import with preview, 对账 with what changed since) and the 问题线索台账."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from sqlalchemy import select
from werkzeug.wrappers import Response

from engine import ledgers, reconciliation
from engine.errors import InvalidInput, NotFound, XunchaError
from engine.permissions import allows
from models import ItemStatus, ProcessInstance, RectificationItem

from ..auth.routes import login_required
from ..db import ctx, db
from ..pages import refused
from ..params import page_number
from ..reads import record_clue_reads
from . import service

bp = Blueprint("ledgers", __name__, template_folder="templates")

VIEWS = {"all": ("整改台账", "Full ledger", tuple(f.key for f in ledgers.LEDGER_FIELDS)),
         **{key: view for key, view in ledgers.LISTS.items()}}
ITEM_STATUSES = tuple(v for k, v in vars(ItemStatus).items() if k.isupper())


def _choice(name: str, allowed: tuple[str, ...]) -> str | None:
    value = request.args.get(name, "").strip() or None
    if value is not None and value not in allowed:
        raise InvalidInput(f"参数 {name} 的值无效：{value}", f"Invalid value for '{name}': {value}")
    return value


@bp.route("/ledgers")
@login_required
def index() -> str:
    units = ledgers.ledger_units(db(), g.actor)
    return render_template("ledgers/index.html", units=units, clue_readers=allows(g.actor, "clue", "read"))


@bp.route("/ledgers/rectification/<int:unit_id>")
@login_required
def rectification(unit_id: int) -> str:
    session = db()
    unit = ledgers.ledger_unit(session, g.actor, unit_id)
    view = request.args.get("view", "all")
    if view not in VIEWS:
        raise InvalidInput(f"未知的清单：{view}", f"Unknown list: {view}")
    listing = ledgers.rectification_ledger(
        session, g.actor, unit_id, q=request.args.get("q", "").strip(),
        category=_choice("category", ledgers.CATEGORIES), status=_choice("status", ITEM_STATUSES),
        rectification_type=_choice("type", ledgers.RECTIFICATION_TYPES),
        page=page_number(request.args.get("page")))
    rows = ledgers.item_rows(session, listing.items)
    editable = _editable(listing.items)
    diff = reconciliation.diff_since_last(session, g.actor, unit_id)
    return render_template(
        "ledgers/rectification.html", unit=unit, view=view, views=VIEWS, listing=listing, rows=rows,
        fields=[ledgers.FIELD_BY_KEY[k] for k in VIEWS[view][2]], editable=editable, diff=diff,
        may_reconcile=reconciliation.may_reconcile(session, g.actor, unit), categories=ledgers.CATEGORIES,
        statuses=ITEM_STATUSES, types=ledgers.RECTIFICATION_TYPES,
        history=reconciliation.history(session, g.actor, unit_id)[:5])


def _editable(items: list[RectificationItem]) -> dict[int, set[str]]:
    ids = {item.instance_id for item in items}
    instances = {i.id: i for i in db().execute(select(ProcessInstance).where(ProcessInstance.id.in_(ids))).scalars()}
    return {item.id: ledgers.editable_fields(g.actor, item, instances[item.instance_id])
            for item in items if item.instance_id in instances}


@bp.route("/ledgers/rectification/<int:unit_id>/items/<int:item_id>", methods=["GET", "POST"])
@login_required
def edit_item(unit_id: int, item_id: int) -> Response | str:
    session = db()
    item = ledgers.visible_row(session, g.actor, RectificationItem, item_id)
    if item.unit_id != unit_id:
        raise NotFound("记录不存在或无权查看。", "The record does not exist or is not visible to you.")
    allowed = _editable([item]).get(item.id, set())
    if request.method == "POST":
        values = {key: request.form.get(key, "") for key in allowed if key in request.form}
        try:
            changes = ledgers.update_item(session, g.actor, item_id, values, ctx().clock.now())
        except XunchaError as exc:
            return refused(exc, url_for("ledgers.edit_item", unit_id=unit_id, item_id=item_id))
        session.commit()
        flash(_("已保存（修改 %(n)s 项）。", n=len(changes)), "success")
        return redirect(url_for("ledgers.rectification", unit_id=unit_id))
    (row,) = ledgers.item_rows(session, [item])
    return render_template("ledgers/edit_item.html", unit_id=unit_id, item=item, row=row, allowed=allowed,
                           fields=ledgers.LEDGER_FIELDS)


@bp.route("/ledgers/rectification/<int:unit_id>/export")
@login_required
def export(unit_id: int) -> Response:
    return service.rectification_export(unit_id)


@bp.post("/ledgers/rectification/<int:unit_id>/import")
@login_required
def import_preview(unit_id: int) -> str | tuple[str, int]:
    unit = ledgers.ledger_unit(db(), g.actor, unit_id)
    try:
        preview = service.preview(unit_id, service.take_sheet())
    except XunchaError as exc:
        if exc.status == 404:
            raise
        return render_template("ledgers/import_errors.html", unit=unit, error=exc), exc.status
    return render_template("ledgers/import_preview.html", unit=unit, preview=preview)


@bp.post("/ledgers/rectification/<int:unit_id>/import/confirm")
@login_required
def import_confirm(unit_id: int) -> Response:
    try:
        done = service.confirm(unit_id, request.form.get("sheet", ""), request.form.get("basis", ""))
    except XunchaError as exc:
        return refused(exc, url_for("ledgers.rectification", unit_id=unit_id))
    flash(_("导入完成：更新 %(updated)s 项，新增 %(created)s 项。", updated=done["updated"], created=done["created"]),
          "success")
    return redirect(url_for("ledgers.rectification", unit_id=unit_id))


@bp.post("/ledgers/rectification/<int:unit_id>/reconcile")
@login_required
def reconcile(unit_id: int) -> Response:
    try:
        reconciliation.reconcile(db(), g.actor, unit_id, request.form.get("note"), ctx().clock.now())
    except XunchaError as exc:
        return refused(exc, url_for("ledgers.rectification", unit_id=unit_id))
    db().commit()
    flash(_('已对账，台账快照已保存。'), "success")
    return redirect(url_for("ledgers.rectification", unit_id=unit_id))


@bp.route("/ledgers/clues")
@login_required
def clues() -> str:
    page = page_number(request.args.get("page"))
    status = _choice("status", service.CLUE_STATUSES)
    listing = ledgers.clue_ledger(db(), g.actor, q=request.args.get("q", "").strip(), status=status, page=page)
    rows = ledgers.clue_rows(db(), listing.items, (page - 1) * listing.per_page + 1)
    record_clue_reads(listing.items, "ledger_page")
    context: dict[str, Any] = {"listing": listing, "rows": rows, "fields": ledgers.CLUE_LEDGER_FIELDS,
                               "statuses": service.CLUE_STATUSES}
    return render_template("ledgers/clues.html", **context)


@bp.route("/ledgers/clues/export")
@login_required
def clues_export() -> Response:
    return service.clue_export(request.args.get("q", "").strip(), _choice("status", service.CLUE_STATUSES))
