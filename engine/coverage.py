"""Coverage (全覆盖) of a term plan: the units × years matrix, counts by category, whether the pace so
far can still reach every unit in the term, and the counties' figures for the city (市县联动).

Who may read follows the plan (engine.planning.get_plan); the rule for "inspected" — a round of that
year has begun at the unit — is this module's alone: the planning pages, the dashboard and the reports
all count coverage here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from models import Inspection, ItemStatus, Organisation, OrgKind, RectificationItem, Round, TermPlan, TermPlanUnit

from .actors import Actor
from .calendar import LOCAL_TZ
from .context import EngineContext
from .planning import SECTORS, get_plan, may_read

DONE, SCHEDULED, PLANNED = "done", "scheduled", "planned"


@dataclass
class CoverageRow:
    unit: Organisation
    planned_year: int | None
    cells: dict[int, str]  # year → done / scheduled / planned

    @property
    def covered(self) -> bool:
        return DONE in self.cells.values()

    @property
    def status(self) -> str:
        values = self.cells.values()
        return DONE if DONE in values else SCHEDULED if SCHEDULED in values else PLANNED


@dataclass
class SectorCount:
    sector: str
    units: int = 0
    covered: int = 0


@dataclass
class Pace:
    """Can the plan still reach full coverage at the pace so far? Every figure the warning states."""

    remaining_units: int
    remaining_years: int
    average_per_year: float
    capacity: int
    behind: bool


@dataclass
class Coverage:
    plan: TermPlan
    years: list[int]
    rows: list[CoverageRow]  # the page asked for
    total: int  # rows matching the filters
    page: int
    per_page: int
    units: int
    covered: int
    by_sector: list[SectorCount]
    by_year: dict[int, int]  # units inspected per year (done)
    pace: Pace
    sectors: list[str] = field(default_factory=list)

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))

    @property
    def percent(self) -> int:
        return round(100 * self.covered / self.units) if self.units else 100


def pace_of(start_year: int, end_year: int, this_year: int, remaining_units: int, by_year: dict[int, int]) -> Pace:
    """Remaining units against remaining years × the average inspected per year so far.

    The average is over the years already finished (the current one, still running, would drag it
    down); in the term's first year it is this year's count. The current year counts as remaining,
    less what it has already done."""
    finished = [y for y in range(start_year, min(this_year, end_year + 1))]
    if finished:
        average = sum(by_year.get(y, 0) for y in finished) / len(finished)
    else:
        average = float(by_year.get(this_year, 0))
    remaining_years = max(0, end_year - max(this_year, start_year) + 1)
    capacity = max(0, round(average * remaining_years) - (by_year.get(this_year, 0) if remaining_years else 0))
    return Pace(remaining_units, remaining_years, round(average, 1), capacity, remaining_units > capacity)


def plan_coverage(session: Session, ctx: EngineContext, actor: Actor, plan_id: int, *, sector: str | None = None,
             status: str | None = None, q: str | None = None, page: int = 1, per_page: int = 25) -> Coverage:
    """The units × years matrix of a plan: 已巡察 (a round of that year has begun at the unit), 已安排 (a
    round not yet begun), 计划 (the planned year, nothing arranged yet); counts by category; the pace."""
    plan = get_plan(session, actor, plan_id)
    today = ctx.clock.now().astimezone(LOCAL_TZ).date()
    years = list(range(plan.start_year, plan.end_year + 1))
    rows, by_sector, by_year = matrix(session, plan, today)
    covered = sum(r.covered for r in rows)
    pace = pace_of(plan.start_year, plan.end_year, today.year, len(rows) - covered, by_year)
    shown = rows
    if sector:
        shown = [r for r in shown if (r.unit.sector or "其他") == sector]
    if status == "uncovered":
        shown = [r for r in shown if not r.covered]
    elif status in (DONE, SCHEDULED, PLANNED):
        shown = [r for r in shown if r.status == status]
    if q:
        shown = [r for r in shown if q in r.unit.name]
    return Coverage(plan, years, shown[(page - 1) * per_page:page * per_page], len(shown), page, per_page,
                    len(rows), covered, list(by_sector.values()), by_year, pace, sectors=list(by_sector))


def matrix(session: Session, plan: TermPlan, today: date
           ) -> tuple[list[CoverageRow], dict[str, SectorCount], dict[int, int]]:
    """Every unit of the plan with its cells, the counts per category, and the units first inspected per
    year. No permission check: callers have resolved the plan for the reader (plan_coverage, statistics)."""
    units = session.execute(select(TermPlanUnit, Organisation)
                            .join(Organisation, Organisation.id == TermPlanUnit.unit_id)
                            .where(TermPlanUnit.plan_id == plan.id)).all()
    visits = session.execute(select(Inspection.unit_id, Round).join(Round, Round.id == Inspection.round_id)
                             .where(Round.plan_id == plan.id)).all()
    cells: dict[int, dict[int, str]] = {}
    for unit_id, round_ in visits:
        begun = round_.year < today.year or (round_.starts_on or date(round_.year, 12, 31)) <= today
        marks = cells.setdefault(unit_id, {})
        if marks.get(round_.year) != DONE:
            marks[round_.year] = DONE if begun else SCHEDULED
    rows = []
    for plan_unit, unit in units:
        marks = dict(cells.get(unit.id, {}))
        if plan_unit.planned_year and plan_unit.planned_year not in marks:
            marks[plan_unit.planned_year] = PLANNED
        rows.append(CoverageRow(unit, plan_unit.planned_year, marks))
    order = {s: n for n, s in enumerate(SECTORS)}
    rows.sort(key=lambda r: (order.get(r.unit.sector or "", len(SECTORS)), r.unit.sector or "", r.unit.code))
    by_sector: dict[str, SectorCount] = {}
    by_year: dict[int, int] = {}
    for row in rows:
        count = by_sector.setdefault(row.unit.sector or "其他", SectorCount(row.unit.sector or "其他"))
        count.units += 1
        count.covered += row.covered
        first_done = min((y for y, c in row.cells.items() if c == DONE), default=None)
        if first_done is not None:
            by_year[first_done] = by_year.get(first_done, 0) + 1
    return rows, by_sector, by_year


# -- counties (市县联动) -----------------------------------------------------------------------------------

@dataclass
class CountyFigures:
    county: Organisation
    plan: TermPlan | None
    units: int
    covered: int
    rounds: int
    open_items: int
    overdue_items: int

    @property
    def percent(self) -> int:
        return round(100 * self.covered / self.units) if self.units else 0


def county_rollup(session: Session, ctx: EngineContext, actor: Actor) -> list[CountyFigures]:
    """Per county the actor oversees: its plan's units and coverage, rounds, open and overdue 整改 items."""
    now = ctx.clock.now()
    counties = [c for c in session.execute(select(Organisation).where(Organisation.kind == OrgKind.COUNTY)
                                           .order_by(Organisation.code)).scalars() if may_read(actor, c)]
    figures = []
    for county in counties:
        plan = session.execute(select(TermPlan).where(TermPlan.org_id == county.id)
                               .order_by(TermPlan.end_year.desc())).scalars().first()
        units = covered = rounds = 0
        if plan is not None:
            cov = plan_coverage(session, ctx, actor, plan.id, per_page=1)
            units, covered = cov.units, cov.covered
            rounds = session.execute(select(func.count(Round.id)).where(Round.plan_id == plan.id)).scalar_one()
        open_items = select(func.count(RectificationItem.id)).join(
            Organisation, Organisation.id == RectificationItem.unit_id).where(
            Organisation.path.startswith(county.path, autoescape=True),
            RectificationItem.status != ItemStatus.STRUCK_OFF)
        figures.append(CountyFigures(
            county, plan, units, covered, rounds, session.execute(open_items).scalar_one(),
            session.execute(open_items.where(RectificationItem.due_at < now)).scalar_one()))
    return figures
