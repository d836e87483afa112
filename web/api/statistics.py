"""Figures, generated reports and 凡提必用 lookups over the API (engine.statistics, engine.reports,
engine.promotion_check): the same rules and numbers as the dashboard, reports and lookup pages."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from flask import g, request
from werkzeug.wrappers import Response

from engine import promotion_check, reports, statistics
from engine.errors import InvalidInput
from models import ReportDocument

from ..db import committed, ctx, db
from ..params import page_number
from ..reports.routes import chart_data, county_filter, pdf_response
from .auth import require_permission
from .params import json_body
from .serializers import iso

PER_PAGE = 20


def get_statistics() -> dict[str, Any]:
    """``?county=CODE`` narrows to one county within the reader's scope."""
    require_permission("dashboard", "read")
    county = county_filter(request.args.get("county"))
    figures = statistics.figures(db(), g.actor, ctx().clock.now(), under=county.path if county else None)
    return {"county": county.code if county else None, **chart_data(figures),
            "overdue_items": [{"unit": i.unit_name, "county": i.county, "number": i.number, "problem": i.problem,
                               "due_at": iso(i.due_at), "working_days_overdue": i.working_days_overdue}
                              for i in figures.overdue_items]}


def _report(document: ReportDocument) -> dict[str, Any]:
    return {"id": document.id, "kind": document.kind, "title": document.title, "sha256": document.sha256,
            "size": document.size, "generated_at": iso(document.generated_at),
            "period_start": document.period_start.isoformat() if document.period_start else None,
            "period_end": document.period_end.isoformat() if document.period_end else None}


def list_reports() -> dict[str, Any]:
    require_permission("report", "read")
    page = page_number(request.args.get("page"))
    rows, total = reports.list_reports(db(), g.actor, page=page, per_page=PER_PAGE)
    return {"items": [_report(r) for r in rows], "total": total, "page": page, "per_page": PER_PAGE}


def create_report() -> tuple[dict[str, Any], int]:
    require_permission("report", "generate")
    kind = json_body().get("kind")
    if not isinstance(kind, str):
        raise InvalidInput("缺少报告类型 kind。", "Field 'kind' is required.", {"allowed": list(reports.KINDS)})
    document = reports.generate(db(), g.actor, kind, at=ctx().clock.now(), attachments_dir=ctx().attachments_dir)
    return committed((_report(document), 201))


def get_report_pdf(report_id: int) -> Response:
    require_permission("report", "read")
    return pdf_response(reports.get_report(db(), g.actor, report_id))


def create_promotion_check() -> dict[str, Any]:
    """Body ``{"unit": CODE}`` looks up a unit; ``{"name", "id_number" and/or "unit"}`` a person."""
    require_permission("promotion_check", "run")
    body = json_body()
    now = ctx().clock.now()
    text = {k: str(v).strip() for k, v in body.items() if isinstance(v, str)}
    if "name" in body:
        result = promotion_check.check_person(db(), g.actor, name=text.get("name", ""),
                                              id_number=text.get("id_number"), unit_code=text.get("unit"), at=now)
    else:
        result = promotion_check.check_unit(db(), g.actor, unit_code=text.get("unit", ""), at=now)
    db().commit()
    payload = asdict(result)
    for entry in payload["clues"] + payload["items"]:
        for key in ("handed_over_at", "closed_at", "due_at", "struck_off_at"):
            if key in entry:
                entry[key] = iso(entry[key])
    payload["asked_at"] = iso(result.asked_at)
    payload["needs_verification"] = result.needs_verification
    return payload
