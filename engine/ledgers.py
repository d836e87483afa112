"""Reading the case ledgers (问题线索台账, 整改台账, case lists) as the actor may see them.

``permissions.can_see_instance`` is the rule. The SQL here narrows the candidates by the roles the
actor holds over each instance's bindings, so a listing never loads other offices' cases; each
candidate then passes ``can_see_instance`` (回避 lives in a JSON list that SQL cannot portably
search), and paging happens after that, so totals and pages are exact.

Reading a clue is itself an event: ``record_clue_reads`` appends ``clue_viewed`` to its case stream.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeVar

from sqlalchemy import ColumnElement, false, or_, select
from sqlalchemy.orm import Session, lazyload, load_only

from models import Clue, ProcessInstance, RectificationItem

from . import audit
from .actors import Actor
from .errors import NotFound
from .permissions import CLUE_ROLES, OVERSIGHT_ROLES, RECTIFICATION_ROLES, SCOPE, can_see_instance
from .taskaccess import lock_instance

CASE_ROLES = {"clue": CLUE_ROLES, "rectification": RECTIFICATION_ROLES}
Row = TypeVar("Row", Clue, RectificationItem, ProcessInstance)
T = TypeVar("T")
INSTANCE_KEYS: dict[type, Any] = {Clue: Clue.instance_id, RectificationItem: RectificationItem.instance_id}


@dataclass
class Page(Generic[T]):
    """One page of a listing and the total it was cut from."""

    items: list[T]
    total: int
    page: int
    per_page: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))


def _role_condition(actor: Actor, case_kind: str) -> ColumnElement[bool]:
    clauses = []
    for role in actor.roles:
        if role.group_key in OVERSIGHT_ROLES:
            binding = SCOPE
        elif role.group_key in CASE_ROLES[case_kind]:
            binding = role.group_key
        else:
            continue
        clauses.append(ProcessInstance.bindings[binding].as_string().startswith(role.org_path, autoescape=True))
    return or_(*clauses) if clauses else false()


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
