"""The term plan (届), its rounds (轮) and the inspections of units within a round; coverage (全覆盖).

Who: a plan belongs to an office's organisation (the city, or one county). The 巡察办 whose ``office``
role covers that organisation runs it (the city's office covers every county below it); the leading
group over it reads it. Anyone else — a county office looking at the city's or another county's
plan, a unit's liaison — is told the plan does not exist (404), as for any row one may not see.

Every change is audited on the system stream with its values before and after.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from models import (
    Inspection,
    Organisation,
    OrgKind,
    Round,
    RoundKind,
    TermPlan,
    TermPlanUnit,
)

from . import audit
from .actors import Actor
from .context import EngineContext
from .errors import Conflict, InvalidInput, NotFound, NotPermitted
from .permissions import allows

KINDS = (RoundKind.REGULAR, RoundKind.THEMATIC, RoundKind.ADHOC, RoundKind.REVISIT, RoundKind.EXTENSION)
METHODS = ("板块轮动", "同类同步", "上下联动", "一托N")
STAGES = ("准备", "进驻", "报告", "反馈", "移交", "整改", "立卷归档")
# The six categories of city units (DOMAIN.md), in the order the plan lists them.
SECTORS = ("市委工作部门", "人大政协", "市政府组成部门", "法院检察院", "群团", "企事业单位")
UNIT_KINDS = (OrgKind.UNIT, OrgKind.TOWNSHIP)
EDITABLE_ROUND_FIELDS = ("name", "kind", "method", "starts_on", "ends_on")
CONTACT_FIELDS = ("contact_phone", "contact_mailbox", "contact_address")


def _not_found() -> NotFound:
    return NotFound("巡察规划、轮次或巡察对象不存在或无权查看。",
                    "The plan, round or inspection does not exist or is not visible to you.")


# -- who may read and change ---------------------------------------------------------------------------

def may_read(actor: Actor, org: Organisation) -> bool:
    """The matrix's ("plan", "read") over the plan's organisation."""
    return allows(actor, "plan", "read", org.path)


def may_edit(actor: Actor, org: Organisation) -> bool:
    """The matrix's ("plan", "edit") over the plan's organisation."""
    return allows(actor, "plan", "edit", org.path)


def visible_plans(session: Session, actor: Actor) -> list[TermPlan]:
    """The plans the actor may read: the city's and the counties' for the city office, its own for a county."""
    plans = session.execute(select(TermPlan).order_by(TermPlan.id)).scalars().all()
    orgs = {o.id: o for o in session.execute(select(Organisation).where(
        Organisation.id.in_({p.org_id for p in plans}))).scalars()}
    return [p for p in plans if may_read(actor, orgs[p.org_id])]


def get_plan(session: Session, actor: Actor, plan_id: int, *, edit: bool = False) -> TermPlan:
    plan = session.get(TermPlan, plan_id)
    org = session.get(Organisation, plan.org_id) if plan is not None else None
    if plan is None or org is None or not may_read(actor, org):
        raise _not_found()
    if edit and not may_edit(actor, org):
        raise _read_only()
    return plan


def _read_only() -> NotPermitted:
    return NotPermitted("只有本级巡察办可以修改巡察规划和轮次。", "Only the office that owns the plan may change it.")


def plan_org(session: Session, plan: TermPlan) -> Organisation:
    org = session.get(Organisation, plan.org_id)
    assert org is not None
    return org


def get_round(session: Session, actor: Actor, round_id: int, *, edit: bool = False) -> Round:
    round_ = session.get(Round, round_id)
    if round_ is None:
        raise _not_found()
    get_plan(session, actor, round_.plan_id, edit=edit)
    return round_


def get_inspection(session: Session, actor: Actor, inspection_id: int, *, edit: bool = False) -> Inspection:
    inspection = session.get(Inspection, inspection_id)
    if inspection is None:
        raise _not_found()
    get_round(session, actor, inspection.round_id, edit=edit)
    return inspection


def _record(session: Session, ctx: EngineContext, actor: Actor, event_type: str, payload: dict[str, Any]) -> None:
    audit.record(session, audit.SYSTEM_STREAM, [audit.EventDraft(event_type, payload)], at=ctx.clock.now(),
                 actor_id=actor.user_id, actor_name=actor.username)


def create_plan(session: Session, ctx: EngineContext, actor: Actor, *, org_id: int, name: str, start_year: int,
                end_year: int, units: list[dict[str, Any]]) -> TermPlan:
    """A new term plan (届) of a city or county the actor's office covers, with its units and planned years.
    Units are the city's or county's own (its direct children); two plans of one office may not overlap in years."""
    org = session.get(Organisation, org_id)
    if org is None or org.kind not in (OrgKind.CITY, OrgKind.COUNTY) or not may_read(actor, org):
        raise _not_found()
    if not may_edit(actor, org):
        raise _read_only()
    name = (name or "").strip()
    if not name or len(name) > 200:
        raise InvalidInput("请填写规划名称（200 字以内）。", "Give the plan a name (up to 200 characters).",
                           {"field": "name"})
    if not all(isinstance(y, int) and not isinstance(y, bool) for y in (start_year, end_year)) \
            or not 2000 <= start_year <= end_year <= start_year + 9:
        raise InvalidInput("届期须为起止年度（不超过十年）。",
                           "The term is a start and an end year (ten years at most).", {"field": "end_year"})
    overlapping = session.execute(select(TermPlan.id).where(
        TermPlan.org_id == org.id, TermPlan.start_year <= end_year, TermPlan.end_year >= start_year)).first()
    if overlapping is not None:
        raise Conflict("该单位已有同期的巡察规划。", "This office already has a plan for those years.")
    wanted: dict[int, int | None] = {}
    for row in units:
        unit_id, year = row.get("unit_id") if isinstance(row, dict) else None, (row or {}).get("planned_year")
        if not isinstance(unit_id, int) or unit_id in wanted or (
                year is not None and (not isinstance(year, int) or not start_year <= year <= end_year)):
            raise InvalidInput("单位或计划年度有误（每个单位一次，年度在届期内）。",
                               "A unit or planned year is wrong (each unit once, years within the term).",
                               {"field": "units"})
        wanted[unit_id] = year
    found = {o.id: o for o in session.execute(select(Organisation).where(Organisation.id.in_(wanted))).scalars()}
    if len(found) != len(wanted) or any(o.kind not in UNIT_KINDS or o.parent_id != org.id for o in found.values()):
        raise InvalidInput("只能列入本级管辖的被巡察单位（县区的单位由县区规划）。",
                           "Only this city's or county's own units can be planned (a county plans its own).",
                           {"field": "units"})
    plan = TermPlan(name=name, org_id=org.id, start_year=start_year, end_year=end_year)
    session.add(plan)
    session.flush()
    session.add_all(TermPlanUnit(plan_id=plan.id, unit_id=u, planned_year=y) for u, y in wanted.items())
    session.flush()
    _record(session, ctx, actor, "plan_created", {"plan_id": plan.id, "org_id": org.id, "name": name,
                                                  "years": [start_year, end_year], "units": len(wanted)})
    return plan


def set_planned_year(session: Session, ctx: EngineContext, actor: Actor, plan_id: int, unit_id: int,
                     year: Any) -> TermPlanUnit:
    """Move a unit of the plan to another planned year (within the term), or unplan it (None)."""
    plan = get_plan(session, actor, plan_id, edit=True)
    row = session.execute(select(TermPlanUnit).where(TermPlanUnit.plan_id == plan.id,
                                                     TermPlanUnit.unit_id == unit_id)).scalar_one_or_none()
    if row is None:
        raise NotFound("该单位不在本届巡察规划内。", "That unit is not in this plan.")
    if year is not None and (isinstance(year, bool) or not isinstance(year, int)
                             or not plan.start_year <= year <= plan.end_year):
        raise InvalidInput(f"计划年度须在 {plan.start_year}—{plan.end_year} 内。",
                           f"The planned year must lie within {plan.start_year}–{plan.end_year}.",
                           {"field": "planned_year"})
    if row.planned_year != year:
        _record(session, ctx, actor, "plan_unit_updated", {"plan_id": plan.id, "unit_id": unit_id,
                                                           "planned_year": [row.planned_year, year]})
        row.planned_year = year
        session.flush()
    return row


# -- rounds ----------------------------------------------------------------------------------------------

def rounds_of(session: Session, actor: Actor, plan_id: int, year: int | None = None) -> list[Round]:
    get_plan(session, actor, plan_id)
    stmt = select(Round).where(Round.plan_id == plan_id)
    if year is not None:
        stmt = stmt.where(Round.year == year)
    return list(session.execute(stmt.order_by(Round.year.desc(), Round.number.desc())).scalars())


def _date(value: Any, name: str) -> date | None:
    if value is None or value == "":
        return None
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise InvalidInput(f"{name} 不是有效日期（YYYY-MM-DD）。", f"{name} is not a valid date (YYYY-MM-DD).",
                           {"field": name}) from None


def _clean_round(plan: TermPlan, values: dict[str, Any]) -> dict[str, Any]:
    """Check a round's fields; raise InvalidInput naming every wrong field at once."""
    problems: dict[str, dict[str, str]] = {}

    def bad(name: str, zh: str, en: str) -> None:
        problems[name] = {"message_zh": zh, "message_en": en}

    clean: dict[str, Any] = {}
    if "year" in values:
        try:
            clean["year"] = int(values["year"])
        except (TypeError, ValueError):
            bad("year", "年度必须是整数。", "The year must be a whole number.")
        else:
            if not plan.start_year <= clean["year"] <= plan.end_year:
                bad("year", f"年度须在规划期 {plan.start_year}—{plan.end_year} 内。",
                    f"The year must lie within the term {plan.start_year}–{plan.end_year}.")
    if "name" in values:
        clean["name"] = str(values["name"] or "").strip()
        if not clean["name"] or len(clean["name"]) > 200:
            bad("name", "请填写轮次名称（200 字以内）。", "Give the round a name (up to 200 characters).")
    if "kind" in values:
        clean["kind"] = values["kind"]
        if clean["kind"] not in KINDS:
            bad("kind", f"巡察类型须为：{'、'.join(KINDS)}。", f"The type must be one of {', '.join(KINDS)}.")
    if "method" in values:
        clean["method"] = values["method"] or None
        if clean["method"] is not None and clean["method"] not in METHODS:
            bad("method", f"组织方式须为：{'、'.join(METHODS)}。", f"The method must be one of {', '.join(METHODS)}.")
    for name in ("starts_on", "ends_on"):
        if name in values:
            try:
                clean[name] = _date(values[name], name)
            except InvalidInput:
                bad(name, "日期格式应为 YYYY-MM-DD。", "Dates are written YYYY-MM-DD.")
    if problems:
        raise InvalidInput("轮次信息有误，请检查标出的字段。", "Some of the round's fields are wrong.",
                           {"fields": problems})
    return clean


def _check_period(round_: Round) -> None:
    if round_.starts_on and round_.ends_on and round_.starts_on > round_.ends_on:
        raise InvalidInput("结束日期不能早于开始日期。", "The round cannot end before it starts.",
                           {"fields": {"ends_on": {"message_zh": "结束日期不能早于开始日期。",
                                                   "message_en": "Ends before it starts."}}})
    for day in (round_.starts_on, round_.ends_on):
        if day is not None and day.year != round_.year:
            raise InvalidInput(f"轮次日期须在 {round_.year} 年内。", f"The round's dates must lie in {round_.year}.",
                               {"fields": {"starts_on": {"message_zh": "日期不在轮次年度内。",
                                                         "message_en": "Date outside the round's year."}}})


def create_round(session: Session, ctx: EngineContext, actor: Actor, plan_id: int, values: dict[str, Any]) -> Round:
    """A new round of the plan, at stage 准备. ``number`` defaults to the year's next one."""
    plan = get_plan(session, actor, plan_id, edit=True)
    if "year" not in values or values.get("year") in (None, ""):
        raise InvalidInput("请填写年度。", "The year is required.", {"fields": {"year": {
            "message_zh": "请填写年度。", "message_en": "Required."}}})
    clean = _clean_round(plan, {"kind": RoundKind.REGULAR, **values})
    year = clean["year"]
    taken = set(session.execute(select(Round.number).where(Round.plan_id == plan.id, Round.year == year)).scalars())
    number = values.get("number")
    if number in (None, ""):
        number = max(taken, default=0) + 1
    try:
        number = int(number)
    except (TypeError, ValueError):
        raise InvalidInput("轮次序号必须是整数。", "The round number must be a whole number.") from None
    if number in taken:
        raise Conflict(f"{year} 年已有第 {number} 轮。", f"{year} already has a round number {number}.")
    clean.setdefault("name", f"{year}年第{number}轮{clean['kind']}巡察")
    if not clean["name"]:
        clean["name"] = f"{year}年第{number}轮{clean['kind']}巡察"
    round_ = Round(plan_id=plan.id, org_id=plan.org_id, number=number, stage=STAGES[0], **clean)
    _check_period(round_)
    session.add(round_)
    session.flush()
    _record(session, ctx, actor, "round_created", {"round_id": round_.id, "plan_id": plan.id, **_round_fields(round_)})
    return round_


def _round_fields(round_: Round) -> dict[str, Any]:
    return {"year": round_.year, "number": round_.number, "name": round_.name, "kind": round_.kind,
            "method": round_.method, "starts_on": _iso(round_.starts_on), "ends_on": _iso(round_.ends_on),
            "stage": round_.stage}


def _iso(day: date | None) -> str | None:
    return day.isoformat() if day else None


def update_round(session: Session, ctx: EngineContext, actor: Actor, round_id: int, values: dict[str, Any]) -> Round:
    """Change a round's name, type, method or dates, and/or move its stage forward (never back)."""
    round_ = get_round(session, actor, round_id, edit=True)
    plan = session.get(TermPlan, round_.plan_id)
    assert plan is not None
    unknown = set(values) - {*EDITABLE_ROUND_FIELDS, "stage"}
    if unknown:
        raise InvalidInput(f"不能修改的字段：{'、'.join(sorted(unknown))}", f"Fields that cannot be changed: "
                           f"{', '.join(sorted(unknown))}", {"fields": sorted(unknown)})
    before = _round_fields(round_)
    clean = _clean_round(plan, {k: v for k, v in values.items() if k != "stage"})
    if "stage" in values:
        stage = values["stage"]
        if stage not in STAGES:
            raise InvalidInput(f"阶段须为：{' → '.join(STAGES)}。", f"The stage must be one of {', '.join(STAGES)}.",
                               {"field": "stage"})
        if STAGES.index(stage) < STAGES.index(round_.stage):
            raise Conflict(f"轮次阶段只能向前推进（当前为{round_.stage}）。",
                           f"A round's stage only moves forward (it is at {round_.stage}).")
        clean["stage"] = stage
    for name, value in clean.items():
        setattr(round_, name, value)
    _check_period(round_)
    if "starts_on" in clean or "ends_on" in clean:
        for inspection in inspections_of(session, round_):
            _check_unit_free(session, round_, inspection.unit_id, exclude=inspection.id)
    after = _round_fields(round_)
    changes = {k: [before[k], after[k]] for k in after if before[k] != after[k]}
    if changes:
        session.flush()
        _record(session, ctx, actor, "round_updated", {"round_id": round_.id, "changes": changes})
    return round_


# -- inspections within a round --------------------------------------------------------------------------

def inspections_of(session: Session, round_: Round) -> list[Inspection]:
    return list(session.execute(select(Inspection).where(Inspection.round_id == round_.id)
                                .order_by(Inspection.id)).scalars())


def _period(round_: Round) -> tuple[date, date]:
    """A round's period; without dates, its whole year (so that undated rounds of one year clash)."""
    return (round_.starts_on or date(round_.year, 1, 1), round_.ends_on or date(round_.year, 12, 31))


def _check_unit_free(session: Session, round_: Round, unit_id: int, exclude: int | None = None) -> None:
    """A unit is inspected by one round at a time: no other round whose period overlaps this one's."""
    start, end = _period(round_)
    others = session.execute(select(Inspection, Round).join(Round, Round.id == Inspection.round_id).where(
        Inspection.unit_id == unit_id, Round.id != round_.id, Inspection.id != (exclude or 0))).all()
    for _inspection, other in others:
        other_start, other_end = _period(other)
        if other_start <= end and start <= other_end:
            raise Conflict(f"该单位已在同期的“{other.name}”中接受巡察。",
                           f"The unit is already being inspected in '{other.name}' at the same time.",
                           {"round_id": other.id})


def _unit_in_plan(session: Session, plan: TermPlan, unit_id: int) -> Organisation:
    row = session.execute(select(TermPlanUnit).where(TermPlanUnit.plan_id == plan.id,
                                                     TermPlanUnit.unit_id == unit_id)).scalar_one_or_none()
    unit = session.get(Organisation, unit_id) if row is not None else None
    if unit is None:
        raise InvalidInput("该单位不在本届巡察规划内。", "That unit is not in this term's plan.", {"field": "unit_id"})
    return unit


def _team_of(session: Session, plan: TermPlan, team_id: Any) -> Organisation:
    team = session.get(Organisation, team_id) if isinstance(team_id, int) else None
    org = plan_org(session, plan)
    if team is None or team.kind != OrgKind.INSPECTION_TEAM or team.parent_id != org.id:
        raise InvalidInput("请选择本级的巡察组。", "Choose an inspection group of this office.", {"field": "team_id"})
    return team


def teams_for(session: Session, plan: TermPlan) -> list[Organisation]:
    org = plan_org(session, plan)
    return list(session.execute(select(Organisation).where(
        Organisation.kind == OrgKind.INSPECTION_TEAM, Organisation.parent_id == org.id)
        .order_by(Organisation.code)).scalars())


def add_inspection(session: Session, ctx: EngineContext, actor: Actor, round_id: int, *, unit_id: int,
                   team_id: int, contacts: dict[str, Any] | None = None,
                   revisit_of_id: int | None = None) -> Inspection:
    """Send a 巡察组 to a unit in this round (one group may cover several units: 一托N)."""
    round_ = get_round(session, actor, round_id, edit=True)
    plan = session.get(TermPlan, round_.plan_id)
    assert plan is not None
    unit = _unit_in_plan(session, plan, unit_id)
    team = _team_of(session, plan, team_id)
    if session.execute(select(Inspection.id).where(Inspection.round_id == round_.id,
                                                   Inspection.unit_id == unit.id)).first() is not None:
        raise Conflict("该单位已在本轮巡察中。", "The unit is already in this round.")
    _check_unit_free(session, round_, unit.id)
    inspection = Inspection(round_id=round_.id, unit_id=unit.id, team_id=team.id, announced=False,
                            revisit_of_id=revisit_of_id, **_contacts(contacts or {}))
    session.add(inspection)
    session.flush()
    _record(session, ctx, actor, "inspection_added", {
        "inspection_id": inspection.id, "round_id": round_.id, "unit": unit.name, "team": team.name,
        "revisit_of_id": revisit_of_id, **_contacts(contacts or {})})
    return inspection


def _contacts(values: dict[str, Any]) -> dict[str, str | None]:
    limits = {"contact_phone": 64, "contact_mailbox": 200, "contact_address": 300}
    clean: dict[str, str | None] = {}
    for name in CONTACT_FIELDS:
        if name in values:
            text = str(values[name] or "").strip() or None
            if text is not None and len(text) > limits[name]:
                raise InvalidInput(f"{name} 过长（最多 {limits[name]} 字）。",
                                   f"{name} is too long (at most {limits[name]}).", {"field": name})
            clean[name] = text
    return clean


def update_inspection(session: Session, ctx: EngineContext, actor: Actor, inspection_id: int,
                      values: dict[str, Any]) -> Inspection:
    """Change the group sent or the contact channels the announcement will show."""
    inspection = get_inspection(session, actor, inspection_id, edit=True)
    unknown = set(values) - {"team_id", *CONTACT_FIELDS}
    if unknown:
        raise InvalidInput(f"不能修改的字段：{'、'.join(sorted(unknown))}",
                           f"Fields that cannot be changed: {', '.join(sorted(unknown))}")
    changes: dict[str, list[Any]] = {}
    if "team_id" in values:
        plan = session.get(TermPlan, inspection.round.plan_id)
        assert plan is not None
        team = _team_of(session, plan, values["team_id"])
        if team.id != inspection.team_id:
            changes["team_id"] = [inspection.team_id, team.id]
            inspection.team_id = team.id
    for name, value in _contacts(values).items():
        if getattr(inspection, name) != value:
            changes[name] = [getattr(inspection, name), value]
            setattr(inspection, name, value)
    if changes:
        session.flush()
        _record(session, ctx, actor, "inspection_updated", {"inspection_id": inspection.id, "changes": changes})
    return inspection


def plan_units(session: Session, plan: TermPlan) -> list[Organisation]:
    return list(session.execute(select(Organisation).join(TermPlanUnit, TermPlanUnit.unit_id == Organisation.id)
                                .where(TermPlanUnit.plan_id == plan.id).order_by(Organisation.code)).scalars())
