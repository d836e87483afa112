"""凡提必用: before a cadre is promoted, the organisation department looks up every clue, finding and
rectification result concerning the person, or their unit, with the outcome.

This is a sanctioned exception to "clues are seen by their handlers only": the organisation department
(and the inspection office) may learn that clues concerning a person exist and how they ended — number,
dates, receiving body, stage, disposition, 四种形态, result — never the evidence or the case itself.
So every lookup is audited twice: one ``promotion_check`` event in the system stream naming the query
and what was returned, and a ``clue_viewed`` event on each listed clue's own stream. 回避 still holds:
a clue the asker is recused from is left out and only counted.

Matching persons: clues list persons concerned by name with, usually, post and ID number. A clue matches
when the name is equal and the ID numbers agree where both are known; a match on the name alone (no ID
number on either side) is flagged for a person to verify.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from models import Clue, Organisation, ProcessInstance, RectificationItem

from . import audit
from .actors import Actor, Role
from .errors import InvalidInput, NotFound, NotPermitted
from .ledgers import record_clue_reads
from .permissions import cases_owned_within, granting_roles, is_recused
from .statistics import CLUE_STAGES

EXACT, NAME_ONLY = "exact", "name_only"
ITEM_STATUS = {"pending": "待制定方案", "in_progress": "整改中", "submitted": "待核查", "rejected": "核查驳回",
               "verified": "核查通过", "struck_off": "已销号"}


@dataclass
class ClueEntry:
    clue_id: int
    number: str
    unit_name: str
    person: str  # name and post as the clue records them
    receiving_body: str
    handed_over_at: datetime | None
    stage: str
    disposition_method: str | None
    four_forms: str | None
    result_summary: str | None
    closed_at: datetime | None
    match: str  # EXACT or NAME_ONLY


@dataclass
class ItemEntry:
    item_id: int
    unit_name: str
    number: str
    problem: str
    role: str  # why it concerns the person: 责任领导 / 责任人 / (unit lookups) 本单位
    status: str
    completion: str | None
    due_at: datetime | None
    struck_off_at: datetime | None


@dataclass
class PromotionCheck:
    """The answer to one lookup, as printed for the promotion file."""

    kind: str  # "person" or "unit"
    query: dict[str, Any]
    asked_by: str
    asked_at: datetime
    clues: list[ClueEntry] = field(default_factory=list)
    items: list[ItemEntry] = field(default_factory=list)
    withheld_recused: int = 0

    @property
    def needs_verification(self) -> bool:
        return any(c.match == NAME_ONLY for c in self.clues)


def _looked_over(role: Role) -> str:
    """The subtree a role granting 凡提必用 looks over: an office its own; the organisation department the
    city or county it belongs to (the parent of its own organisation)."""
    if role.group_key != "organization":
        return role.org_path
    parent = role.org_path.rstrip("/").rsplit("/", 1)[0] + "/"
    return parent if parent != "/" else role.org_path


def _scope_paths(actor: Actor) -> list[str]:
    """Where the actor may look: the office's own scope; for the organisation department, the city or
    county it belongs to (the parent of its own organisation), whose cadres it manages."""
    paths = [_looked_over(role) for role in granting_roles(actor, "promotion_check", "run")]
    if not paths:
        raise NotPermitted("只有组织部和巡察办可以进行“凡提必用”查询。",
                           "Only the organisation department and the inspection office may run promotion checks.")
    return paths


def _clues_in(paths: list[str]) -> Any:
    return (select(Clue, ProcessInstance).join(ProcessInstance, ProcessInstance.id == Clue.instance_id)
            .where(cases_owned_within(paths)).order_by(Clue.handed_over_at, Clue.id))


def _items_in(paths: list[str]) -> Any:
    return (select(RectificationItem).join(ProcessInstance, ProcessInstance.id == RectificationItem.instance_id)
            .where(cases_owned_within(paths)).order_by(RectificationItem.id))


def _matches(person: dict[str, Any], name: str, id_number: str | None) -> str | None:
    if str(person.get("name", "")).strip() != name:
        return None
    known = str(person.get("id_number") or "").strip().upper()
    if id_number and known:
        return EXACT if known == id_number else None
    return NAME_ONLY


def _clue_entry(clue: Clue, person: dict[str, Any], match: str, names: dict[int, str]) -> ClueEntry:
    label = " ".join(str(person.get(k) or "") for k in ("name", "post")).strip()
    return ClueEntry(clue.id, clue.number, names.get(clue.unit_id, ""), label, names.get(clue.receiving_org_id, ""),
                     clue.handed_over_at, CLUE_STAGES.get(clue.status, clue.status), clue.disposition_method,
                     clue.four_forms, clue.result_summary, clue.closed_at, match)


def _item_entry(item: RectificationItem, role: str, names: dict[int, str]) -> ItemEntry:
    return ItemEntry(item.id, names.get(item.unit_id, ""), item.number, item.problem, role,
                     ITEM_STATUS.get(item.status, item.status), item.completion, item.due_at, item.struck_off_at)


def _org_names(session: Session, ids: set[int]) -> dict[int, str]:
    return {o.id: o.name for o in session.execute(select(Organisation).where(Organisation.id.in_(ids))).scalars()}


def _unit(session: Session, code: str | None) -> Organisation | None:
    if not code:
        return None
    unit = session.execute(select(Organisation).where(Organisation.code == code)).scalar_one_or_none()
    if unit is None:
        raise NotFound(f"单位“{code}”不存在。", f"Unit '{code}' does not exist.")
    return unit


def check_person(session: Session, actor: Actor, *, name: str, id_number: str | None = None,
                 unit_code: str | None = None, at: datetime) -> PromotionCheck:
    """Every clue naming the person, and every rectification item they are responsible for."""
    name = (name or "").strip()
    id_number = (id_number or "").strip().upper() or None
    if not name:
        raise InvalidInput("请输入被查询人的姓名。", "Enter the name of the person to look up.", {"field": "name"})
    if not id_number and not unit_code:
        raise InvalidInput("请同时输入身份证号或所在单位，以免同名误查。",
                           "Enter an ID number or the person's unit as well, so that namesakes are not confused.",
                           {"field": "id_number"})
    paths = _scope_paths(actor)
    unit = _unit(session, unit_code)
    result = PromotionCheck("person", {"name": name, "id_number": id_number, "unit": unit_code},
                            actor.display_name, at)
    clue_rows = session.execute(_clues_in(paths)).all()
    found: list[tuple[Clue, dict[str, Any], str]] = []
    for clue, instance in clue_rows:
        if unit is not None and not id_number and clue.unit_id != unit.id:
            continue
        for person in clue.persons_concerned or []:
            match = _matches(person, name, id_number)
            if match is None:
                continue
            if is_recused(actor, instance):
                result.withheld_recused += 1
            else:
                found.append((clue, person, match))
            break
    item_filter = [or_(RectificationItem.responsible_leader == name, RectificationItem.responsible_person == name)]
    if unit is not None:
        item_filter.append(RectificationItem.unit_id == unit.id)
    items = session.execute(_items_in(paths).where(*item_filter)).scalars().all()
    names = _org_names(session, {c.unit_id for c, _p, _m in found} | {c.receiving_org_id for c, _p, _m in found}
                       | {i.unit_id for i in items})
    result.clues = [_clue_entry(c, p, m, names) for c, p, m in found]
    result.items = [_item_entry(i, "责任领导" if i.responsible_leader == name else "责任人", names) for i in items]
    _audit(session, actor, result, [c for c, _p, _m in found], at)
    return result


def check_unit(session: Session, actor: Actor, *, unit_code: str, at: datetime) -> PromotionCheck:
    """Every clue concerning the unit (its people) and every finding and item of its ledger."""
    paths = _scope_paths(actor)
    unit = _unit(session, (unit_code or "").strip())
    if unit is None:
        raise InvalidInput("请选择要查询的单位。", "Choose the unit to look up.", {"field": "unit"})
    result = PromotionCheck("unit", {"unit": unit.code, "unit_name": unit.name}, actor.display_name, at)
    clue_rows = session.execute(_clues_in(paths).where(Clue.unit_id == unit.id)).all()
    visible = []
    for clue, instance in clue_rows:
        if is_recused(actor, instance):
            result.withheld_recused += 1
        else:
            visible.append(clue)
    items = session.execute(_items_in(paths).where(RectificationItem.unit_id == unit.id)).scalars().all()
    names = _org_names(session, {unit.id} | {c.receiving_org_id for c in visible})
    result.clues = [_clue_entry(c, (c.persons_concerned or [{}])[0], EXACT, names) for c in visible]
    result.items = [_item_entry(i, "本单位", names) for i in items]
    _audit(session, actor, result, visible, at)
    return result


def _audit(session: Session, actor: Actor, result: PromotionCheck, clues: list[Clue], at: datetime) -> None:
    audit.record(session, audit.SYSTEM_STREAM, [audit.EventDraft("promotion_check", {
        "kind": result.kind, "query": result.query, "clue_ids": [c.id for c in clues],
        "item_ids": [i.item_id for i in result.items], "withheld_recused": result.withheld_recused})],
        at=at, actor_id=actor.user_id, actor_name=actor.username)
    record_clue_reads(session, actor, clues, "promotion_check", at)
