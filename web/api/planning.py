"""巡察规划 over the JSON API: plans, their rounds and the inspections within them, coverage, and 回头看
(engine.planning, engine.revisits). Rows outside the caller's offices are 404, as everywhere."""

from __future__ import annotations

from datetime import date
from typing import Any

from flask import g, request

from engine import coverage as rules
from engine import planning, revisits
from engine.errors import InvalidInput
from models import Inspection, Organisation, Round, TermPlan

from ..db import committed, ctx, db
from . import serializers
from .auth import require_permission
from .params import choice_arg, int_arg, int_field, json_body, optional_int_field, pagination


def _day(value: date | None) -> str | None:
    return value.isoformat() if value else None


def plan_body(plan: TermPlan) -> dict[str, Any]:
    org = db().get(Organisation, plan.org_id)
    return {"id": plan.id, "name": plan.name, "org_id": plan.org_id, "org": org.name if org else None,
            "start_year": plan.start_year, "end_year": plan.end_year}


def round_body(round_: Round) -> dict[str, Any]:
    return {"id": round_.id, "plan_id": round_.plan_id, "org_id": round_.org_id, "year": round_.year,
            "number": round_.number, "name": round_.name, "kind": round_.kind, "method": round_.method,
            "starts_on": _day(round_.starts_on), "ends_on": _day(round_.ends_on), "stage": round_.stage}


def inspection_body(inspection: Inspection) -> dict[str, Any]:
    return {"id": inspection.id, "round_id": inspection.round_id, "unit_id": inspection.unit_id,
            "unit": inspection.unit.name, "team_id": inspection.team_id, "team": inspection.team.name,
            "announced": inspection.announced, "contact_phone": inspection.contact_phone,
            "contact_mailbox": inspection.contact_mailbox, "contact_address": inspection.contact_address,
            "revisit_of_id": inspection.revisit_of_id}


def list_plans() -> dict[str, Any]:
    require_permission("plan", "read")  # as the page: a role the matrix does not admit is refused, not shown []
    plans = planning.visible_plans(db(), g.actor)
    return {"items": [plan_body(p) for p in plans], "total": len(plans)}


def create_plan() -> tuple[dict[str, Any], int]:
    body = json_body()
    units = body.get("units", [])
    if not isinstance(units, list):
        raise InvalidInput("units 必须是列表。", "units must be a list.", {"field": "units"})
    org_id, start, end = int_field(body, "org_id"), int_field(body, "start_year"), int_field(body, "end_year")
    plan = planning.create_plan(db(), ctx(), g.actor, org_id=org_id, name=str(body.get("name") or ""),
                                start_year=start, end_year=end, units=units)
    return committed((plan_body(plan), 201))


def update_plan_unit(plan_id: int, unit_id: int) -> dict[str, Any]:
    body = json_body()
    if "planned_year" not in body:
        raise InvalidInput("缺少字段 planned_year。", "Field 'planned_year' is required.", {"field": "planned_year"})
    row = planning.set_planned_year(db(), ctx(), g.actor, plan_id, unit_id, body["planned_year"])
    return committed({"plan_id": row.plan_id, "unit_id": row.unit_id, "planned_year": row.planned_year})


def list_rounds(plan_id: int) -> dict[str, Any]:
    rounds = planning.rounds_of(db(), g.actor, plan_id, int_arg("year"))
    return {"items": [round_body(r) for r in rounds], "total": len(rounds)}


def create_round(plan_id: int) -> tuple[dict[str, Any], int]:
    round_ = planning.create_round(db(), ctx(), g.actor, plan_id, json_body())
    return committed((round_body(round_), 201))


def update_round(round_id: int) -> dict[str, Any]:
    round_ = planning.update_round(db(), ctx(), g.actor, round_id, json_body())
    return committed(round_body(round_))


def list_inspections(round_id: int) -> dict[str, Any]:
    round_ = planning.get_round(db(), g.actor, round_id)
    inspections = planning.inspections_of(db(), round_)
    return {"items": [inspection_body(i) for i in inspections], "total": len(inspections)}


def create_inspection(round_id: int) -> tuple[dict[str, Any], int]:
    body = json_body()
    unit_id, team_id = int_field(body, "unit_id"), int_field(body, "team_id")
    inspection = planning.add_inspection(db(), ctx(), g.actor, round_id, unit_id=unit_id, team_id=team_id,
                                         contacts={k: v for k, v in body.items() if k in planning.CONTACT_FIELDS})
    return committed((inspection_body(inspection), 201))


def update_inspection(inspection_id: int) -> dict[str, Any]:
    inspection = planning.update_inspection(db(), ctx(), g.actor, inspection_id, json_body())
    return committed(inspection_body(inspection))


def coverage(plan_id: int) -> dict[str, Any]:
    page, per_page = pagination()
    status = choice_arg("status", ("uncovered", rules.DONE, rules.SCHEDULED, rules.PLANNED))
    cov = rules.plan_coverage(db(), ctx(), g.actor, plan_id, sector=request.args.get("sector") or None,
                            status=status, q=request.args.get("q") or None, page=page, per_page=per_page)
    pace = cov.pace
    return {
        **serializers.page([{"unit_id": r.unit.id, "unit": r.unit.name, "sector": r.unit.sector,
                             "planned_year": r.planned_year, "covered": r.covered,
                             "years": {str(y): c for y, c in sorted(r.cells.items())}} for r in cov.rows],
                           cov.total, page, per_page),
        "plan": plan_body(cov.plan), "years": cov.years, "units": cov.units, "covered": cov.covered,
        "by_sector": [{"sector": s.sector, "units": s.units, "covered": s.covered} for s in cov.by_sector],
        "by_year": {str(y): n for y, n in sorted(cov.by_year.items())},
        "pace": {"remaining_units": pace.remaining_units, "remaining_years": pace.remaining_years,
                 "average_per_year": pace.average_per_year, "capacity": pace.capacity, "behind": pace.behind},
    }


def create_revisit() -> tuple[dict[str, Any], int]:
    body = json_body()
    instance_id = int_field(body, "instance_id")
    reopen, problems = body.get("reopen_item_ids", []), body.get("new_problems", [])
    if not isinstance(reopen, list) or not all(isinstance(i, int) and not isinstance(i, bool) for i in reopen):
        raise InvalidInput("reopen_item_ids 必须是整数列表。", "reopen_item_ids must be a list of integers.",
                           {"field": "reopen_item_ids"})
    if not isinstance(problems, list) or not all(isinstance(p, str) for p in problems):
        raise InvalidInput("new_problems 必须是字符串列表。", "new_problems must be a list of strings.",
                           {"field": "new_problems"})
    try:
        due = date.fromisoformat(str(body.get("due_on", "")))
    except ValueError:
        raise InvalidInput("due_on 须为日期（YYYY-MM-DD）。", "due_on must be a date (YYYY-MM-DD).",
                           {"field": "due_on"}) from None
    result = revisits.start_revisit(db(), ctx(), g.actor, instance_id, reopen_item_ids=reopen, new_problems=problems,
                                    due_on=due, round_id=optional_int_field(body, "round_id"),
                                    team_id=optional_int_field(body, "team_id"))
    items = [{"id": i.id, "number": i.number, "problem": i.problem, "origin_item_id": i.origin_item_id,
              "due_at": serializers.iso(i.due_at)} for i in result.items]
    return committed(({"instance_id": result.instance.id, "inspection": inspection_body(result.inspection),
                       "items": items}, 201))
