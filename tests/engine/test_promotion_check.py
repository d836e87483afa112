"""凡提必用 lookups: who matches (ID numbers decide, a bare name is flagged), 回避 still holds, every
lookup and every listed clue is recorded, and only the organisation department and the office may ask."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from engine import promotion_check
from engine.db import transaction
from engine.errors import InvalidInput, NotFound, NotPermitted
from models import AuditEvent
from tests.helpers import PLAN_ROW, act, add_user, item_numbers, open_clue, open_rectification

ID = "410100198001011234"


def _person(factory, actor, clock, **query):
    with transaction(factory) as session:
        return promotion_check.check_person(session, actor, at=clock.now(), **query)


def _events(factory, kind):
    with factory() as session:
        return [json.loads(e.payload) for e in session.execute(
            select(AuditEvent).where(AuditEvent.event_type == kind)).scalars()]


def test_an_id_number_decides_and_a_bare_name_is_flagged_for_verification(factory, ctx, demo, clock):
    open_clue(factory, ctx, demo, number="XS-M-1", persons=[{"name": "张某某", "post": "科长", "id_number": ID}])
    open_clue(factory, ctx, demo, number="XS-M-2", persons=[{"name": "张某某", "post": "副科长"}])
    open_clue(factory, ctx, demo, number="XS-M-3", persons=[{"name": "张某某", "id_number": "410100199901019999"}])
    zzb = demo.actor("zzb1")

    by_id = _person(factory, zzb, clock, name="张某某", id_number=ID.lower())
    assert {(c.number, c.match) for c in by_id.clues} == {("XS-M-1", "exact"), ("XS-M-2", "name_only")}
    assert by_id.needs_verification

    by_unit = _person(factory, zzb, clock, name="张某某", unit_code="U-EDU")
    assert {c.number for c in by_unit.clues} == {"XS-M-1", "XS-M-2", "XS-M-3"}
    assert all(c.match == "name_only" for c in by_unit.clues)
    assert _person(factory, zzb, clock, name="王某", unit_code="U-EDU").clues == []


def test_items_the_person_is_responsible_for_are_listed_with_their_state(factory, ctx, demo, clock):
    instance_id = open_rectification(factory, ctx, demo, problems=1)
    act(factory, ctx, "unit1", instance_id, "receive_feedback", {"feedback_received_on": "2026-11-25"})
    act(factory, ctx, "unit1", instance_id, "draft_plan", {
        "plan_summary": "逐项整改。", "pledge_signed": True, "pledge_signer": "党组书记",
        "plan_measures": [{"item_number": n, **PLAN_ROW} for n in item_numbers(factory, instance_id)]})

    result = _person(factory, demo.actor("office1"), clock, name=PLAN_ROW["responsible_leader"], unit_code="U-EDU")

    assert [(i.role, i.number) for i in result.items] == [("责任领导", item_numbers(factory, instance_id)[0])]


def test_a_recused_asker_is_told_how_many_were_withheld_not_what(factory, ctx, demo, clock):
    recused = add_user(factory, "zzb_recused", "ZZB", "organization", id_number=ID)
    open_clue(factory, ctx, demo, number="XS-M-9", persons=[{"name": "张某某", "id_number": ID}])

    result = _person(factory, recused, clock, name="张某某", id_number=ID)

    assert result.clues == [] and result.withheld_recused == 1
    assert _person(factory, demo.actor("zzb1"), clock, name="张某某", id_number=ID).clues[0].number == "XS-M-9"


def test_every_lookup_and_every_listed_clue_is_recorded(factory, ctx, demo, clock):
    open_clue(factory, ctx, demo, number="XS-M-5", persons=[{"name": "张某某", "id_number": ID}])
    _person(factory, demo.actor("zzb1"), clock, name="张某某", id_number=ID)
    _person(factory, demo.actor("zzb1"), clock, name="无关人员", id_number=ID)

    checks = _events(factory, "promotion_check")
    assert [c["query"]["name"] for c in checks] == ["张某某", "无关人员"]
    assert [len(c["clue_ids"]) for c in checks] == [1, 0]
    assert [e["via"] for e in _events(factory, "clue_viewed")] == ["promotion_check"]


def test_only_the_organisation_department_and_the_office_may_ask(factory, ctx, demo, clock):
    for username in ("unit1", "jw1", "group1", "leader1", "auditor1"):
        with pytest.raises(NotPermitted):
            _person(factory, demo.actor(username), clock, name="张某某", id_number=ID)
    with pytest.raises(InvalidInput):
        _person(factory, demo.actor("zzb1"), clock, name="张某某")
    with pytest.raises(InvalidInput):
        _person(factory, demo.actor("zzb1"), clock, name=" ", id_number=ID)
    with pytest.raises(NotFound):
        _person(factory, demo.actor("zzb1"), clock, name="张某某", unit_code="NO-SUCH")
    assert _events(factory, "promotion_check") == []
