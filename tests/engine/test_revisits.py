"""回头看: from a finished rectification the office opens a 回头看 inspection in a 回头看 round, reopens items
(linked to their originals, same problem, new deadline) and adds new ones, in a new rectification case
opened the usual way; both cases link to each other; refused while the rectification runs, and to others."""

from __future__ import annotations

import json
from datetime import date

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from engine import revisits
from engine.calendar import LOCAL_TZ
from engine.context import EngineContext
from engine.db import transaction
from engine.demo import Demo
from engine.errors import Conflict, InvalidInput, NotFound, NotPermitted
from models import AuditEvent, Inspection, ProcessInstance, RectificationItem, Round
from tests.helpers import complete_rectification, open_rectification, ready_task

DUE = date(2027, 3, 31)


def finished(factory: sessionmaker[Session], ctx: EngineContext, demo: Demo) -> int:
    instance_id = open_rectification(factory, ctx, demo, problems=("干部档案管理不规范。", "公务用车管理存在漏洞。"))
    complete_rectification(factory, ctx, instance_id, disclosure={"publish": False, "exemption_note": "无"})
    return instance_id


def items_of(factory: sessionmaker[Session], instance_id: int) -> list[RectificationItem]:
    with factory() as s:
        return list(s.execute(select(RectificationItem).where(RectificationItem.instance_id == instance_id)
                              .order_by(RectificationItem.id)).scalars())


def test_office_starts_a_revisit_reopening_an_item_and_adding_a_problem(
        factory: sessionmaker[Session], ctx: EngineContext, demo: Demo) -> None:
    original = finished(factory, ctx, demo)
    first = items_of(factory, original)[0]
    with transaction(factory) as s:
        result = revisits.start_revisit(s, ctx, demo.actor("office1"), original, reopen_item_ids=[first.id],
                                        new_problems=["整改后又出现公车私用。"], due_on=DUE)
        new_id, inspection_id = result.instance.id, result.inspection.id
    items = items_of(factory, new_id)
    assert [(i.problem, i.origin_item_id) for i in items] == [
        ("干部档案管理不规范。", first.id), ("整改后又出现公车私用。", None)]
    assert all(i.due_at is not None and i.due_at.astimezone(LOCAL_TZ).date() == DUE for i in items)
    assert all(i.unit_id == demo.orgs["U-EDU"].id for i in items)
    with factory() as s:
        inspection = s.get(Inspection, inspection_id)
        assert inspection is not None and inspection.revisit_of_id == demo.inspections["U-EDU"].id
        round_ = s.get(Round, inspection.round_id)
        assert round_ is not None and round_.kind == "回头看" and round_.year == 2026
        new_case, old_case = s.get(ProcessInstance, new_id), s.get(ProcessInstance, original)
        assert new_case is not None and old_case is not None and new_case.process_key == "rectification"
        office = demo.actor("office1")
        assert [c.id for c in revisits.revisit_of(s, office, new_case)] == [original]
        assert [c.id for c in revisits.revisited_by(s, office, old_case)] == [new_id]
        assert [c.id for c in revisits.revisit_of(s, demo.actor("unit1"), new_case)] == [original]
        events = {e.event_type: json.loads(e.payload) for e in s.execute(select(AuditEvent).where(
            AuditEvent.event_type.in_(("revisit_started", "revisit_opened")))).scalars()}
    assert events["revisit_started"]["revisit_of_instance_id"] == original
    assert events["revisit_opened"]["revisit_instance_id"] == new_id
    assert ready_task(factory, new_id, "receive_feedback")  # the unit starts over, as in any rectification


def test_revisit_is_refused_while_the_rectification_runs_and_to_anyone_but_the_office(
        factory: sessionmaker[Session], ctx: EngineContext, demo: Demo) -> None:
    running = open_rectification(factory, ctx, demo, problems=("尚在整改。",))
    item = items_of(factory, running)[0]
    with transaction(factory) as s, pytest.raises(Conflict):
        revisits.start_revisit(s, ctx, demo.actor("office1"), running, reopen_item_ids=[item.id], new_problems=[],
                               due_on=DUE)
    original = finished(factory, ctx, demo)
    first = items_of(factory, original)[0]
    # The unit and the group see the case, so they are refused the action (403); a county office does not see
    # a city case at all (404).
    for who, error in (("unit1", NotPermitted), ("group1", NotPermitted), ("county1", NotFound)):
        with transaction(factory) as s, pytest.raises(error):
            revisits.start_revisit(s, ctx, demo.actor(who), original, reopen_item_ids=[first.id], new_problems=[],
                                   due_on=DUE)
    bad: list[tuple[list[int], list[str], date]] = [
        ([], [" "], DUE), ([item.id], [], DUE), ([first.id, first.id], [], DUE), ([first.id], [], date(2026, 11, 25))]
    for reopen, problems, due in bad:
        with transaction(factory) as s, pytest.raises(InvalidInput):
            revisits.start_revisit(s, ctx, demo.actor("office1"), original, reopen_item_ids=reopen,
                                   new_problems=problems, due_on=due)
    with factory() as s:
        assert s.execute(select(Inspection).where(Inspection.revisit_of_id.is_not(None))).first() is None
