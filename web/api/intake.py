"""Intake of an inspection's three outputs over the API: the reports, and clues and feedback problems
in bulk (the same engine.intake the entry pages use)."""

from __future__ import annotations

from typing import Any

from flask import g

from engine import intake
from engine.errors import InvalidInput, NotFound
from models import InspectionReport, ReportKind

from ..db import committed, ctx, db
from .params import json_body, optional_int_field
from .serializers import iso

REPORT_SLUGS = {"clues": ReportKind.CLUES, "interviews": ReportKind.INTERVIEWS, "inspection": ReportKind.INSPECTION}
SLUG_OF = {kind: slug for slug, kind in REPORT_SLUGS.items()}


def _report(kind: str, row: InspectionReport | None) -> dict[str, Any]:
    if row is None:
        return {"kind": SLUG_OF[kind], "name": kind, "id": None, "revision": None}
    return {"kind": SLUG_OF[kind], "name": kind, "id": row.id, "title": row.title, "body": row.body,
            "signed_by": row.signed_by, "signed_on": row.signed_on.isoformat() if row.signed_on else None,
            "revision": row.revision, "recorded_at": iso(row.recorded_at)}


def get_inspection_reports(inspection_id: int) -> dict[str, Any]:
    reports = intake.reports_of(db(), g.actor, inspection_id)
    return {"inspection_id": inspection_id, "reports": [_report(k, r) for k, r in reports.items()]}


def put_inspection_report(inspection_id: int, kind: str) -> dict[str, Any]:
    if kind not in REPORT_SLUGS:
        raise NotFound(f"未知的报告：{kind}", f"Unknown report: {kind}", {"allowed": list(REPORT_SLUGS)})
    body = json_body()
    texts = {}
    for name in ("title", "body", "signed_by", "signed_on"):
        value = body.get(name)
        if value is not None and not isinstance(value, str):
            raise InvalidInput(f"字段 {name} 必须是字符串。", f"Field '{name}' must be a string.", {"field": name})
        texts[name] = value
    row = intake.save_report(db(), g.actor, inspection_id, REPORT_SLUGS[kind], title=texts["title"] or "",
                             body=texts["body"] or "", signed_by=texts["signed_by"], signed_on=texts["signed_on"],
                             revision=optional_int_field(body, "revision"), now=ctx().clock.now())
    return committed(_report(row.kind, row))


def _rows() -> list[dict[str, Any]]:
    rows = json_body().get("rows")
    if not isinstance(rows, list):
        raise InvalidInput("缺少字段 rows（数组）。", "Field 'rows' (an array) is required.", {"field": "rows"})
    return rows


def post_inspection_clues(inspection_id: int) -> tuple[dict[str, Any], int]:
    clues = intake.record_clues(db(), ctx(), g.actor, inspection_id, _rows())
    body = {"clues": [{"id": c.id, "number": c.number, "instance_id": c.instance_id} for c in clues]}
    return committed((body, 201))


def post_inspection_findings(inspection_id: int) -> tuple[dict[str, Any], int]:
    instance_id = intake.record_findings(db(), ctx(), g.actor, inspection_id, _rows())
    return committed(({"instance_id": instance_id}, 201))
