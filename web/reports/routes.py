"""统计与报告: the dashboard of figures (ECharts, bundled locally) and the generated PDF reports
(督查通报, 向领导小组报告) — for the office and the leading group, within their oversight scope."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, flash, g, redirect, render_template, request, send_file, url_for
from flask_babel import gettext as _
from werkzeug.wrappers import Response

from engine import reports, statistics
from engine.errors import NotFound
from engine.permissions import allows
from models import Organisation, ReportDocument

from ..auth.routes import permission_required
from ..db import ctx, db
from ..params import page_number

bp = Blueprint("reports", __name__, template_folder="templates")
PER_PAGE = 20


def county_filter(code: str | None) -> Organisation | None:
    """The county to drill down into (``?county=CODE``), which must lie within the reader's scope."""
    if not code:
        return None
    for county in statistics.counties_in_scope(db(), g.actor):
        if county.code == code:
            return county
    raise NotFound("县区不存在或不在您的范围内。", "No such county within your scope.", {"county": code})


def chart_data(figures: statistics.Figures) -> dict[str, Any]:
    """What the dashboard's charts draw (also the API's answer): plain lists, labels in Chinese."""
    return {
        "as_of": figures.as_of.isoformat(),
        "rectification": {"items": figures.items_total, "struck_off": figures.items_struck_off,
                          "rate": round(figures.rate, 4), "overdue": len(figures.overdue_items)},
        "coverage": {"units_in_plan": figures.units_in_plan,
                     "years": [{"year": y.year, "planned": y.planned, "inspected": y.inspected}
                               for y in figures.coverage]},
        "clues": {"total": figures.clues.total, "overdue": figures.clues.overdue,
                  "by_stage": figures.clues.by_stage, "by_receiving_body": figures.clues.by_receiving_body,
                  "by_four_forms": figures.clues.by_four_forms},
        "completion": [{"month": m, "items": total, "struck_off": done} for m, total, done in figures.completion],
        "units": [{"unit": u.unit_name, "county": u.county, "items": u.total, "struck_off": u.struck_off,
                   "overdue": u.overdue, "rate": round(u.rate, 4)} for u in figures.units],
        "counties": [{"county": c, "items": items, "struck_off": done, "overdue": late}
                     for c, items, done, late in figures.by_county()],
    }


@bp.route("/dashboard")
@permission_required("dashboard", "read")
def dashboard() -> str:
    county = county_filter(request.args.get("county"))
    figures = statistics.figures(db(), g.actor, ctx().clock.now(), under=county.path if county else None)
    return render_template("reports/dashboard.html", figures=figures, data=chart_data(figures), county=county,
                           counties=statistics.counties_in_scope(db(), g.actor))


@bp.route("/reports")
@permission_required("report", "read")
def index() -> str:
    page = page_number(request.args.get("page"))
    rows, total = reports.list_reports(db(), g.actor, page=page, per_page=PER_PAGE)
    listing = {"page": page, "pages": max(1, -(-total // PER_PAGE)), "total": total}
    return render_template("reports/index.html", rows=rows, listing=listing, kinds=reports.KINDS,
                           can_generate=allows(g.actor, "report", "generate"))


@bp.post("/reports")
@permission_required("report", "generate")
def generate() -> Response:
    kind = request.form.get("kind", "")
    if kind not in reports.KINDS:
        abort(400)
    document = reports.generate(db(), g.actor, kind, at=ctx().clock.now(), attachments_dir=ctx().attachments_dir)
    db().commit()
    flash(_("已生成《%(title)s》。", title=document.title), "success")
    return redirect(url_for("reports.index"))


@bp.route("/reports/<int:report_id>.pdf")
@permission_required("report", "read")
def download(report_id: int) -> Response:
    return pdf_response(reports.get_report(db(), g.actor, report_id), inline=request.args.get("inline") == "1")


def pdf_response(document: ReportDocument, *, inline: bool = False) -> Response:
    """An issued report's stored PDF, named after its title (the page and the API serve it alike)."""
    response = send_file(reports.report_path(document, ctx().attachments_dir), mimetype="application/pdf",
                         as_attachment=not inline, download_name=f"{document.title}.pdf", etag=document.sha256)
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response
