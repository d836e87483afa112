"""审计: the auditor's pages — verify the hash chains now (and see the first broken link), browse the
events with filters, and export the whole trail with its chain (CSV or JSON; the export is itself
audited). Read-only; auditors and the office (engine.permissions.MATRIX, resource "audit")."""

from __future__ import annotations

from collections.abc import Iterator

from flask import Blueprint, Response, g, render_template, request, stream_with_context

from engine import audit, audit_export

from ..auth.routes import permission_required
from ..db import ctx, db, sessions, writing
from ..params import page_number

bp = Blueprint("audit", __name__, template_folder="templates")
PER_PAGE = 50
MIMETYPES = {"csv": "text/csv; charset=utf-8", "json": "application/json"}


def _page(result: audit.VerifyResult | None = None) -> str:
    flt = audit_export.parse_filter(request.args.to_dict())
    page = page_number(request.args.get("page"))
    rows, total = audit_export.browse(db(), g.actor, flt, page=page, per_page=PER_PAGE)
    listing = {"page": page, "pages": max(1, -(-total // PER_PAGE)), "total": total}
    return render_template("audit/index.html", rows=rows, listing=listing, flt=flt, result=result,
                           types=audit_export.event_types(db()))


@bp.route("/audit")
@permission_required("audit", "read")
def index() -> str:
    return _page()


@bp.post("/audit/verify")
@permission_required("audit", "verify")
def verify() -> tuple[str, int]:
    """Recompute every chain now; the page shows the result (and the first broken link)."""
    result = audit.verify(db())
    return _page(result), 200


def export_response(fmt: str, via: str) -> Response:
    """Record the export (committed first, so it is in the file), then stream the trail from a session of
    its own, begun after that commit and closed when the last chunk is out."""
    now = ctx().clock.now()
    with writing() as session:
        audit_export.record_export(session, g.actor, fmt, at=now, via=via)
    factory = sessions(read_only=True)

    def chunks() -> Iterator[str]:
        with factory() as reader:
            if fmt == "json":
                yield from audit_export.export_json(reader, exported_at=now)
            else:
                yield from audit_export.export_csv(reader)

    stamp = now.strftime("%Y%m%dT%H%M%SZ")
    response = Response(stream_with_context(chunks()), mimetype=MIMETYPES[fmt])
    response.headers["Content-Disposition"] = f'attachment; filename="xuncha-audit-{stamp}.{fmt}"'
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


@bp.route("/audit/export")
@permission_required("audit", "export")
def export() -> Response:
    return export_response(request.args.get("format", "csv"), "page")
