"""Figures the office and the leading group read: rectification rates, overdue items, clue
disposition, coverage — by unit and by county, within the actor's oversight scope.

One source for the dashboard, the API and the generated reports (督查通报, 向领导小组报告), so that
the numbers on a chart and in a PDF never disagree. Only counts and rectification items leave this
module: no clue is listed here, only tallied (a clue's content is read through engine/ledgers.py,
where every read is audited).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime

from sqlalchemy import ColumnElement, and_, case, func, select
from sqlalchemy.orm import Session

from models import (
    Clue,
    ClueStatus,
    ItemStatus,
    Organisation,
    OrgKind,
    ProcessInstance,
    RectificationItem,
    TermPlan,
)

from . import coverage
from .actors import Actor
from .calendar import LOCAL_TZ, working_days_between
from .errors import NotPermitted
from .permissions import cases_owned_within, orgs_within, scopes

CITY_LEVEL = "市直单位"
CLUE_STAGES = {
    ClueStatus.HANDING_OVER: "移交中", ClueStatus.RETURNED: "被退回", ClueStatus.ACKNOWLEDGED: "已签收",
    ClueStatus.IN_PROGRESS: "处置中", ClueStatus.RESULT_REPORTED: "结果已反馈", ClueStatus.CLOSED: "已办结",
    ClueStatus.WITHDRAWN: "已撤销",
}
FOUR_FORMS = ("第一种形态", "第二种形态", "第三种形态", "第四种形态", "未发现问题予以了结")
NOT_YET = "尚未反馈"


def oversight_paths(actor: Actor) -> list[str]:
    """The organisation subtrees the actor oversees (office or leading group); refused otherwise."""
    paths = scopes(actor, "dashboard", "read")
    if not paths:
        raise NotPermitted("只有巡察办和领导小组可以查看统计。",
                           "Only the inspection office and the leading group can read the figures.")
    return [p for p in paths if not any(p != q and p.startswith(q) for q in paths)]


def _in_scope(paths: list[str], under: str | None = None) -> ColumnElement[bool]:
    """Cases owned by an office inside the actor's scope (and, optionally, inside ``under``)."""
    condition = cases_owned_within(paths)
    if under:
        condition = and_(condition, ProcessInstance.unit_path.startswith(under, autoescape=True))
    return condition


@dataclass
class UnitFigures:
    unit_id: int
    unit_name: str
    county: str
    total: int = 0
    struck_off: int = 0
    overdue: int = 0

    @property
    def rate(self) -> float:
        return self.struck_off / self.total if self.total else 0.0


@dataclass
class OverdueItem:
    item_id: int
    unit_name: str
    county: str
    number: str
    problem: str
    due_at: datetime
    working_days_overdue: int
    responsible_leader: str | None


@dataclass
class ClueFigures:
    total: int = 0
    by_stage: dict[str, int] = field(default_factory=dict)
    by_receiving_body: dict[str, int] = field(default_factory=dict)
    by_four_forms: dict[str, int] = field(default_factory=dict)
    by_disposition: dict[str, int] = field(default_factory=dict)
    overdue: int = 0


@dataclass
class CoverageYear:
    year: int
    planned: int
    inspected: int


@dataclass
class Figures:
    """Everything the dashboard and the reports show, computed once per request."""

    as_of: datetime
    units: list[UnitFigures]
    overdue_items: list[OverdueItem]
    clues: ClueFigures
    completion: list[tuple[str, int, int]]  # (YYYY-MM, items by then, struck off by then)
    coverage: list[CoverageYear]
    units_in_plan: int

    @property
    def items_total(self) -> int:
        return sum(u.total for u in self.units)

    @property
    def items_struck_off(self) -> int:
        return sum(u.struck_off for u in self.units)

    @property
    def rate(self) -> float:
        return self.items_struck_off / self.items_total if self.items_total else 0.0

    def by_county(self) -> list[tuple[str, int, int, int]]:
        """(county, items, struck off, overdue) with 市直单位 first."""
        totals: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
        for unit in self.units:
            row = totals[unit.county]
            row[0] += unit.total
            row[1] += unit.struck_off
            row[2] += unit.overdue
        rows = [(county, items, done, late) for county, (items, done, late) in totals.items()]
        return sorted(rows, key=lambda r: (r[0] != CITY_LEVEL, r[0]))


def _counties(session: Session, unit_ids: Iterable[int]) -> dict[int, tuple[str, str]]:
    """unit id → (unit name, county name or 市直单位), from the organisation tree's paths."""
    units = {o.id: o for o in session.execute(select(Organisation).where(Organisation.id.in_(set(unit_ids)))).scalars()}
    ancestor_ids = {int(p) for o in units.values() for p in o.path.strip("/").split("/") if p}
    counties = {o.id: o.name for o in session.execute(
        select(Organisation).where(Organisation.id.in_(ancestor_ids), Organisation.kind == OrgKind.COUNTY)).scalars()}
    result = {}
    for unit_id, unit in units.items():
        county = next((counties[int(p)] for p in unit.path.strip("/").split("/") if p and int(p) in counties),
                      CITY_LEVEL)
        result[unit_id] = (unit.name, county)
    return result


def _rectification(session: Session, paths: list[str], now: datetime, under: str | None
                   ) -> tuple[list[UnitFigures], list[OverdueItem], list[tuple[str, int, int]]]:
    open_overdue = and_(RectificationItem.status != ItemStatus.STRUCK_OFF, RectificationItem.due_at < now)
    rows = session.execute(
        select(RectificationItem.unit_id, func.count(),
               func.sum(case((RectificationItem.status == ItemStatus.STRUCK_OFF, 1), else_=0)),
               func.sum(case((open_overdue, 1), else_=0)))
        .join(ProcessInstance, ProcessInstance.id == RectificationItem.instance_id)
        .where(_in_scope(paths, under)).group_by(RectificationItem.unit_id)).all()
    names = _counties(session, [r[0] for r in rows])
    units = [UnitFigures(unit_id, *names[unit_id], int(total), int(done or 0), int(late or 0))
             for unit_id, total, done, late in rows]
    units.sort(key=lambda u: (-u.overdue, u.rate, u.unit_name))

    items = session.execute(
        select(RectificationItem).join(ProcessInstance, ProcessInstance.id == RectificationItem.instance_id)
        .where(_in_scope(paths, under), open_overdue).order_by(RectificationItem.due_at)).scalars().all()
    today = now.astimezone(LOCAL_TZ).date()
    overdue = [OverdueItem(item.id, *names.get(item.unit_id, ("", CITY_LEVEL)), item.number, item.problem,
                           item.due_at, working_days_between(item.due_at.astimezone(LOCAL_TZ).date(), today),
                           item.responsible_leader)
               for item in items if item.due_at is not None]

    created = session.execute(
        select(RectificationItem.created_at, RectificationItem.struck_off_at)
        .join(ProcessInstance, ProcessInstance.id == RectificationItem.instance_id)
        .where(_in_scope(paths, under))).all()
    return units, overdue, _monthly([(c, s) for c, s in created], today)


def _monthly(rows: list[tuple[datetime, datetime | None]], today: date, months: int = 12) -> list[tuple[str, int, int]]:
    """Cumulative items and struck-off items at the end of each of the last ``months`` months."""
    def month(moment: datetime) -> str:
        return moment.astimezone(LOCAL_TZ).strftime("%Y-%m")

    labels: list[str] = []
    year, mon = today.year, today.month
    for _ in range(months):
        labels.append(f"{year:04d}-{mon:02d}")
        year, mon = (year, mon - 1) if mon > 1 else (year - 1, 12)
    labels.reverse()
    last = labels[-1]  # rows stamped after today (clock skew) count as this month's
    created = Counter(min(month(c), last) for c, _s in rows)
    struck = Counter(min(month(s), last) for _c, s in rows if s is not None)
    before = labels[0]
    total = sum(n for m, n in created.items() if m < before)
    done = sum(n for m, n in struck.items() if m < before)
    series = []
    for label in labels:
        total += created.get(label, 0)
        done += struck.get(label, 0)
        series.append((label, total, done))
    return series


def _clues(session: Session, paths: list[str], now: datetime, under: str | None) -> ClueFigures:
    rows = session.execute(
        select(Clue.status, Organisation.name, Clue.four_forms, Clue.disposition_method, Clue.due_at, Clue.closed_at)
        .join(ProcessInstance, ProcessInstance.id == Clue.instance_id)
        .join(Organisation, Organisation.id == Clue.receiving_org_id)
        .where(_in_scope(paths, under))).all()
    figures = ClueFigures(total=len(rows))
    stages: Counter[str] = Counter()
    bodies: Counter[str] = Counter()
    forms: Counter[str] = Counter()
    methods: Counter[str] = Counter()
    for status, body, four_forms, method, due_at, closed_at in rows:
        stages[CLUE_STAGES.get(status, status)] += 1
        bodies[body] += 1
        forms[four_forms or NOT_YET] += 1
        methods[method or NOT_YET] += 1
        if closed_at is None and due_at is not None and due_at < now and status != ClueStatus.WITHDRAWN:
            figures.overdue += 1
    figures.by_stage = {label: stages[label] for label in CLUE_STAGES.values() if stages[label]}
    figures.by_receiving_body = dict(bodies.most_common())
    figures.by_four_forms = {f: forms[f] for f in (*FOUR_FORMS, NOT_YET) if forms[f]}
    figures.by_disposition = dict(methods.most_common())
    return figures


def _coverage(session: Session, paths: list[str], today: date, under: str | None) -> tuple[list[CoverageYear], int]:
    """Per year of the current term plans in scope: units planned for that year and units first inspected
    that year, by engine.coverage's rule (the one the planning pages use)."""
    plan_scope = orgs_within(paths)
    plans = session.execute(select(TermPlan).join(Organisation, Organisation.id == TermPlan.org_id)
                            .where(plan_scope, TermPlan.start_year <= today.year,
                                   TermPlan.end_year >= today.year)).scalars().all()
    planned: Counter[int] = Counter()
    inspected: Counter[int] = Counter()
    units = 0
    for plan in plans:
        rows, _by_sector, by_year = coverage.matrix(session, plan, today)
        if under:
            rows = [r for r in rows if r.unit.path.startswith(under)]
            by_year = Counter(min(y for y, c in r.cells.items() if c == coverage.DONE)
                              for r in rows if r.covered)
        units += len(rows)
        planned.update(r.planned_year for r in rows if r.planned_year is not None)
        inspected.update(by_year)
    if not plans:
        return [], 0
    first, last = min(p.start_year for p in plans), max(p.end_year for p in plans)
    return [CoverageYear(y, planned[y], inspected[y]) for y in range(first, last + 1)], units


def figures(session: Session, actor: Actor, now: datetime, *, under: str | None = None) -> Figures:
    """All figures within the actor's oversight scope; ``under`` narrows to one county's subtree."""
    paths = oversight_paths(actor)
    units, overdue, completion = _rectification(session, paths, now, under)
    today = now.astimezone(LOCAL_TZ).date()
    coverage, units_in_plan = _coverage(session, paths, today, under)
    return Figures(now, units, overdue, _clues(session, paths, now, under), completion, coverage, units_in_plan)


def counties_in_scope(session: Session, actor: Actor) -> list[Organisation]:
    """Counties the actor may drill down into."""
    paths = oversight_paths(actor)
    return list(session.execute(
        select(Organisation).where(Organisation.kind == OrgKind.COUNTY,
                                   orgs_within(paths))
        .order_by(Organisation.name)).scalars())

