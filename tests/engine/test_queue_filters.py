"""Queue filters (engine.queues.TaskFilter): every filter keeps the tasks it names and drops the others;
回避 and the permission filters still apply; 全部 is for the office and the leading group only.

Three cases, one open task each, looked at on Thursday 2026-12-03 09:00:
- A: rectification of 市教育局 (city round), opened Wed 11-25; 反馈 claimed by unit1, due Wed 12-02 → red;
- C: clue XS-2026-077 at 市卫健委 → 组织部 (city round), opened Mon 11-30 and handed over at once; 签收
  due Thu 12-03 → yellow;
- B: rectification of 某县城关镇 (county round), opened Wed 12-02; 反馈 unclaimed, due Wed 12-09 → green.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from engine import queues, runtime
from engine.actors import Actor
from engine.clock import FrozenClock
from engine.context import EngineContext
from engine.db import transaction
from engine.deadlines import colour
from engine.demo import Demo
from engine.errors import InvalidInput, NotPermitted
from engine.queues import TaskFilter
from models import HumanTask, Inspection, Round, TaskStatus, TermPlan
from tests.conftest import START
from tests.helpers import act, add_user, open_clue, open_rectification, ready_task

NOW = datetime(2026, 12, 3, 9, 0, tzinfo=ZoneInfo("Asia/Shanghai"))


@dataclass
class Cases:
    a: int  # open task ids
    b: int
    c: int
    handover: int  # C's completed 移交
    city_round: int
    county_round: int
    recused: list[Actor]  # named as persons concerned in C (回避), in the office and at 组织部


@pytest.fixture
def cases(factory: sessionmaker[Session], ctx: EngineContext, clock: FrozenClock, demo: Demo) -> Cases:
    with transaction(factory) as s:
        plan = s.execute(select(TermPlan).where(TermPlan.org_id == demo.orgs["CITY"].id)).scalar_one()
        city_round = demo.inspections["U-EDU"].round_id  # the demo's current round (the rest are archived)
        county_round = Round(plan_id=plan.id, org_id=demo.orgs["COUNTY-A"].id, year=2026, number=2,
                             name="2026年某县第二轮巡察", stage="整改")
        s.add(county_round)
        s.flush()
        inspection = Inspection(round_id=county_round.id, unit_id=demo.orgs["COUNTY-A-TOWN"].id,
                                team_id=demo.orgs["TEAM2"].id, feedback_on=date(2026, 11, 20))
        s.add(inspection)
        s.flush()
        demo.inspections["COUNTY-A-TOWN"] = inspection
        county_round_id = county_round.id
    a = open_rectification(factory, ctx, demo, unit="U-EDU", problems=1)
    a_task = ready_task(factory, a, "receive_feedback").id
    with transaction(factory) as s:
        runtime.claim_task(s, ctx, demo.actor("unit1"), a_task)
    recused = [add_user(factory, "office-recused", "OFFICE", [("office", "CITY")], id_number="110101197001011234"),
               add_user(factory, "zzb-recused", "ZZB", [("receiving_body", "ZZB")], id_number="110101198002022345")]
    clock.set(START + timedelta(days=5))
    c = open_clue(factory, ctx, demo, unit="U-HEALTH", receiving="ZZB", number="XS-2026-077",
                  persons=[{"name": "当事人甲", "id_number": "110101197001011234"},
                           {"name": "当事人乙", "id_number": "110101198002022345"}])
    handover = ready_task(factory, c, "handover").id
    act(factory, ctx, "office1", c, "handover", {"handover_list": "线索材料 1 份"})
    clock.set(START + timedelta(days=7))
    b = open_rectification(factory, ctx, demo, unit="COUNTY-A-TOWN", problems=1)
    return Cases(a_task, ready_task(factory, b, "receive_feedback").id, ready_task(factory, c, "acknowledge").id,
                 handover, city_round, county_round_id, recused)


def ids(session: Session, actor: Actor, queue: str = "all", sort: str = "due", **args: str) -> list[int]:
    page = queues.list_tasks(session, actor, queue, filters=TaskFilter.from_args(args), sort=sort, now=NOW,
                             per_page=100)
    assert page.total == len(page.items)
    return [t.id for t in page.items]


def test_the_fixture_is_what_the_docstring_says(session: Session, cases: Cases, demo: Demo) -> None:
    rows = {t.id: t for t in session.execute(select(HumanTask)).scalars()}
    assert {i: rows[i].status for i in (cases.a, cases.b, cases.c, cases.handover)} == {
        cases.a: "ready", cases.b: "ready", cases.c: "ready", cases.handover: "completed"}
    assert rows[cases.a].assignee_id == demo.users["unit1"].id and rows[cases.b].assignee_id is None
    assert [colour(rows[i].due_at, NOW) for i in (cases.a, cases.c, cases.b)] == ["red", "yellow", "green"]


def test_all_lists_open_tasks_by_deadline_and_each_sort_orders_them(session: Session, cases: Cases,
                                                                    demo: Demo) -> None:
    office = demo.actor("office1")
    assert ids(session, office) == [cases.a, cases.c, cases.b]
    assert ids(session, office, sort="-due") == [cases.b, cases.c, cases.a]
    assert ids(session, office, sort="created") == [cases.a, cases.c, cases.b]
    assert ids(session, office, sort="-created") == [cases.b, cases.c, cases.a]
    assert ids(session, office, sort="priority") == [cases.c, cases.a, cases.b]  # clues first, then by deadline


@pytest.mark.parametrize(("args", "expected"), [
    ({"process": "clue_disposition"}, "c"),
    ({"process": "rectification"}, "ab"),
    ({"task": "acknowledge"}, "c"),
    ({"task": "反馈"}, "ab"),
    ({"round": "county"}, "b"),
    ({"round": "city"}, "ac"),
    ({"colour": "red"}, "a"),
    ({"colour": "yellow"}, "c"),
    ({"colour": "green"}, "b"),
    ({"assignee": "unit1"}, "a"),
    ({"assignee": "unassigned"}, "cb"),
    ({"created_from": "2026-11-30"}, "cb"),
    ({"created_to": "2026-11-30"}, "ac"),
    ({"created_from": "2026-12-01", "created_to": "2026-12-01"}, ""),
    ({"due_to": "2026-12-03"}, "ac"),
    ({"due_from": "2026-12-04"}, "b"),
    ({"due_from": "2026-12-02", "due_to": "2026-12-02"}, "a"),
    ({"q": "XS-2026-077"}, "c"),
    ({"q": "xs-2026"}, "c"),
    ({"q": "教育局"}, "a"),
    ({"q": "反馈"}, ""),  # a task name: the search is on case number and title only
    ({"q": "%"}, ""),  # taken literally
    ({"process": "rectification", "colour": "green"}, "b"),
])
def test_each_filter_keeps_what_it_names_and_drops_the_rest(session: Session, cases: Cases, demo: Demo,
                                                             args: dict[str, str], expected: str) -> None:
    rounds = {"city": str(cases.city_round), "county": str(cases.county_round)}
    args = {k: rounds.get(v, v) if k == "round" else v for k, v in args.items()}
    by_letter = {"a": cases.a, "b": cases.b, "c": cases.c}
    assert ids(session, demo.actor("office1"), **args) == [by_letter[x] for x in expected]


def test_unit_and_county_by_id_or_path(session: Session, cases: Cases, demo: Demo) -> None:
    office, orgs = demo.actor("office1"), demo.orgs
    assert ids(session, office, unit=str(orgs["U-EDU"].id)) == [cases.a]
    assert ids(session, office, unit=orgs["COUNTY-A-TOWN"].path) == [cases.b]
    assert ids(session, office, unit=str(orgs["COUNTY-A"].id)) == []  # a county is not an inspected unit
    assert ids(session, office, county=str(orgs["COUNTY-A"].id)) == [cases.b]
    assert ids(session, office, county=orgs["COUNTY-A"].path) == [cases.b]
    assert ids(session, office, county=str(orgs["U-EDU"].id)) == [cases.a]
    with pytest.raises(InvalidInput) as raised:
        ids(session, office, unit="99999")
    assert raised.value.details["parameter"] == "unit"


def test_status_shows_history_in_all(session: Session, cases: Cases, demo: Demo) -> None:
    office = demo.actor("office1")
    assert ids(session, office, status="completed") == [cases.handover]
    assert ids(session, office, status="completed", q="XS-2026-077") == [cases.handover]
    assert ids(session, office, status="ready") == ids(session, office)
    assert ids(session, office, status="cancelled") == []


def test_filters_narrow_the_personal_queues_too(session: Session, cases: Cases, demo: Demo) -> None:
    unit1, office, zzb = demo.actor("unit1"), demo.actor("office1"), demo.actor("zzb1")
    assert ids(session, unit1, "mine") == [cases.a]
    assert ids(session, unit1, "mine", process="rectification", colour="red") == [cases.a]
    assert ids(session, unit1, "mine", process="clue_disposition") == []
    assert ids(session, unit1, "mine", colour="green") == []
    assert ids(session, zzb, "group") == [cases.c]
    assert ids(session, zzb, "group", colour="yellow", q="XS-2026-077") == [cases.c]
    assert ids(session, zzb, "group", colour="red") == []
    assert ids(session, office, "done") == [cases.handover]
    assert ids(session, office, "done", process="clue_disposition", created_from="2026-11-30") == [cases.handover]
    assert ids(session, office, "done", process="rectification") == []


def test_filters_that_mean_nothing_for_a_queue_are_refused(session: Session, cases: Cases, demo: Demo) -> None:
    for queue, args in (("mine", {"assignee": "unit1"}), ("group", {"assignee": "unassigned"}),
                        ("done", {"colour": "red"})):
        with pytest.raises(InvalidInput) as raised:
            ids(session, demo.actor("office1"), queue, **args)
        assert raised.value.details["parameter"] == next(iter(args))


def test_recusal_still_hides_a_case_whatever_the_filters(factory: sessionmaker[Session], session: Session,
                                                         cases: Cases, demo: Demo) -> None:
    office, handler = cases.recused
    colleague = add_user(factory, "office-2", "OFFICE", [("office", "CITY")])
    for args in ({}, {"q": "XS-2026-077"}, {"colour": "yellow"}, {"process": "clue_disposition"},
                 {"task": "acknowledge"}, {"status": "completed"}):
        shown = ids(session, office, **args)
        assert cases.c not in shown and cases.handover not in shown, args
    assert ids(session, office) == [cases.a, cases.b]
    assert ids(session, colleague, q="XS-2026-077") == [cases.c]
    assert ids(session, handler, "group") == ids(session, handler, "group", q="XS-2026-077") == []
    assert ids(session, demo.actor("zzb1"), "group", q="XS-2026-077") == [cases.c]
    assert queues.queue_counts(session, handler) == {"mine": 0, "group": 0}
    assert queues.queue_counts(session, demo.actor("zzb1")) == {"mine": 0, "group": 1}
    options = queues.filter_options(session, EngineContext.default().forms, handler, "group")
    assert options.processes == [] and options.units == []


def test_only_oversight_roles_may_use_all_and_a_county_office_sees_its_county(
        factory: sessionmaker[Session], session: Session, cases: Cases, demo: Demo) -> None:
    for username in ("unit1", "group1", "jw1", "designer1"):
        with pytest.raises(NotPermitted):
            ids(session, demo.actor(username))
        with pytest.raises(NotPermitted):
            queues.filter_options(session, EngineContext.default().forms, demo.actor(username), "all")
    assert ids(session, demo.actor("leader1")) == [cases.a, cases.c, cases.b]
    county_office = add_user(factory, "county-office", "COUNTY-A-OFFICE", [("office", "COUNTY-A")])
    assert ids(session, county_office) == [cases.b]
    assert ids(session, county_office, unit=str(demo.orgs["U-EDU"].id)) == []


@pytest.mark.parametrize(("args", "parameter"), [
    ({"round": "abc"}, "round"), ({"round": "0"}, "round"), ({"unit": "教育局"}, "unit"),
    ({"county": "/1/x/"}, "county"), ({"status": "open"}, "status"), ({"colour": "purple"}, "colour"),
    ({"created_from": "2026-13-01"}, "created_from"), ({"due_to": "3 Dec"}, "due_to"),
    ({"created_from": "2026-12-02", "created_to": "2026-12-01"}, "created_from"),
    ({"colour": "red", "status": "completed"}, "colour"), ({"q": "字" * 101}, "q"),
])
def test_nonsense_parameters_are_refused_naming_the_parameter(args: dict[str, str], parameter: str) -> None:
    with pytest.raises(InvalidInput) as raised:
        TaskFilter.from_args(args)
    error = raised.value
    assert error.details["parameter"] == parameter
    assert parameter in error.message_zh and parameter in error.message_en


def test_unknown_assignee_and_sort_are_refused(session: Session, cases: Cases, demo: Demo) -> None:
    with pytest.raises(InvalidInput) as raised:
        ids(session, demo.actor("office1"), assignee="nobody")
    assert raised.value.details["parameter"] == "assignee"
    with pytest.raises(InvalidInput) as raised:
        ids(session, demo.actor("office1"), sort="sideways")
    assert raised.value.details["parameter"] == "sort"


def test_a_filter_survives_its_own_parameters() -> None:
    args = {"process": "rectification", "task": "反馈", "unit": "/1/8/", "round": "3", "county": "12",
            "status": "ready", "colour": "red", "assignee": "unassigned", "created_from": "2026-11-01",
            "created_to": "2026-11-30", "due_from": "2026-12-01", "due_to": "2026-12-31", "q": "XS-2026"}
    found = TaskFilter.from_args({**args, "queue": "all", "page": "2", "sort": "due"})
    assert found.as_args() == args
    assert TaskFilter.from_args(found.as_args()) == found
    assert TaskFilter.from_args({"q": "  ", "unit": ""}).is_empty()


def test_nav_counts_agree_with_the_queues(session: Session, cases: Cases, demo: Demo) -> None:
    for username in ("office1", "unit1", "zzb1"):
        actor = demo.actor(username)
        assert queues.queue_counts(session, actor) == {
            queue: queues.list_tasks(session, actor, queue).total for queue in ("mine", "group")}
    assert queues.queue_counts(session, demo.actor("unit1")) == {"mine": 1, "group": 0}
    # Counted up to cap + 1 (the navigation shows "999+"): more than none is all that cap=0 says.
    assert queues.queue_counts(session, demo.actor("zzb1"), cap=0) == {"mine": 0, "group": 1}
    assert queues.queue_counts(session, demo.actor("zzb1"), cap=5) == {"mine": 0, "group": 1}


def test_filter_choices_are_only_what_the_actor_may_see(factory: sessionmaker[Session], session: Session,
                                                        cases: Cases, demo: Demo, ctx: EngineContext) -> None:
    office = queues.filter_options(session, ctx.forms, demo.actor("office1"), "all")
    assert {"U-EDU", "U-HEALTH", "COUNTY-A-TOWN"} <= {code_of(demo, v) for v, _ in office.units}
    assert [code_of(demo, v) for v, _ in office.counties] == ["COUNTY-A", "COUNTY-B"]
    assert {cases.city_round, cases.county_round} <= {int(v) for v, _ in office.rounds}
    assert {"clue_disposition", "rectification"} <= {v for v, _ in office.processes}
    assert ("acknowledge", "问题线索处置 · 签收") in office.tasks
    assert {"office1", "unit1", "unassigned"} <= {v for v, _ in office.assignees}

    mine = queues.filter_options(session, ctx.forms, demo.actor("unit1"), "mine")
    assert [code_of(demo, v) for v, _ in mine.units] == ["U-EDU"]
    assert mine.counties == [] and mine.assignees == []
    assert [int(v) for v, _ in mine.rounds] == [cases.city_round]
    assert [v for v, _ in mine.processes] == ["rectification"]

    county_office = add_user(factory, "county-office", "COUNTY-A-OFFICE", [("office", "COUNTY-A")])
    county = queues.filter_options(session, ctx.forms, county_office, "all")
    assert {code_of(demo, v)[:9] for v, _ in county.units} == {"COUNTY-A-"}  # its own units only
    assert "COUNTY-A-TOWN" in {code_of(demo, v) for v, _ in county.units}
    assert cases.county_round in {int(v) for v, _ in county.rounds}
    assert cases.city_round not in {int(v) for v, _ in county.rounds}
    assert "office1" not in {v for v, _ in county.assignees}


def code_of(demo: Demo, org_id: str) -> str:
    return next(code for code, org in demo.orgs.items() if org.id == int(org_id))


def test_status_literal_lets_the_partial_indexes_apply(session: Session) -> None:
    """The open-task indexes are partial (WHERE status = 'ready'); a bound parameter would hide that."""
    sql = str(queues.status_is(TaskStatus.READY).compile(session.get_bind(),
                                                         compile_kwargs={"render_postcompile": True}))
    assert sql.endswith("= 'ready'")
