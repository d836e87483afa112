"""The term plan: rounds (validated, stages forward only, audited), inspections of units within a round
(一托N, one round at a time per unit), the coverage matrix with its pace warning, and counties — each office
sees and changes only its own plan, the city office also its counties'."""

from __future__ import annotations

import json
from collections import Counter

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from engine import coverage, planning
from engine.context import EngineContext
from engine.db import transaction
from engine.demo import Demo
from engine.errors import Conflict, InvalidInput, NotFound, NotPermitted
from models import AuditEvent, Organisation, OrgKind, Round, TermPlan, TermPlanUnit
from tests.helpers import PLAN_ROW, act, add_user, open_rectification


def plan_id(session: Session, org_code: str) -> int:
    org = session.execute(select(Organisation).where(Organisation.code == org_code)).scalar_one()
    return session.execute(select(TermPlan.id).where(TermPlan.org_id == org.id)).scalar_one()


def events(session: Session, event_type: str) -> list[dict[str, object]]:
    rows = session.execute(select(AuditEvent).where(AuditEvent.event_type == event_type)
                           .order_by(AuditEvent.id)).scalars()
    return [{"actor": r.actor_name, **json.loads(r.payload)} for r in rows]


def test_demo_term_plan_covers_96_city_units_in_the_six_categories(session: Session, demo: Demo) -> None:
    city_plan = plan_id(session, "CITY")
    sectors = Counter(session.execute(select(Organisation.sector).join(
        TermPlanUnit, TermPlanUnit.unit_id == Organisation.id).where(TermPlanUnit.plan_id == city_plan)).scalars())
    assert sectors == {"市委工作部门": 10, "人大政协": 2, "市政府组成部门": 39, "法院检察院": 2, "群团": 7,
                       "企事业单位": 36}
    counties = session.execute(select(Organisation).where(Organisation.kind == OrgKind.COUNTY)).scalars().all()
    assert len(counties) >= 2
    for county in counties:
        assert plan_id(session, county.code)
    latest = session.get(Round, demo.inspections["U-EDU"].round_id)
    assert demo.users["county1"] and latest is not None and latest.year == 2026 and latest.number == 1


def test_coverage_counts_inspected_units_and_warns_when_the_pace_cannot_reach_full_coverage(
        session: Session, ctx: EngineContext, demo: Demo) -> None:
    cov = coverage.plan_coverage(session, ctx, demo.actor("office1"), plan_id(session, "CITY"), per_page=200)
    assert cov.units == 96 and cov.years == [2022, 2023, 2024, 2025, 2026]
    assert 0 < cov.covered < 96
    edu = next(r for r in cov.rows if r.unit.code == "U-EDU")
    assert edu.cells == {2026: coverage.DONE} and edu.covered
    assert sum(s.units for s in cov.by_sector) == 96
    assert sum(cov.by_year.values()) == cov.covered
    # remaining units against the remaining year at the past years' average
    assert cov.pace.remaining_units == 96 - cov.covered and cov.pace.remaining_years == 1
    assert cov.pace.average_per_year == round(sum(cov.by_year[y] for y in range(2022, 2026)) / 4, 1)
    assert cov.pace.behind
    uncovered = coverage.plan_coverage(session, ctx, demo.actor("office1"), plan_id(session, "CITY"),
                                       status="uncovered", sector="群团", per_page=200)
    assert uncovered.rows and all(not r.covered and r.unit.sector == "群团" for r in uncovered.rows)
    page2 = coverage.plan_coverage(session, ctx, demo.actor("office1"), plan_id(session, "CITY"), page=2, per_page=25)
    assert len(page2.rows) == 25 and page2.pages == 4 and page2.total == 96


@pytest.mark.parametrize(("remaining", "done", "capacity", "behind"), [
    (40, {2022: 20, 2023: 20, 2024: 20}, 40, False),  # two years left (2025 included) at 20 a year: enough
    (41, {2022: 20, 2023: 20, 2024: 20}, 40, True),
    (35, {2022: 20, 2023: 20, 2024: 20, 2025: 5}, 35, False),  # 2025 is running: its 5 are spent
    (36, {2022: 20, 2023: 20, 2024: 20, 2025: 5}, 35, True),
])
def test_pace_compares_remaining_units_with_remaining_years_at_the_average(
        remaining: int, done: dict[int, int], capacity: int, behind: bool) -> None:
    pace = coverage.pace_of(2022, 2026, 2025, remaining, done)
    assert pace.average_per_year == 20 and pace.remaining_years == 2
    assert pace.capacity == capacity and pace.behind is behind


def test_office_plans_a_round_with_two_units_and_one_group_and_it_is_audited(
        factory: sessionmaker[Session], ctx: EngineContext, demo: Demo, session: Session) -> None:
    office = demo.actor("office1")
    with transaction(factory) as s:
        pid = plan_id(s, "CITY")
        round_ = planning.create_round(s, ctx, office, pid, {
            "year": 2026, "kind": "专项", "method": "一托N", "starts_on": "2026-12-01", "ends_on": "2026-12-25"})
        units = [demo.orgs["U-PW01"].id, demo.orgs["U-PW02"].id]
        for unit_id in units:
            planning.add_inspection(s, ctx, office, round_.id, unit_id=unit_id, team_id=demo.orgs["TEAM2"].id,
                                    contacts={"contact_phone": "0000-7654321"})
        round_id = round_.id
    stored = session.get(Round, round_id)
    assert stored is not None and stored.number == 2 and stored.name == "2026年第2轮专项巡察"
    assert stored.stage == "准备" and {i.unit_id for i in stored.inspections} == set(units)
    assert {i.team_id for i in stored.inspections} == {demo.orgs["TEAM2"].id}
    created = events(session, "round_created")
    assert created[-1]["actor"] == "office1" and created[-1]["kind"] == "专项"
    assert len(events(session, "inspection_added")) == 2
    cov = coverage.plan_coverage(session, ctx, office, plan_id(session, "CITY"), q="市委办公室")
    assert cov.rows[0].cells[2026] == coverage.SCHEDULED  # the round has not begun on 2026-11-25


@pytest.mark.parametrize(("values", "field"), [
    ({"year": 2030}, "year"), ({"year": 2026, "kind": "巡视"}, "kind"), ({"year": 2026, "method": "随机"}, "method"),
    ({"year": 2026, "starts_on": "2026-13-01"}, "starts_on"), ({"year": 2026, "name": " "}, "name"),
])
def test_round_fields_are_validated(factory: sessionmaker[Session], ctx: EngineContext, demo: Demo,
                                    values: dict[str, object], field: str) -> None:
    with transaction(factory) as s, pytest.raises(InvalidInput) as caught:
        planning.create_round(s, ctx, demo.actor("office1"), plan_id(s, "CITY"), values)
    assert field in caught.value.details["fields"]


def test_round_dates_must_be_in_order_and_in_its_year_and_numbers_unique(
        factory: sessionmaker[Session], ctx: EngineContext, demo: Demo) -> None:
    office = demo.actor("office1")
    with transaction(factory) as s:
        pid = plan_id(s, "CITY")
        with pytest.raises(InvalidInput):
            planning.create_round(s, ctx, office, pid, {"year": 2026, "starts_on": "2026-12-10",
                                                        "ends_on": "2026-12-01"})
        with pytest.raises(InvalidInput):
            planning.create_round(s, ctx, office, pid, {"year": 2026, "starts_on": "2025-12-10"})
        with pytest.raises(Conflict):
            planning.create_round(s, ctx, office, pid, {"year": 2026, "number": 1})


def test_stage_moves_forward_only(factory: sessionmaker[Session], ctx: EngineContext, demo: Demo,
                                  session: Session) -> None:
    office = demo.actor("office1")
    with transaction(factory) as s:
        round_id = planning.create_round(s, ctx, office, plan_id(s, "CITY"), {"year": 2026}).id
    with transaction(factory) as s:
        planning.update_round(s, ctx, office, round_id, {"stage": "进驻"})
        planning.update_round(s, ctx, office, round_id, {"stage": "反馈"})
    with transaction(factory) as s, pytest.raises(Conflict):
        planning.update_round(s, ctx, office, round_id, {"stage": "进驻"})
    with transaction(factory) as s, pytest.raises(InvalidInput):
        planning.update_round(s, ctx, office, round_id, {"stage": "结束"})
    assert session.get(Round, round_id).stage == "反馈"  # type: ignore[union-attr]
    changes = [e["changes"] for e in events(session, "round_updated")]
    assert changes == [{"stage": ["准备", "进驻"]}, {"stage": ["进驻", "反馈"]}]


def test_a_unit_cannot_be_in_two_rounds_at_once(factory: sessionmaker[Session], ctx: EngineContext,
                                                demo: Demo) -> None:
    office = demo.actor("office1")
    with transaction(factory) as s:
        pid = plan_id(s, "CITY")
        first = planning.create_round(s, ctx, office, pid, {"year": 2026, "starts_on": "2026-12-01",
                                                            "ends_on": "2026-12-20"})
        second = planning.create_round(s, ctx, office, pid, {"year": 2026, "starts_on": "2026-12-15",
                                                             "ends_on": "2026-12-30"})
        unit, team = demo.orgs["U-GV01"].id, demo.orgs["TEAM1"].id
        planning.add_inspection(s, ctx, office, first.id, unit_id=unit, team_id=team)
        with pytest.raises(Conflict):
            planning.add_inspection(s, ctx, office, second.id, unit_id=unit, team_id=team)
        with pytest.raises(Conflict):
            planning.add_inspection(s, ctx, office, first.id, unit_id=unit, team_id=team)
        # the demo's round of 2026 (March–May) does not overlap December
        planning.add_inspection(s, ctx, office, first.id, unit_id=demo.orgs["U-EDU"].id, team_id=team)
        with pytest.raises(InvalidInput):  # not a unit of the city's plan
            planning.add_inspection(s, ctx, office, first.id, unit_id=demo.orgs["COUNTY-A-TOWN"].id, team_id=team)
        with pytest.raises(InvalidInput):  # a county's group is not the city's
            planning.add_inspection(s, ctx, office, first.id, unit_id=demo.orgs["U-GV02"].id,
                                    team_id=demo.orgs["COUNTY-A-TEAM1"].id)


def test_units_and_a_county_office_see_and_change_only_their_own_plans(
        factory: sessionmaker[Session], ctx: EngineContext, demo: Demo, session: Session) -> None:
    county1, unit1, leader = demo.actor("county1"), demo.actor("unit1"), demo.actor("leader1")
    city, county_a, county_b = (plan_id(session, c) for c in ("CITY", "COUNTY-A", "COUNTY-B"))
    assert [p.id for p in planning.visible_plans(session, county1)] == [county_a]
    assert planning.visible_plans(session, unit1) == []
    assert {p.id for p in planning.visible_plans(session, demo.actor("office1"))} == {city, county_a, county_b}
    for plan in (city, county_b):
        with pytest.raises(NotFound):
            planning.get_plan(session, county1, plan)
        with pytest.raises(NotFound):
            coverage.plan_coverage(session, ctx, county1, plan)
    with pytest.raises(NotFound):
        planning.rounds_of(session, unit1, city)
    city_round = demo.inspections["U-EDU"].round_id
    with transaction(factory) as s, pytest.raises(NotFound):
        planning.update_round(s, ctx, county1, city_round, {"name": "改名"})
    with transaction(factory) as s, pytest.raises(NotFound):
        planning.create_round(s, ctx, unit1, city, {"year": 2026})
    with transaction(factory) as s, pytest.raises(NotPermitted):  # the leading group reads, does not plan
        planning.create_round(s, ctx, leader, city, {"year": 2026})
    with transaction(factory) as s:
        round_ = planning.create_round(s, ctx, county1, county_a, {"year": 2026, "kind": "延伸", "method": "一托N"})
        town = s.execute(select(TermPlanUnit.unit_id).where(TermPlanUnit.plan_id == county_a)).scalars().first()
        assert town is not None
        planning.add_inspection(s, ctx, county1, round_.id, unit_id=town, team_id=demo.orgs["COUNTY-A-TEAM1"].id)
        assert round_.org_id == demo.orgs["COUNTY-A"].id
    with transaction(factory) as s, pytest.raises(NotFound):  # another county's office
        county2 = add_user(factory, "county-b-office", "COUNTY-B-OFFICE", [("office", "COUNTY-B")])
        planning.update_round(s, ctx, county2, round_.id, {"stage": "进驻"})
    with factory() as s:
        assert planning.get_round(s, demo.actor("office1"), round_.id)  # the city drills down


def test_the_city_sees_every_county_rolled_up_and_a_county_only_itself(
        session: Session, ctx: EngineContext, demo: Demo) -> None:
    city = coverage.county_rollup(session, ctx, demo.actor("office1"))
    assert [f.county.code for f in city] == ["COUNTY-A", "COUNTY-B"]
    a = city[0]
    assert a.units == 8 and 0 < a.covered < a.units and a.rounds == 4 and 0 < a.percent < 100
    assert a.open_items == 0 and a.overdue_items == 0
    assert [f.county.code for f in coverage.county_rollup(session, ctx, demo.actor("county1"))] == ["COUNTY-A"]
    assert coverage.county_rollup(session, ctx, demo.actor("unit1")) == []


def test_inspection_contacts_and_group_can_be_changed_and_are_audited(
        factory: sessionmaker[Session], ctx: EngineContext, demo: Demo, session: Session) -> None:
    inspection_id = demo.inspections["U-EDU"].id
    with transaction(factory) as s:
        planning.update_inspection(s, ctx, demo.actor("office1"), inspection_id,
                                   {"contact_phone": "0000-1111111", "team_id": demo.orgs["TEAM2"].id})
    with transaction(factory) as s, pytest.raises(InvalidInput):
        planning.update_inspection(s, ctx, demo.actor("office1"), inspection_id, {"unit_id": 1})
    with transaction(factory) as s, pytest.raises(NotFound):
        planning.update_inspection(s, ctx, demo.actor("unit1"), inspection_id, {"contact_phone": "x"})
    changes = events(session, "inspection_updated")[-1]["changes"]
    assert changes == {"team_id": [demo.orgs["TEAM1"].id, demo.orgs["TEAM2"].id],
                       "contact_phone": ["0000-12345678", "0000-1111111"]}


def test_county_figures_count_its_open_and_overdue_items_only(
        factory: sessionmaker[Session], ctx: EngineContext, demo: Demo) -> None:
    liaison = add_user(factory, "town-liaison", "COUNTY-A-U02", "unit")
    instance_id = open_rectification(factory, ctx, demo, unit="COUNTY-A-U02", problems=2)
    act(factory, ctx, liaison, instance_id, "receive_feedback", {"feedback_received_on": "2026-11-02"})
    act(factory, ctx, liaison, instance_id, "draft_plan", {
        "plan_summary": "逐项整改。", "pledge_signed": True, "pledge_signer": "镇党委书记",
        "plan_measures": [{"item_number": "COUNTY-A-U02-01", **PLAN_ROW, "due_date": "2026-11-20"},
                          {"item_number": "COUNTY-A-U02-02", **PLAN_ROW}]})
    open_rectification(factory, ctx, demo, unit="U-EDU", problems=3)  # the city's: not the county's figures
    with factory() as s:
        figures = {f.county.code: f for f in coverage.county_rollup(s, ctx, demo.actor("office1"))}
    assert (figures["COUNTY-A"].open_items, figures["COUNTY-A"].overdue_items) == (2, 1)
    assert (figures["COUNTY-B"].open_items, figures["COUNTY-B"].overdue_items) == (0, 0)


def test_an_office_creates_a_plan_for_its_own_units_only(
        factory: sessionmaker[Session], ctx: EngineContext, demo: Demo) -> None:
    county1, office = demo.actor("county1"), demo.actor("office1")
    county_b = add_user(factory, "county-b-planner", "COUNTY-B-OFFICE", [("office", "COUNTY-B")])
    with transaction(factory) as s:
        town = demo.orgs["COUNTY-A-TOWN"].id
        plan = planning.create_plan(s, ctx, county1, org_id=demo.orgs["COUNTY-A"].id, name="某县第十届巡察规划",
                                    start_year=2027, end_year=2031, units=[{"unit_id": town, "planned_year": 2027}])
        assert [(u.unit_id, u.planned_year) for u in plan.units] == [(town, 2027)]
    refused: list[tuple[object, dict[str, object], type[Exception]]] = [
        (county1, {"org_id": demo.orgs["CITY"].id}, NotFound),  # not its office
        (county_b, {}, NotFound),  # another county
        (demo.actor("leader1"), {}, NotPermitted),
        (county1, {"start_year": 2030, "end_year": 2034}, Conflict),  # overlaps the plan just made
        (county1, {"start_year": 2032, "end_year": 2050}, InvalidInput),
        (county1, {"start_year": 2032, "end_year": 2036, "units": [{"unit_id": demo.orgs["U-EDU"].id}]}, InvalidInput),
        (office, {"org_id": demo.orgs["CITY"].id, "start_year": 2027, "end_year": 2031,
                  "units": [{"unit_id": demo.orgs["COUNTY-A-TOWN"].id}]}, InvalidInput),  # a county's unit
    ]
    for actor, changes, error in refused:
        args: dict[str, object] = {"org_id": demo.orgs["COUNTY-A"].id, "name": "规划", "start_year": 2032,
                                   "end_year": 2036, "units": [], **changes}
        with transaction(factory) as s, pytest.raises(error):
            planning.create_plan(s, ctx, actor, **args)  # type: ignore[arg-type]
