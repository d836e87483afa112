"""常用筛选 (engine.saved_filters): one's own, named uniquely, replaced only when asked, checked like the
queue's parameters, and every change on the audit trail."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from engine import audit, saved_filters
from engine.context import EngineContext
from engine.db import transaction
from engine.demo import Demo
from engine.errors import Conflict, InvalidInput, NotFound, NotPermitted
from models import AuditEvent, SavedFilter


def save(factory: sessionmaker[Session], ctx: EngineContext, demo: Demo, username: str, name: str, queue: str,
         params: dict[str, object], replace: bool = False) -> tuple[int, bool]:
    with transaction(factory) as s:
        row, created = saved_filters.save_filter(s, ctx, demo.actor(username), name, queue, params, replace=replace)
        return row.id, created


def events(factory: sessionmaker[Session]) -> list[tuple[str, str | None, dict[str, object]]]:
    with factory() as s:
        rows = s.execute(select(AuditEvent).where(AuditEvent.stream == audit.SYSTEM_STREAM,
                                                  AuditEvent.event_type.like("saved_filter_%"))
                         .order_by(AuditEvent.seq)).scalars()
        return [(e.event_type, e.actor_name, json.loads(e.payload)) for e in rows]


def test_saving_listing_replacing_and_deleting_ones_own_filters(factory: sessionmaker[Session], ctx: EngineContext,
                                                                demo: Demo) -> None:
    first, created = save(factory, ctx, demo, "office1", " 本月逾期 ", "all",
                          {"colour": "red", "sort": "-due", "q": ""})
    assert created
    county = str(demo.orgs["COUNTY-A"].id)
    save(factory, ctx, demo, "office1", "县里的", "all", {"county": county, "round": 3})
    with factory() as s:
        listed = saved_filters.list_filters(s, demo.actor("office1"))
    assert [(f.name, f.queue, f.params) for f in listed] == [
        ("县里的", "all", {"county": county, "round": "3"}), ("本月逾期", "all", {"colour": "red", "sort": "-due"})]

    with pytest.raises(Conflict) as raised:
        save(factory, ctx, demo, "office1", "本月逾期", "all", {"colour": "yellow"})
    assert raised.value.details["id"] == first and "本月逾期" in raised.value.message_zh
    again, created = save(factory, ctx, demo, "office1", "本月逾期", "all", {"colour": "yellow"}, replace=True)
    assert (again, created) == (first, False)

    with transaction(factory) as s:
        saved_filters.delete_filter(s, ctx, demo.actor("office1"), first)
    with factory() as s:
        assert [f.name for f in saved_filters.list_filters(s, demo.actor("office1"))] == ["县里的"]

    assert [(kind, who) for kind, who, _ in events(factory)] == [
        ("saved_filter_created", "office1"), ("saved_filter_created", "office1"),
        ("saved_filter_replaced", "office1"), ("saved_filter_deleted", "office1")]
    replaced = events(factory)[2][2]
    assert replaced["before"]["params"] == {"colour": "red", "sort": "-due"}  # type: ignore[index]
    assert replaced["after"]["params"] == {"colour": "yellow"}  # type: ignore[index]
    assert events(factory)[3][2]["after"] is None


def test_names_are_per_person_and_others_filters_are_not_found(factory: sessionmaker[Session], ctx: EngineContext,
                                                               demo: Demo) -> None:
    mine, _ = save(factory, ctx, demo, "office1", "待签收", "group", {})
    theirs, created = save(factory, ctx, demo, "unit1", "待签收", "group", {})
    assert created and theirs != mine
    with factory() as s:
        assert [f.id for f in saved_filters.list_filters(s, demo.actor("unit1"))] == [theirs]
    with pytest.raises(NotFound), transaction(factory) as s:
        saved_filters.delete_filter(s, ctx, demo.actor("unit1"), mine)
    with pytest.raises(NotFound), factory() as s:
        saved_filters.get_filter(s, demo.actor("unit1"), 987654)
    with factory() as s:
        assert s.get(SavedFilter, mine) is not None


@pytest.mark.parametrize(("name", "queue", "params", "parameter"), [
    ("", "mine", {}, "name"),
    ("x" * 101, "mine", {}, "name"),
    ("f", "everything", {}, "queue"),
    ("f", "mine", {"colour": "purple"}, "colour"),
    ("f", "mine", {"assignee": "unit1"}, "assignee"),  # only for 全部
    ("f", "done", {"colour": "red"}, "colour"),
    ("f", "mine", {"sort": "sideways"}, "sort"),
    ("f", "mine", {"page": "2"}, "page"),  # not a filter: refused rather than kept
    ("f", "all", {"unit": "99999"}, "unit"),  # no such organisation
    ("f", "all", {"assignee": "nobody"}, "assignee"),
])
def test_a_filter_is_checked_like_the_queue_checks_it(factory: sessionmaker[Session], ctx: EngineContext,
                                                      demo: Demo, name: str, queue: str, params: dict[str, object],
                                                      parameter: str) -> None:
    with pytest.raises(InvalidInput) as raised:
        save(factory, ctx, demo, "office1", name, queue, params)
    assert raised.value.details["parameter"] == parameter
    assert events(factory) == []


def test_only_oversight_roles_may_keep_filters_on_all(factory: sessionmaker[Session], ctx: EngineContext,
                                                      demo: Demo) -> None:
    with pytest.raises(NotPermitted):
        save(factory, ctx, demo, "unit1", "全部", "all", {})
    save(factory, ctx, demo, "leader1", "全部", "all", {})


def test_at_most_fifty_each(factory: sessionmaker[Session], ctx: EngineContext, demo: Demo) -> None:
    for n in range(saved_filters.MAX_PER_USER):
        save(factory, ctx, demo, "unit1", f"筛选 {n}", "mine", {})
    with pytest.raises(InvalidInput):
        save(factory, ctx, demo, "unit1", "再来一个", "mine", {})
    save(factory, ctx, demo, "unit1", "筛选 0", "mine", {"process": "rectification"}, replace=True)
