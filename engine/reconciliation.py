"""定期对账: the office, the inspection group and the unit keep one 整改台账 and agree it from time to
time. Reconciling stores a snapshot of every item's columns; the ledger then shows what changed
since the last reconciliation — items added, columns changed (old → new), items struck off.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from models import ItemStatus, LedgerReconciliation, Organisation

from . import audit
from .actors import Actor
from .audit import EventDraft
from .errors import InvalidInput, NotPermitted
from .ledgers import FIELD_BY_KEY, all_visible_items, item_rows, ledger_paths, ledger_unit
from .permissions import allows_over_any

# The columns a reconciliation compares (the computed evidence count is left out: files are the case's).
COMPARED = (*(k for k in FIELD_BY_KEY if k != "evidence"), "status")


@dataclass
class LedgerDiff:
    since: LedgerReconciliation | None
    added: list[dict[str, Any]] = field(default_factory=list)
    changed: list[dict[str, Any]] = field(default_factory=list)  # {id, number, changes: {zh label: [old, new]}}
    struck_off: list[dict[str, Any]] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not (self.added or self.changed or self.struck_off)

    def as_dict(self) -> dict[str, Any]:
        since = self.since
        return {"since": None if since is None else {"id": since.id, "reconciled_at": since.reconciled_at.isoformat(),
                                                     "note": since.note},
                "added": self.added, "changed": self.changed, "struck_off": self.struck_off}


def may_reconcile(session: Session, actor: Actor, unit: Organisation) -> bool:
    """The three keepers of the ledger: the office over the unit, the groups that inspected it, the unit
    itself (the leading group reads it but does not keep it)."""
    return allows_over_any(actor, "ledger", "reconcile", ledger_paths(session, unit))


def _snapshot(rows: list[dict[str, Any]]) -> dict[str, Any]:
    return {str(r["id"]): {k: r.get(k, "") for k in COMPARED} for r in rows}


def last_reconciliation(session: Session, unit_id: int) -> LedgerReconciliation | None:
    return session.execute(select(LedgerReconciliation).where(LedgerReconciliation.unit_id == unit_id)
                           .order_by(LedgerReconciliation.reconciled_at.desc(), LedgerReconciliation.id.desc())
                           .limit(1)).scalar_one_or_none()


def history(session: Session, actor: Actor, unit_id: int) -> list[LedgerReconciliation]:
    ledger_unit(session, actor, unit_id)
    return list(session.execute(select(LedgerReconciliation).where(LedgerReconciliation.unit_id == unit_id)
                                .order_by(LedgerReconciliation.reconciled_at.desc(),
                                          LedgerReconciliation.id.desc())).scalars())


def reconcile(session: Session, actor: Actor, unit_id: int, note: str | None, now: datetime) -> LedgerReconciliation:
    """Store the ledger as agreed now (audited on the system stream)."""
    unit = ledger_unit(session, actor, unit_id)
    if not may_reconcile(session, actor, unit):
        raise NotPermitted("只有巡察办、巡察组和被巡察单位可以对账。",
                           "Only the inspection office, the inspection group and the unit reconcile the ledger.")
    note = (note or "").strip() or None
    if note and len(note) > 500:
        raise InvalidInput("对账说明不得超过 500 字。", "The note may have at most 500 characters.", {"field": "note"})
    rows = item_rows(session, all_visible_items(session, actor, unit_id))
    row = LedgerReconciliation(unit_id=unit.id, reconciled_by_id=actor.user_id, reconciled_at=now, note=note,
                               snapshot={"items": _snapshot(rows)})
    session.add(row)
    session.flush()
    audit.record(session, audit.SYSTEM_STREAM, [EventDraft("ledger_reconciled", {
        "unit_id": unit.id, "reconciliation_id": row.id, "items": len(rows), "note": note})],
        at=now, actor_id=actor.user_id, actor_name=actor.username)
    return row


def diff_since_last(session: Session, actor: Actor, unit_id: int) -> LedgerDiff:
    """What changed on the ledger since it was last reconciled (everything is 'added' before the first)."""
    ledger_unit(session, actor, unit_id)
    since = last_reconciliation(session, unit_id)
    before: dict[str, Any] = (since.snapshot or {}).get("items", {}) if since else {}
    result = LedgerDiff(since)
    for row in item_rows(session, all_visible_items(session, actor, unit_id)):
        now_values = {k: row.get(k, "") for k in COMPARED}
        old = before.get(str(row["id"]))
        if old is None:
            result.added.append({"id": row["id"], "number": row["number"], "problem": row["problem"]})
            continue
        changes = {FIELD_BY_KEY[k].zh if k in FIELD_BY_KEY else "状态": [old.get(k, ""), v]
                   for k, v in now_values.items() if k != "status" and old.get(k, "") != v}
        if changes:
            result.changed.append({"id": row["id"], "number": row["number"], "changes": changes})
        if row["status"] == ItemStatus.STRUCK_OFF and old.get("status") != ItemStatus.STRUCK_OFF:
            result.struck_off.append({"id": row["id"], "number": row["number"],
                                      "struck_off_date": row["struck_off_date"], "struck_off_by": row["struck_off_by"]})
    return result
