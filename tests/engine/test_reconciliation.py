"""定期对账: a snapshot of the unit's ledger, and what changed since it."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from engine import ledgers, reconciliation
from engine.db import transaction
from engine.errors import NotFound, NotPermitted
from models import AuditEvent, RectificationItem
from tests.helpers import PLAN_ROW, item_numbers, open_rectification, strike_off_items


def test_diff_shows_changes_and_strike_offs_since_the_last_reconciliation(factory, ctx, demo):  # type: ignore[no-untyped-def]
    instance_id = open_rectification(factory, ctx, demo, problems=1)
    unit_id = demo.orgs["U-EDU"].id
    with factory() as s:
        before = reconciliation.diff_since_last(s, demo.actor("office1"), unit_id)
        assert before.since is None and [a["number"] for a in before.added] == ["U-EDU-01"]
    with transaction(factory) as s:
        row = reconciliation.reconcile(s, demo.actor("unit1"), unit_id, "第一次对账", ctx.clock.now())
        assert row.snapshot["items"]
    with factory() as s:
        assert reconciliation.diff_since_last(s, demo.actor("group1"), unit_id).empty
    (number,) = item_numbers(factory, instance_id)
    strike_off_items(factory, ctx, instance_id)
    open_rectification(factory, ctx, demo, problems=["新增的问题"])  # a second case of the same unit
    with factory() as s:
        diff = reconciliation.diff_since_last(s, demo.actor("office1"), unit_id)
    assert diff.since is not None and diff.since.note == "第一次对账"
    assert [a["problem"] for a in diff.added] == ["新增的问题"]
    assert diff.changed[0]["changes"]["整改措施"] == ["", PLAN_ROW["measures"]]
    assert [s["number"] for s in diff.struck_off] == [number]
    with factory() as s:
        assert s.execute(select(AuditEvent).where(AuditEvent.event_type == "ledger_reconciled")).scalar_one()


def test_only_the_keepers_of_the_ledger_reconcile(factory, ctx, demo):  # type: ignore[no-untyped-def]
    open_rectification(factory, ctx, demo, problems=1)
    unit_id = demo.orgs["U-EDU"].id
    with pytest.raises(NotPermitted), transaction(factory) as s:
        reconciliation.reconcile(s, demo.actor("leader1"), unit_id, None, ctx.clock.now())
    for username in ("unit2", "jw1"):
        with pytest.raises(NotFound), transaction(factory) as s:
            reconciliation.reconcile(s, demo.actor(username), unit_id, None, ctx.clock.now())
    with transaction(factory) as s:
        reconciliation.reconcile(s, demo.actor("office1"), unit_id, None, ctx.clock.now())
    with factory() as s:
        assert len(reconciliation.history(s, demo.actor("unit1"), unit_id)) == 1
        assert s.execute(select(RectificationItem.id)).scalars().all()
        assert [u.id for u in ledgers.ledger_units(s, demo.actor("unit1"))] == [unit_id]
