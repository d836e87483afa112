"""流程故障: the cases whose diagram code was stopped by the sandbox or whose timer failed, for the office
over them and the supervisors who fix diagrams; the incident's section on the case page, and marking an
incident dealt with (engine/incidents.py)."""

from __future__ import annotations

from flask import Blueprint, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from werkzeug.wrappers import Response

from engine import incidents
from engine.errors import InvalidInput
from models import ProcessInstance

from ..auth.routes import permission_required
from ..db import ctx, db
from ..params import MAX_ID, page_number

bp = Blueprint("incidents", __name__, template_folder="templates")

PER_PAGE = 50


def _definition_id(raw: str | None) -> int | None:
    """The ``definition`` filter: a definition version's id, or nothing."""
    if not raw:
        return None
    if not (raw.isascii() and raw.isdigit()) or not 1 <= int(raw) <= MAX_ID:
        raise InvalidInput(f"流程版本无效：{raw}", f"Invalid definition version: {raw}", {"definition": raw})
    return int(raw)


@bp.route("/incidents")
@permission_required("incident", "read")
def index() -> str:
    session = db()
    definition_id = _definition_id(request.args.get("definition"))
    listing = incidents.open_incidents(session, g.actor, definition_id=definition_id,
                                       page=page_number(request.args.get("page")), per_page=PER_PAGE)
    return render_template("incidents/index.html", listing=listing, definition_id=definition_id,
                           definitions=incidents.definitions_with_incidents(session, g.actor))


@bp.app_template_global("case_incident")
def case_incident(instance: ProcessInstance) -> incidents.Incident | None:
    """The case page's incident section: the case page has already checked the reader may see it."""
    return incidents.incident_of(db(), instance)


@bp.post("/incidents/<int:instance_id>/resolve")
@permission_required("incident", "resolve")
def resolve(instance_id: int) -> Response:
    """标记已处理, from the case page's incident section."""
    retried = incidents.resolve(db(), g.actor, instance_id, at=ctx().clock.now(),
                                note=request.form.get("note", ""))
    db().commit()
    flash(_("故障已标记为已处理，失败的定时器将重新执行。") if retried else _("故障已标记为已处理。"), "success")
    return redirect(url_for("cases.show", instance_id=instance_id))
