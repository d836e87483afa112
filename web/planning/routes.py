"""巡察规划: the term plan with its coverage matrix, rounds and the inspections within them, and the counties'
figures rolled up for the city (engine.planning). Publications and 回头看 pages join this blueprint
(web/planning/publications.py, web/planning/revisits.py)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Blueprint, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from werkzeug.wrappers import Response

from engine import coverage as rules
from engine import planning
from engine.errors import InvalidInput, NotFound, XunchaError
from models import Inspection, Organisation, Round, TermPlan

from ..auth.routes import login_required, permission_required
from ..db import ctx, db
from ..i18n import t
from ..pages import refused
from ..params import page_number

bp = Blueprint("planning", __name__, template_folder="templates")

STATUS_LABELS = {rules.DONE: ("已巡察", "Inspected"), rules.SCHEDULED: ("已安排", "Scheduled"),
                 rules.PLANNED: ("计划", "Planned")}


def step(action: Callable[[], Any], done: str, then: str | Callable[[Any], str]) -> Response:
    """Run an engine action in the request's transaction: commit and say ``done``, or roll back and say why.
    A row the reader may not see stays a 404."""
    try:
        result = action()
    except XunchaError as exc:
        fields = exc.details.get("fields") if isinstance(exc.details.get("fields"), dict) else {}
        detail = _("；").join(_("%(name)s：%(value)s", name=name, value=t(m.get("message_zh", ""),
                                                                            m.get("message_en", "")))
                             for name, m in fields.items() if isinstance(m, dict))
        return refused(exc, then if isinstance(then, str) else request.referrer or url_for("planning.index"),
                       _("（%(detail)s）", detail=detail) if detail else "")
    db().commit()
    flash(done, "success")
    return redirect(then if isinstance(then, str) else then(result))


@bp.route("/planning")
@permission_required("plan", "read")
def index() -> str:
    plans = planning.visible_plans(db(), g.actor)
    if not plans:
        raise NotFound("没有可查看的巡察规划。", "There is no plan you may see.")
    orgs = {p.id: db().get(Organisation, p.org_id) for p in plans}
    summaries = {p.id: rules.plan_coverage(db(), ctx(), g.actor, p.id, per_page=1) for p in plans}
    counties = rules.county_rollup(db(), ctx(), g.actor)
    return render_template("planning/index.html", plans=plans, orgs=orgs, summaries=summaries, counties=counties)


@bp.route("/planning/plans/<int:plan_id>")
@login_required
def plan(plan_id: int) -> str:
    term = planning.get_plan(db(), g.actor, plan_id)
    org = planning.plan_org(db(), term)
    summary = rules.plan_coverage(db(), ctx(), g.actor, plan_id, per_page=1)
    rounds = planning.rounds_of(db(), g.actor, plan_id)
    by_year: dict[int, list[Round]] = {}
    for round_ in rounds:
        by_year.setdefault(round_.year, []).append(round_)
    counts = {r.id: len(planning.inspections_of(db(), r)) for r in rounds}
    return render_template("planning/plan.html", plan=term, org=org, summary=summary, by_year=by_year, counts=counts,
                           may_edit=planning.may_edit(g.actor, org), kinds=planning.KINDS, methods=planning.METHODS)


@bp.route("/planning/plans/<int:plan_id>/coverage")
@login_required
def coverage(plan_id: int) -> str:
    sector = request.args.get("sector") or None
    status = request.args.get("status") or None
    q = (request.args.get("q") or "").strip() or None
    cov = rules.plan_coverage(db(), ctx(), g.actor, plan_id, sector=sector, status=status, q=q,
                            page=page_number(request.args.get("page")), per_page=25)
    org = planning.plan_org(db(), cov.plan)
    return render_template("planning/coverage.html", cov=cov, org=org, sector=sector, status=status, q=q or "",
                           labels=STATUS_LABELS)


def _round_values() -> dict[str, Any]:
    form = request.form
    return {name: form.get(name, "").strip() for name in ("year", "name", "kind", "method", "starts_on", "ends_on")
            if name in form}


@bp.post("/planning/plans/<int:plan_id>/rounds")
@login_required
def create_round(plan_id: int) -> Response:
    values = {k: v for k, v in _round_values().items() if v != "" or k in ("year",)}
    return step(lambda: planning.create_round(db(), ctx(), g.actor, plan_id, values),
                _('已新建巡察轮次。'), lambda r: url_for("planning.round_page", round_id=r.id))


@bp.route("/planning/rounds/<int:round_id>")
@login_required
def round_page(round_id: int) -> str:
    round_ = planning.get_round(db(), g.actor, round_id)
    term = db().get(TermPlan, round_.plan_id)
    assert term is not None
    org = planning.plan_org(db(), term)
    inspections = planning.inspections_of(db(), round_)
    in_round = {i.unit_id for i in inspections}
    units = [u for u in planning.plan_units(db(), term) if u.id not in in_round]
    stage_index = planning.STAGES.index(round_.stage) if round_.stage in planning.STAGES else 0
    next_stage = planning.STAGES[stage_index + 1] if stage_index + 1 < len(planning.STAGES) else None
    return render_template("planning/round.html", round=round_, plan=term, org=org, inspections=inspections,
                           units=units, teams=planning.teams_for(db(), term), may_edit=planning.may_edit(g.actor, org),
                           kinds=planning.KINDS, methods=planning.METHODS, stages=planning.STAGES,
                           next_stage=next_stage)


@bp.post("/planning/rounds/<int:round_id>")
@login_required
def update_round(round_id: int) -> Response:
    values: dict[str, Any] = _round_values()
    values.pop("year", None)
    return step(lambda: planning.update_round(db(), ctx(), g.actor, round_id, values),
                _('已保存轮次信息。'), url_for("planning.round_page", round_id=round_id))


@bp.post("/planning/rounds/<int:round_id>/stage")
@login_required
def advance_stage(round_id: int) -> Response:
    stage = request.form.get("stage", "")
    return step(lambda: planning.update_round(db(), ctx(), g.actor, round_id, {"stage": stage}),
                _("轮次已进入“%(stage)s”阶段。", stage=_(stage)),
                url_for("planning.round_page", round_id=round_id))


def _int_field(name: str) -> int | None:
    raw = request.form.get(name, "").strip()
    return int(raw) if raw.isdigit() else None


@bp.post("/planning/rounds/<int:round_id>/inspections")
@login_required
def add_inspections(round_id: int) -> Response:
    """One group to one or several units (一托N): every unit ticked gets an inspection by the same group."""
    unit_ids = [int(v) for v in request.form.getlist("unit_id") if v.isdigit()]
    team_id = _int_field("team_id")
    contacts = {name: request.form.get(name, "") for name in planning.CONTACT_FIELDS}

    def action() -> list[Inspection]:
        if not unit_ids:
            raise InvalidInput("请至少选择一个被巡察单位。", "Choose at least one unit.")
        return [planning.add_inspection(db(), ctx(), g.actor, round_id, unit_id=unit_id, team_id=team_id or 0,
                                        contacts=contacts) for unit_id in unit_ids]
    return step(action, _("已安排 %(n)s 个被巡察单位。", n=len(unit_ids)),
                url_for("planning.round_page", round_id=round_id))


@bp.post("/planning/inspections/<int:inspection_id>")
@login_required
def update_inspection(inspection_id: int) -> Response:
    inspection = planning.get_inspection(db(), g.actor, inspection_id)
    values: dict[str, Any] = {name: request.form.get(name, "") for name in planning.CONTACT_FIELDS
                              if name in request.form}
    if _int_field("team_id"):
        values["team_id"] = _int_field("team_id")
    return step(lambda: planning.update_inspection(db(), ctx(), g.actor, inspection_id, values),
                _('已保存。'), url_for("planning.round_page", round_id=inspection.round_id))


from . import publications, revisits  # noqa: E402,F401  (their routes join this blueprint)
