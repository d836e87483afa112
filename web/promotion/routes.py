"""凡提必用: the organisation department's lookup by person or by unit before a promotion, printable
for the promotion file. Every lookup is audited (engine.promotion_check)."""

from __future__ import annotations

from flask import Blueprint, g, render_template, request
from sqlalchemy import select

from engine import promotion_check
from engine.errors import InvalidInput, NotFound
from models import Organisation, OrgKind

from ..auth.routes import permission_required
from ..db import ctx, db

bp = Blueprint("promotion", __name__, template_folder="templates")


def _units() -> list[Organisation]:
    return list(db().execute(select(Organisation).where(Organisation.kind.in_((OrgKind.UNIT, OrgKind.TOWNSHIP)))
                             .order_by(Organisation.path)).scalars())


@bp.route("/promotion-checks", methods=["GET", "POST"])
@permission_required("promotion_check", "run")
def index() -> tuple[str, int]:
    """GET shows the form; POST runs a lookup (a POST, because it is an audited act, not a browse)."""
    form = request.form if request.method == "POST" else {}
    result, error, status = None, None, 200
    if request.method == "POST":
        try:
            if form.get("kind") == "unit":
                result = promotion_check.check_unit(db(), g.actor, unit_code=form.get("unit_code", ""),
                                                    at=ctx().clock.now())
            else:
                result = promotion_check.check_person(
                    db(), g.actor, name=form.get("name", ""), id_number=form.get("id_number"),
                    unit_code=form.get("unit_code") or None, at=ctx().clock.now())
            db().commit()
        except (InvalidInput, NotFound) as exc:
            db().rollback()
            error, status = exc, exc.status
    return render_template("promotion/index.html", form=form, result=result, error=error, units=_units()), status
