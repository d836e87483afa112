"""Reading the case ledgers (问题线索台账, 整改台账, case lists) as the actor may see them.

``permissions.can_see_instance`` is the rule. The SQL here narrows the candidates by the roles the
actor holds over each instance's bindings, so a listing never loads other offices' cases; each
candidate then passes ``can_see_instance`` (回避 lives in a JSON list that SQL cannot portably
search), and paging happens after that, so totals and pages are exact.

Reading a clue is itself an event: ``record_clue_reads`` appends ``clue_viewed`` to its case stream.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, func, or_, select
from sqlalchemy.orm import Session, lazyload, load_only

from models import (
    Attachment,
    Clue,
    ClueStatus,
    Finding,
    Inspection,
    ItemStatus,
    Organisation,
    ProcessInstance,
    RectificationItem,
    User,
)

from . import audit
from .actors import Actor
from .calendar import LOCAL_TZ
from .errors import Conflict, InvalidInput, NotFound, NotPermitted, RowsInvalid
from .paging import Page
from .permissions import allows_on_case, allows_over_any, can_see_instance, case_prefilter
from .taskaccess import lock_instance

Row = TypeVar("Row", Clue, RectificationItem, ProcessInstance)
T = TypeVar("T")
INSTANCE_KEYS: dict[type, Any] = {Clue: Clue.instance_id, RectificationItem: RectificationItem.instance_id}


def _role_condition(actor: Actor, case_kind: str) -> ColumnElement[bool]:
    return case_prefilter(actor, case_kind)  # the permission matrix's SQL side (engine/permissions.py)


def visible_page(session: Session, actor: Actor, entity: type[Row], case_kind: str,
                 where: Sequence[ColumnElement[bool]], order: Sequence[Any], page: int, per_page: int) -> Page[Row]:
    """One page of ``entity`` rows belonging to visible ``case_kind`` cases, with the exact total."""
    stmt = select(entity.id, ProcessInstance)
    if entity is not ProcessInstance:
        stmt = stmt.join(ProcessInstance, INSTANCE_KEYS[entity] == ProcessInstance.id)
    candidates = session.execute(
        stmt.where(ProcessInstance.case_kind == case_kind, _role_condition(actor, case_kind), *where)
        .order_by(*order)
        .options(load_only(ProcessInstance.bindings, ProcessInstance.recused_user_ids, ProcessInstance.case_kind,
                           ProcessInstance.started_by_id), lazyload(ProcessInstance.definition)))
    ids = [row_id for row_id, instance in candidates if can_see_instance(actor, instance)]
    page_ids = ids[(page - 1) * per_page:page * per_page]
    rows = {row.id: row for row in session.execute(select(entity).where(entity.id.in_(page_ids))).scalars()}
    return Page([rows[i] for i in page_ids], len(ids), page, per_page)


def visible_row(session: Session, actor: Actor, entity: type[Row], row_id: int) -> Row:
    """The row if its case is visible to the actor; otherwise NotFound, whether or not it exists."""
    row = session.get(entity, row_id)
    instance_id = getattr(row, "instance_id", None) if entity is not ProcessInstance else row_id
    instance = session.get(ProcessInstance, instance_id) if row is not None and instance_id else None
    if row is None or instance is None or not can_see_instance(actor, instance):
        raise NotFound("记录不存在或无权查看。", "The record does not exist or is not visible to you.")
    return row


def record_clue_reads(session: Session, actor: Actor, clues: Sequence[Clue], via: str, at: datetime) -> None:
    """Append a ``clue_viewed`` event to each clue's case stream (in the caller's transaction)."""
    for clue in sorted(clues, key=lambda c: c.instance_id or 0):  # one lock order: no deadlocks between readers
        if clue.instance_id is not None:
            instance = lock_instance(session, clue.instance_id)
            audit.record_case(session, instance, [audit.EventDraft("clue_viewed", {"clue_id": clue.id, "via": via},
                                                                   instance.id)],
                              at=at, actor_id=actor.user_id, actor_name=actor.username)


# -- the 整改台账 and 问题线索台账 as people read them (DOMAIN.md "Ledgers") ---------------------------------

SOURCES = ("反馈问题", "立行立改", "移交事项")
CATEGORIES = ("党的领导", "党的建设", "全面从严治党", "选人用人", "其他")
RECTIFICATION_TYPES = ("立行立改", "限期整改", "长期整改")
COMPLETIONS = ("已完成", "基本完成", "未完成")


class RowProblems:
    """Row-level problems of a table (a grid, pasted rows, a sheet), gathered before anything is written."""

    def __init__(self) -> None:
        self.rows: list[dict[str, Any]] = []

    def __bool__(self) -> bool:
        return bool(self.rows)

    def add(self, row: int, column: str, message_zh: str, message_en: str) -> None:
        self.rows.append({"row": row, "column": column, "message_zh": message_zh, "message_en": message_en})

    def raise_if_any(self) -> None:
        if self.rows:
            first = self.rows[0]
            raise RowsInvalid(
                f"有 {len(self.rows)} 处错误，未保存任何内容。"
                f"第 {first['row']} 行“{first['column']}”：{first['message_zh']}",
                f"{len(self.rows)} problem(s); nothing was saved. Row {first['row']}, '{first['column']}': "
                f"{first['message_en']}", {"rows": self.rows})


@dataclass(frozen=True)
class LedgerField:
    key: str
    zh: str
    en: str
    width: int = 14  # column width in the exported sheet (characters)
    unit_edits: bool = False  # the unit's working columns
    oversight_edits: bool = False  # the office's and the group's columns
    choices: tuple[str, ...] = ()


LEDGER_FIELDS = (
    LedgerField("number", "序号", "No.", 8),
    LedgerField("source", "问题来源", "Source", 10, choices=SOURCES),
    LedgerField("category", "问题类别", "Category", 12, choices=CATEGORIES),
    LedgerField("problem", "问题描述", "Problem", 36),
    LedgerField("target", "整改目标", "Target", 24, unit_edits=True),
    LedgerField("measures", "整改措施", "Measures", 36, unit_edits=True),
    LedgerField("responsible_leader", "责任领导", "Responsible leader", 10, unit_edits=True),
    LedgerField("responsible_department", "牵头部门", "Lead department", 12, unit_edits=True),
    LedgerField("cooperating_departments", "配合部门", "Cooperating departments", 12, unit_edits=True),
    LedgerField("responsible_person", "责任人", "Responsible person", 10, unit_edits=True),
    LedgerField("due_date", "完成时限", "Due", 12),
    LedgerField("rectification_type", "整改类型", "Type", 10, unit_edits=True, choices=RECTIFICATION_TYPES),
    LedgerField("progress", "整改进展", "Progress", 30, unit_edits=True),
    LedgerField("evidence", "佐证材料", "Evidence", 14),
    LedgerField("completion", "完成情况", "Completion", 10, unit_edits=True, choices=COMPLETIONS),
    LedgerField("rules_established", "建章立制", "Rules established", 20, unit_edits=True),
    LedgerField("review_opinion", "审核意见", "Review opinion", 20, oversight_edits=True),
    LedgerField("struck_off_date", "销号日期", "Struck off on", 12),
    LedgerField("struck_off_by", "销号审批人", "Struck off by", 10),
)
FIELD_BY_KEY = {f.key: f for f in LEDGER_FIELDS}
# The three lists are three views of the same items (DOMAIN.md): what was found, what is done about
# it, and who answers for it.
LISTS = {
    "problems": ("问题清单", "Problem list", ("number", "source", "category", "problem", "target", "review_opinion")),
    "tasks": ("任务清单", "Task list", ("number", "problem", "measures", "due_date", "rectification_type", "progress",
                                   "evidence", "completion", "rules_established", "struck_off_date")),
    "responsibilities": ("责任清单", "Responsibility list", ("number", "problem", "responsible_leader",
                                                          "responsible_department", "cooperating_departments",
                                                          "responsible_person", "due_date")),
}
ITEM_COLUMNS = {"target", "measures", "responsible_leader", "responsible_department", "cooperating_departments",
                "responsible_person", "rectification_type", "progress", "completion", "rules_established",
                "review_opinion"}

CLUE_LEDGER_FIELDS = (
    LedgerField("seq", "序号", "No.", 6), LedgerField("person_names", "被反映人姓名", "Person concerned", 12),
    LedgerField("unit_and_post", "单位和职务", "Unit and post", 22),
    LedgerField("cadre_authority", "干部管理权限", "Cadre authority", 10),
    LedgerField("source", "线索来源", "Source", 20), LedgerField("received_date", "收到时间", "Received", 12),
    LedgerField("summary", "反映的主要问题", "Main allegation", 36),
    LedgerField("receiving_body", "移交对象", "Handed to", 12),
    LedgerField("handed_over_date", "移交日期", "Handed over", 12),
    LedgerField("acknowledged_date", "签收日期", "Acknowledged", 12), LedgerField("due_date", "办理期限", "Due", 12),
    LedgerField("disposition_method", "处置方式", "Disposition", 12),
    LedgerField("progress_date", "进展反馈日期", "Last progress report", 12),
    LedgerField("result_summary", "处置结果", "Result", 24), LedgerField("four_forms", "四种形态", "Four forms", 12),
    LedgerField("closed_date", "销号", "Closed", 12), LedgerField("remarks", "备注", "Remarks", 14),
)


def local_date(value: datetime | None) -> str:
    return value.astimezone(LOCAL_TZ).date().isoformat() if value else ""


def ledger_paths(session: Session, unit: Organisation) -> Iterator[str]:
    """The organisations a unit's ledger belongs to: the unit, then each team that inspected it (queried only
    when the unit's own path did not already decide)."""
    yield unit.path
    yield from session.execute(select(Organisation.path).join(Inspection, Inspection.team_id == Organisation.id)
                               .where(Inspection.unit_id == unit.id)).scalars()


def ledger_unit(session: Session, actor: Actor, unit_id: int) -> Organisation:
    """The unit whose 整改台账 the actor may read: the office and leading group over it, its own
    liaisons and leaders, and the groups that inspected it. Anyone else: not found."""
    unit = session.get(Organisation, unit_id)
    if unit is not None and allows_over_any(actor, "ledger", "read", ledger_paths(session, unit)):
        return unit
    raise NotFound("台账不存在或无权查看。", "The ledger does not exist or is not visible to you.")


def ledger_units(session: Session, actor: Actor) -> list[Organisation]:
    """The units with a 整改台账 the actor may read."""
    ids = session.execute(select(RectificationItem.unit_id).distinct()).scalars()
    units = []
    for unit_id in sorted(ids):
        try:
            units.append(ledger_unit(session, actor, unit_id))
        except NotFound:
            continue
    return units


def rectification_ledger(session: Session, actor: Actor, unit_id: int, *, q: str = "", category: str | None = None,
                         status: str | None = None, rectification_type: str | None = None, page: int = 1,
                         per_page: int = 20) -> Page[RectificationItem]:
    """One page of the unit's 整改台账, filtered and searched, as the actor may see it."""
    ledger_unit(session, actor, unit_id)
    where: list[ColumnElement[bool]] = [RectificationItem.unit_id == unit_id]
    if q:
        like = f"%{q}%"
        where.append(or_(*[column.ilike(like) for column in (
            RectificationItem.number, RectificationItem.problem, RectificationItem.measures,
            RectificationItem.responsible_leader, RectificationItem.responsible_department,
            RectificationItem.responsible_person, RectificationItem.progress)]))
    if category:
        where.append(RectificationItem.finding_id.in_(select(Finding.id).where(Finding.category == category)))
    if status:
        where.append(RectificationItem.status == status)
    if rectification_type:
        where.append(RectificationItem.rectification_type == rectification_type)
    return visible_page(session, actor, RectificationItem, "rectification", where,
                        [RectificationItem.id], page, per_page)


def all_visible_items(session: Session, actor: Actor, unit_id: int) -> list[RectificationItem]:
    """Every item of the unit's ledger the actor may see (for export, import and 对账)."""
    ledger_unit(session, actor, unit_id)
    found = visible_page(session, actor, RectificationItem, "rectification", [RectificationItem.unit_id == unit_id],
                         [RectificationItem.id], 1, 1_000_000)
    return found.items


def item_rows(session: Session, items: Sequence[RectificationItem]) -> list[dict[str, Any]]:
    """The ledger's columns of each item as text (dates ISO, Beijing time), plus id and status."""
    findings = {f.id: f for f in session.execute(
        select(Finding).where(Finding.id.in_({i.finding_id for i in items}))).scalars()} if items else {}
    instance_ids = {i.instance_id for i in items if i.instance_id}
    evidence = dict(session.execute(
        select(Attachment.instance_id, func.count()).where(Attachment.instance_id.in_(instance_ids),
                                                           Attachment.removed_at.is_(None))
        .group_by(Attachment.instance_id)).all()) if instance_ids else {}
    approvers = {i.struck_off_by_id for i in items if i.struck_off_by_id}
    names = dict(session.execute(select(User.id, User.display_name).where(User.id.in_(approvers))).all()) \
        if approvers else {}
    rows = []
    for item in items:
        finding = findings.get(item.finding_id)
        files = evidence.get(item.instance_id or 0, 0)
        rows.append({
            "id": item.id, "status": item.status, "instance_id": item.instance_id, "unit_id": item.unit_id,
            "number": item.number, "source": finding.source if finding else "",
            "category": finding.category if finding else "", "problem": item.problem,
            **{key: getattr(item, key) or "" for key in sorted(ITEM_COLUMNS)},
            "due_date": local_date(item.due_at),
            "evidence": f"案件佐证材料 {files} 份" if files else "",
            "struck_off_date": local_date(item.struck_off_at),
            "struck_off_by": names.get(item.struck_off_by_id or 0, ""),
        })
    return rows


def editable_fields(actor: Actor, item: RectificationItem, instance: ProcessInstance) -> set[str]:
    """The ledger columns this actor may change on this item: the unit its working columns, the office
    and the group their review opinion. Nothing once the item is struck off."""
    if item.status == ItemStatus.STRUCK_OFF or not can_see_instance(actor, instance):
        return set()
    fields: set[str] = set()
    if allows_on_case(actor, "rectification_item", "report_progress", instance):
        fields |= {f.key for f in LEDGER_FIELDS if f.unit_edits}
    if allows_on_case(actor, "rectification_item", "review", instance):
        fields |= {f.key for f in LEDGER_FIELDS if f.oversight_edits}
    return fields


def may_add_items(actor: Actor, instance: ProcessInstance) -> bool:
    """New lines (problems found later, 移交事项) are put on a unit's ledger by the office or the group."""
    return allows_on_case(actor, "rectification_item", "add", instance)


def check_value(field: LedgerField, value: str) -> tuple[str, str] | None:
    """Why a value does not fit the column (zh, en), or None."""
    if field.choices and value and value not in field.choices:
        return (f"“{field.zh}”应为 {'、'.join(field.choices)} 之一。",
                f"'{field.en}' must be one of {', '.join(field.choices)}.")
    if len(value) > (200 if field.key in ("cooperating_departments", "responsible_department") else 4000):
        return f"“{field.zh}”过长。", f"'{field.en}' is too long."
    if field.key in ("responsible_leader", "responsible_person") and len(value) > 100:
        return f"“{field.zh}”不得超过 100 字。", f"'{field.en}' may have at most 100 characters."
    return None


def update_item(session: Session, actor: Actor, item_id: int, values: dict[str, str], now: datetime
                ) -> dict[str, list[Any]]:
    """Change ledger columns of one item, audited on its case with the values before and after."""
    item = visible_row(session, actor, RectificationItem, item_id)
    assert item.instance_id is not None
    instance = lock_instance(session, item.instance_id)
    session.refresh(item)
    if item.status == ItemStatus.STRUCK_OFF:
        raise Conflict("该事项已销号，不能再修改。", "This item has been struck off and can no longer be changed.")
    allowed = editable_fields(actor, item, instance)
    for key in values:
        if key not in allowed:
            field = FIELD_BY_KEY.get(key)
            raise NotPermitted(f"您不能修改“{field.zh if field else key}”。",
                               f"You may not change '{field.en if field else key}'.", {"field": key})
    clean = {}
    for key, raw in values.items():
        value = (raw or "").strip()
        if problem := check_value(FIELD_BY_KEY[key], value):
            raise InvalidInput(problem[0], problem[1], {"field": key})
        clean[key] = value or None
    return apply_item_changes(session, actor, instance, item, clean, now)


def apply_item_changes(session: Session, actor: Actor, instance: ProcessInstance, item: RectificationItem,
                       values: dict[str, Any], now: datetime, via: str = "ledger") -> dict[str, list[Any]]:
    """Write already checked values; the case's audit stream gets one event with before and after."""
    changes = {key: [getattr(item, key), value] for key, value in values.items() if getattr(item, key) != value}
    if not changes:
        return {}
    for key, (_before, after) in changes.items():
        setattr(item, key, after)
    session.flush()
    audit.record_case(session, instance, [audit.EventDraft("case_updated", {
        "entity": "rectification_item", "id": item.id, "via": via, "changes": changes}, instance.id)],
        at=now, actor_id=actor.user_id, actor_name=actor.username)
    return changes


def clue_ledger(session: Session, actor: Actor, *, q: str = "", status: str | None = None, page: int = 1,
                per_page: int = 20) -> Page[Clue]:
    """One page of the 问题线索台账 the actor may see (the caller records the reads)."""
    where: list[ColumnElement[bool]] = []
    if q:
        like = f"%{q}%"
        where.append(or_(Clue.number.ilike(like), Clue.summary.ilike(like)))
    if status:
        where.append(Clue.status == status)
    return visible_page(session, actor, Clue, "clue", where, [Clue.created_at, Clue.id], page, per_page)


def clue_rows(session: Session, clues: Sequence[Clue], first: int = 1) -> list[dict[str, Any]]:
    """The 问题线索台账 columns of each clue, as text."""
    rows = []
    for seq, clue in enumerate(clues, start=first):
        persons = clue.persons_concerned or []
        inspection = clue.inspection
        rows.append({
            "id": clue.id, "number": clue.number, "status": clue.status, "instance_id": clue.instance_id,
            "seq": seq, "person_names": "、".join(str(p.get("name", "")) for p in persons),
            "unit_and_post": "；".join(f"{clue.unit.name}{p.get('post', '')}" for p in persons) or clue.unit.name,
            "cadre_authority": clue.cadre_authority or "",
            "source": f"{inspection.round.name} {inspection.team.name}",
            "received_date": local_date(clue.created_at), "summary": clue.summary,
            "receiving_body": clue.receiving_org.name, "handed_over_date": local_date(clue.handed_over_at),
            "acknowledged_date": local_date(clue.acknowledged_at), "due_date": local_date(clue.due_at),
            "disposition_method": clue.disposition_method or "", "progress_date": local_date(clue.last_progress_at),
            "result_summary": clue.result_summary or "", "four_forms": clue.four_forms or "",
            "closed_date": local_date(clue.closed_at) if clue.status == ClueStatus.CLOSED else "",
            "remarks": clue.remarks or "",
        })
    return rows
