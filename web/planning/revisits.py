"""回头看 from a finished rectification's case page (engine.revisits), and the links between the two cases."""

from __future__ import annotations

from datetime import date
from typing import Any

from flask import g, render_template, request, url_for
from flask_babel import gettext as _
from werkzeug.wrappers import Response

from engine import disclosure, planning, revisits, runtime
from engine.errors import InvalidInput, NotFound
from models import ProcessInstance, RectificationItem, RoundKind, TermPlan

from ..auth.routes import login_required
from ..db import ctx, db
from .routes import bp, step


@bp.app_template_global("revisit_panel")
def revisit_panel(instance: ProcessInstance) -> dict[str, Any]:
    """What a rectification's case page shows: 回头看自 … / 已回头看 → …, and whether the reader may start one."""
    if instance.case_kind != "rectification":
        return {"of": [], "by": [], "may_start": False, "may_publish": False}
    session = db()
    return {"of": revisits.revisit_of(session, g.actor, instance),
            "by": revisits.revisited_by(session, g.actor, instance),
            "may_start": revisits.may_revisit(session, g.actor, instance),
            "may_publish": disclosure.may_publish_result(session, g.actor, instance)}


def _case(instance_id: int) -> ProcessInstance:
    instance = runtime.get_instance(db(), g.actor, instance_id)
    revisits.require_revisit_rights(g.actor, instance)
    if not revisits.may_revisit(db(), g.actor, instance):
        raise NotFound("此案件不能开展回头看。", "No 回头看 can be started from this case.")
    return instance


@bp.route("/cases/<int:instance_id>/revisit")
@login_required
def revisit_form(instance_id: int) -> str:
    instance = _case(instance_id)
    items = list(db().query(RectificationItem).filter(RectificationItem.instance_id == instance.id)
                 .order_by(RectificationItem.id))
    inspection = revisits.source_inspection(db(), instance)
    assert inspection is not None
    term = db().get(TermPlan, inspection.round.plan_id)
    assert term is not None
    rounds = [r for r in planning.rounds_of(db(), g.actor, term.id) if r.kind == RoundKind.REVISIT]
    return render_template("planning/revisit.html", instance=instance, items=items, inspection=inspection,
                           teams=planning.teams_for(db(), term), rounds=rounds)


@bp.post("/cases/<int:instance_id>/revisit")
@login_required
def start_revisit(instance_id: int) -> Response:
    form = request.form

    def action() -> revisits.Revisit:
        try:
            due = date.fromisoformat(form.get("due_on", ""))
        except ValueError:
            raise InvalidInput("请填写新的整改期限（YYYY-MM-DD）。", "Give the new deadline (YYYY-MM-DD).",
                               {"field": "due_on"}) from None
        round_id, team_id = form.get("round_id", ""), form.get("team_id", "")
        return revisits.start_revisit(
            db(), ctx(), g.actor, instance_id,
            reopen_item_ids=[int(v) for v in form.getlist("reopen_item_id") if v.isdigit()],
            new_problems=form.get("new_problems", "").splitlines(), due_on=due,
            round_id=int(round_id) if round_id.isdigit() else None, team_id=int(team_id) if team_id.isdigit() else None)
    return step(action, _('已开展回头看，整改事项已重新打开。'),
                lambda r: url_for("cases.show", instance_id=r.instance.id))
