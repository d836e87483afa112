"""Intake of an inspection's three outputs (三位一体): the reports, and the clues and feedback problems
entered from them in bulk.

The inspection group that visited the unit and the 巡察办 over the round record the three reports
(问题线索报告, 谈话情况报告, 巡察报告); ``revision`` guards each against two people overwriting each
other. From the table of clues each row becomes a clue handed over through ``cases.hand_over_clue``
(its own confidential case, with 回避); from the table of feedback problems each row becomes a
``Finding`` with its ledger item, and the whole table opens ONE rectification case for the unit
through ``cases.open_rectification``. Every row is checked first; if any row is bad, nothing is
created and every problem is reported with its row and column.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from models import Clue, Finding, Inspection, InspectionReport, Organisation, RectificationItem, ReportKind
from models.org import OrgKind

from . import audit, cases
from .actors import Actor
from .audit import EventDraft
from .context import EngineContext
from .errors import Conflict, InvalidInput, NotFound, NotPermitted, StaleState
from .ledgers import CATEGORIES, SOURCES, RowProblems
from .permissions import allows_over_any


@dataclass(frozen=True)
class Column:
    key: str
    zh: str
    en: str
    required: bool = False
    max_length: int = 200


CLUE_COLUMNS = (
    Column("number", "线索编号", "Number", True, 64),
    Column("person_name", "被反映人姓名", "Person concerned", True, 200),
    Column("person_post", "单位和职务", "Post", False, 300),
    Column("person_rank", "职级", "Rank", False, 200),
    Column("person_id_number", "身份证号", "ID number", False, 300),
    Column("summary", "反映的主要问题", "Summary", True, 4000),
    Column("category", "问题类别", "Category", False, 64),
    Column("cadre_authority", "干部管理权限", "Cadre authority", False, 32),
    Column("receiving_body", "移交对象", "Receiving body", True, 200),
)

FINDING_COLUMNS = (
    Column("number", "序号", "No.", False, 64),
    Column("source", "问题来源", "Source", False, 16),
    Column("category", "问题类别", "Category", False, 32),
    Column("description", "问题描述", "Problem", True, 4000),
    Column("target", "整改目标", "Target", False, 4000),
)

PERSON_SEPARATORS = ("；", ";")


# -- who may do what -------------------------------------------------------------------------------------

def _allows(actor: Actor, inspection: Inspection, action: str) -> bool:
    """The matrix's ("intake", action), over the round's office or the team that visited the unit."""
    return allows_over_any(actor, "intake", action, (inspection.round.org.path, inspection.team.path))


def get_inspection(session: Session, actor: Actor, inspection_id: int, *, write: bool = False) -> Inspection:
    """The inspection, if the actor may read its outputs (the office and leading group over the round,
    the inspection group that visited it); writing is for the office and the group. Anyone else —
    the inspected unit included — is told it does not exist."""
    inspection = session.get(Inspection, inspection_id)
    if inspection is None or not _allows(actor, inspection, "read"):
        raise NotFound("巡察不存在或无权查看。", "The inspection does not exist or is not visible to you.")
    if write and not _allows(actor, inspection, "record"):
        raise NotPermitted("只有巡察办和该巡察组可以录入巡察成果。",
                           "Only the inspection office and the inspection group may record its outputs.")
    return inspection


def may_record(actor: Actor, inspection: Inspection) -> bool:
    return _allows(actor, inspection, "record")


def inspections_for(session: Session, actor: Actor) -> list[Inspection]:
    """The inspections whose outputs the actor may read, newest round first."""
    rows = session.execute(select(Inspection).order_by(Inspection.round_id.desc(), Inspection.id)).scalars()
    return [i for i in rows if _allows(actor, i, "read")]


# -- the three reports -----------------------------------------------------------------------------------

def reports_of(session: Session, actor: Actor, inspection_id: int) -> dict[str, InspectionReport | None]:
    inspection = get_inspection(session, actor, inspection_id)
    found = {r.kind: r for r in session.execute(
        select(InspectionReport).where(InspectionReport.inspection_id == inspection.id)).scalars()}
    return {kind: found.get(kind) for kind in ReportKind.ALL}


def save_report(session: Session, actor: Actor, inspection_id: int, kind: str, *, title: str, body: str,
                signed_by: str | None, signed_on: str | None, revision: int | None, now: datetime) -> InspectionReport:
    """Record or revise one of the three reports. ``revision`` is the one the writer saw (None for a
    new report); another member's save in between makes it stale (409)."""
    inspection = get_inspection(session, actor, inspection_id, write=True)
    if kind not in ReportKind.ALL:
        raise InvalidInput(f"未知的报告类别：{kind}", f"Unknown report kind: {kind}", {"kind": kind,
                                                                                   "allowed": list(ReportKind.ALL)})
    title = (title or "").strip()
    if not title or len(title) > 300:
        raise InvalidInput("报告标题必填，且不超过 300 字。", "A report title (at most 300 characters) is required.",
                           {"field": "title"})
    signed_day = _parse_date(signed_on) if signed_on else None
    if signed_on and signed_day is None:
        raise InvalidInput(f"签发日期无效：{signed_on}", f"Invalid signing date: {signed_on}", {"field": "signed_on"})
    values = {"title": title, "body": body or "", "signed_by": (signed_by or "").strip()[:100] or None,
              "signed_on": signed_day}
    report = session.execute(select(InspectionReport).where(
        InspectionReport.inspection_id == inspection.id, InspectionReport.kind == kind)
        .with_for_update()).scalar_one_or_none()
    if report is None:
        if revision not in (None, 0):
            raise StaleState("报告已被删除或从未保存，请刷新。", "The report was never saved; reload the page.")
        report = InspectionReport(inspection_id=inspection.id, kind=kind, recorded_by_id=actor.user_id,
                                  recorded_at=now, **values)
        session.add(report)
        session.flush()
        changes = {field: [None, _plain(value)] for field, value in values.items()}
    else:
        if revision != report.revision:
            raise StaleState("该报告已被他人修改，请刷新后再编辑。",
                             "Someone else changed this report; reload it before editing.",
                             {"revision": report.revision})
        changes = {field: [_plain(getattr(report, field)), _plain(value)] for field, value in values.items()
                   if getattr(report, field) != value}
        if not changes:
            return report
        for field, value in values.items():
            setattr(report, field, value)
        report.recorded_by_id, report.recorded_at = actor.user_id, now
        session.flush()
    audit.record(session, audit.SYSTEM_STREAM, [EventDraft("inspection_report_saved", {
        "inspection_id": inspection.id, "report_id": report.id, "kind": kind, "changes": changes})],
        at=now, actor_id=actor.user_id, actor_name=actor.username)
    return report


# -- tables of rows --------------------------------------------------------------------------------------

def _plain(value: Any) -> Any:
    return value.isoformat() if isinstance(value, date) else value


def _parse_date(value: str) -> date | None:
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        return None


def _cells(rows: list[dict[str, Any]], columns: tuple[Column, ...], problems: RowProblems
           ) -> list[tuple[int, dict[str, str]]]:
    """Trimmed text cells of the non-blank rows, with their 1-based row numbers; missing and too long
    cells are reported."""
    kept = []
    for index, raw in enumerate(rows, start=1):
        if not isinstance(raw, dict):
            problems.add(index, "", "该行不是一组单元格。", "The row is not a set of cells.")
            continue
        cells = {c.key: str(raw.get(c.key) or "").strip() for c in columns}
        if not any(cells.values()):
            continue  # blank rows of the grid are not rows
        for column in columns:
            value = cells[column.key]
            if column.required and not value:
                problems.add(index, column.zh, f"“{column.zh}”必填。", f"'{column.en}' is required.")
            elif len(value) > column.max_length:
                problems.add(index, column.zh, f"“{column.zh}”不得超过 {column.max_length} 字。",
                             f"'{column.en}' may have at most {column.max_length} characters.")
        kept.append((index, cells))
    if not kept and not problems:
        raise InvalidInput("表格中没有任何内容。", "The table has no rows.")
    return kept


def _split(value: str) -> list[str]:
    for separator in PERSON_SEPARATORS[1:]:
        value = value.replace(separator, PERSON_SEPARATORS[0])
    return [part.strip() for part in value.split(PERSON_SEPARATORS[0])] if value else []


def _persons(index: int, cells: dict[str, str], problems: RowProblems) -> list[dict[str, str]]:
    """Several persons concerned are separated by ；in each person column, in the same order."""
    names = _split(cells["person_name"])
    columns = {"post": "person_post", "rank": "person_rank", "id_number": "person_id_number"}
    parts = {field: _split(cells[key]) for field, key in columns.items()}
    for field, values in parts.items():
        if values and len(values) != len(names):
            label = next(c.zh for c in CLUE_COLUMNS if c.key == columns[field])
            problems.add(index, label, f"“{label}”的个数（{len(values)}）与被反映人个数（{len(names)}）不一致，"
                                       "多人请用“；”分隔。",
                         f"'{label}' lists {len(values)} values for {len(names)} persons; separate persons with ';'.")
    persons = []
    for n, name in enumerate(names):
        person = {"name": name}
        for field, values in parts.items():
            if n < len(values) and values[n]:
                person[field] = values[n]
        persons.append(person)
    return persons


def _receiving_bodies(session: Session) -> dict[str, Organisation]:
    bodies = session.execute(select(Organisation).where(Organisation.kind == OrgKind.RECEIVING_BODY)).scalars()
    found: dict[str, Organisation] = {}
    for org in bodies:
        found[org.code] = org
        found[org.name] = org
    return found


def receiving_body_names(session: Session) -> list[str]:
    return list(session.execute(select(Organisation.name).where(Organisation.kind == OrgKind.RECEIVING_BODY)
                                .order_by(Organisation.id)).scalars())


def _report_id(session: Session, inspection: Inspection, kind: str) -> int | None:
    return session.execute(select(InspectionReport.id).where(InspectionReport.inspection_id == inspection.id,
                                                             InspectionReport.kind == kind)).scalar_one_or_none()


def record_clues(session: Session, ctx: EngineContext, actor: Actor, inspection_id: int,
                 rows: list[dict[str, Any]]) -> list[Clue]:
    """Hand over every clue of the table, each starting its own disposition case; all or nothing."""
    inspection = get_inspection(session, actor, inspection_id, write=True)
    problems = RowProblems()
    kept = _cells(rows, CLUE_COLUMNS, problems)
    bodies = _receiving_bodies(session)
    numbers = [cells["number"] for _, cells in kept if cells["number"]]
    taken = set(session.execute(select(Clue.number).where(Clue.number.in_(numbers))).scalars()) if numbers else set()
    seen: set[str] = set()
    planned = []
    for index, cells in kept:
        number = cells["number"]
        if number in taken:
            problems.add(index, "线索编号", f"线索编号 {number} 已存在。", f"Clue number {number} already exists.")
        elif number and number in seen:
            problems.add(index, "线索编号", f"线索编号 {number} 在表中重复。", f"Clue number {number} is repeated.")
        seen.add(number)
        body = bodies.get(cells["receiving_body"])
        if cells["receiving_body"] and body is None:
            problems.add(index, "移交对象", f"未知的移交对象：{cells['receiving_body']}（应为 "
                                            f"{'、'.join(receiving_body_names(session))} 之一）。",
                         f"Unknown receiving body: {cells['receiving_body']}.")
        persons = _persons(index, cells, problems) if cells["person_name"] else []
        planned.append((cells, body, persons))
    problems.raise_if_any()
    report_id = _report_id(session, inspection, ReportKind.CLUES)
    created = []
    for cells, body, persons in planned:
        assert body is not None
        clue = cases.hand_over_clue(session, ctx, actor, inspection=inspection, receiving_org=body,
                                    number=cells["number"], summary=cells["summary"], persons=persons,
                                    category=cells["category"] or None)
        clue.cadre_authority = cells["cadre_authority"] or None
        clue.report_id = report_id
        created.append(clue)
    session.flush()
    audit.record(session, audit.SYSTEM_STREAM, [EventDraft("clues_recorded", {
        "inspection_id": inspection.id, "clue_ids": [c.id for c in created],
        "instance_ids": [c.instance_id for c in created]})],
        at=ctx.clock.now(), actor_id=actor.user_id, actor_name=actor.username)
    return created


def rectification_of(session: Session, inspection: Inspection) -> int | None:
    """The rectification case already opened for this inspection's feedback, if any."""
    return session.execute(select(RectificationItem.instance_id)
                           .join(Finding, Finding.id == RectificationItem.finding_id)
                           .where(Finding.inspection_id == inspection.id, RectificationItem.instance_id.is_not(None))
                           .limit(1)).scalar_one_or_none()


def record_findings(session: Session, ctx: EngineContext, actor: Actor, inspection_id: int,
                    rows: list[dict[str, Any]]) -> int:
    """Put every feedback problem of the table on the unit's ledger and open its rectification case
    (one per inspection); returns the case's instance id. All or nothing."""
    inspection = get_inspection(session, actor, inspection_id, write=True)
    existing = rectification_of(session, inspection)
    if existing is not None:
        # The rectification diagram fans out over its items when the plan is approved; adding
        # items to a running case would change a process state people have already acted on.
        raise Conflict("该次巡察的整改已经启动，反馈问题须一次录入；请在整改方案中处理新增问题。",
                       "The rectification of this inspection has already started; feedback problems are entered "
                       "once. Add further problems through its rectification plan.", {"instance_id": existing})
    problems = RowProblems()
    kept = _cells(rows, FINDING_COLUMNS, problems)
    count = session.execute(select(func.count()).select_from(Finding)
                            .where(Finding.inspection_id == inspection.id)).scalar_one()
    taken = set(session.execute(select(RectificationItem.number).where(
        RectificationItem.unit_id == inspection.unit_id)).scalars())
    seen: set[str] = set()
    planned = []
    for n, (index, cells) in enumerate(kept, start=count + 1):
        number = cells["number"] or f"{inspection.unit.code}-{n:02d}"
        if number in taken or number in seen:
            problems.add(index, "序号", f"序号 {number} 在该单位台账中已存在。",
                         f"No. {number} is already on this unit's ledger.")
        seen.add(number)
        source = cells["source"] or SOURCES[0]
        if source not in SOURCES:
            problems.add(index, "问题来源", f"问题来源应为 {'、'.join(SOURCES)} 之一。",
                         f"The source must be one of {', '.join(SOURCES)}.")
        category = cells["category"] or CATEGORIES[-1]
        if category not in CATEGORIES:
            problems.add(index, "问题类别", f"问题类别应为 {'、'.join(CATEGORIES)} 之一。",
                         f"The category must be one of {', '.join(CATEGORIES)}.")
        planned.append((number, source, category, cells))
    problems.raise_if_any()
    report_id = _report_id(session, inspection, ReportKind.INSPECTION)
    findings = [Finding(inspection_id=inspection.id, number=number, source=source, category=category,
                        description=cells["description"], report_id=report_id, created_at=ctx.clock.now())
                for number, source, category, cells in planned]
    session.add_all(findings)
    session.flush()
    instance = cases.open_rectification(session, ctx, actor, inspection=inspection, findings=findings)
    targets = {number: cells["target"] for number, _s, _c, cells in planned if cells["target"]}
    if targets:
        for item in session.execute(select(RectificationItem).where(
                RectificationItem.instance_id == instance.id,
                or_(*[RectificationItem.number == number for number in targets]))).scalars():
            item.target = targets[item.number]
    session.flush()
    return instance.id
