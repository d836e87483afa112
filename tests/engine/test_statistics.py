"""The figures behind the dashboard and the reports: scoped to the reader's oversight, one source."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select, update

from engine import coverage, planning, statistics
from engine.db import transaction
from engine.errors import NotPermitted
from models import ItemStatus, RectificationItem
from tests.helpers import PLAN_ROW, add_user, complete_rectification, item_numbers, open_clue, open_rectification

NOT_PUBLISHED = {"publish": False, "exemption_note": "涉及在查案件。"}


def _figures(factory, demo, username, clock, **kwargs):
    with factory() as session:
        actor = demo.actor(username) if isinstance(username, str) else username
        return statistics.figures(session, actor, clock.now(), **kwargs)


def test_rectification_rate_and_overdue_items_by_unit(factory, ctx, demo, clock):
    done = open_rectification(factory, ctx, demo, unit="U-EDU", problems=2)
    complete_rectification(factory, ctx, done, disclosure=NOT_PUBLISHED)
    late = open_rectification(factory, ctx, demo, unit="U-HEALTH", problems=3)
    with transaction(factory) as session:
        session.execute(update(RectificationItem).where(RectificationItem.instance_id == late)
                        .values(due_at=clock.now() - timedelta(days=10)))

    figures = _figures(factory, demo, "office1", clock)

    by_unit = {u.unit_name: u for u in figures.units}
    edu = next(u for name, u in by_unit.items() if "教育" in name)
    health = next(u for name, u in by_unit.items() if "卫" in name)
    assert (edu.total, edu.struck_off, edu.overdue, edu.rate) == (2, 2, 0, 1.0)
    assert (health.total, health.struck_off, health.overdue) == (3, 0, 3)
    assert figures.units[0] is health  # the worst first
    assert figures.items_total == 5 and figures.items_struck_off == 2 and figures.rate == pytest.approx(0.4)
    assert len(figures.overdue_items) == 3
    assert all(i.working_days_overdue > 0 for i in figures.overdue_items)
    assert {i.number for i in figures.overdue_items} == set(item_numbers(factory, late))
    assert figures.by_county()[0][0] == statistics.CITY_LEVEL


def test_completion_series_is_cumulative_and_ends_at_the_totals(factory, ctx, demo, clock):
    instance_id = open_rectification(factory, ctx, demo, problems=2)
    complete_rectification(factory, ctx, instance_id, disclosure=NOT_PUBLISHED)
    open_rectification(factory, ctx, demo, unit="U-HEALTH", problems=1)

    series = _figures(factory, demo, "office1", clock).completion

    assert len(series) == 12
    totals = [t for _m, t, _d in series]
    struck = [d for _m, _t, d in series]
    assert totals == sorted(totals) and struck == sorted(struck)
    assert series[-1] == (clock.now().strftime("%Y-%m"), 3, 2)


def test_clue_figures_count_by_receiving_body_stage_and_four_forms_without_listing_clues(factory, ctx, demo, clock):
    open_clue(factory, ctx, demo, number="XS-S-1", receiving="JW")
    open_clue(factory, ctx, demo, number="XS-S-2", receiving="JW")
    open_clue(factory, ctx, demo, number="XS-S-3", receiving="ZZB")

    clues = _figures(factory, demo, "leader1", clock).clues

    assert clues.total == 3
    assert sorted(clues.by_receiving_body.values()) == [1, 2]
    assert sum(clues.by_stage.values()) == 3
    assert clues.by_four_forms == {statistics.NOT_YET: 3}
    assert "XS-S-1" not in repr(clues)


def test_only_the_office_and_the_leading_group_read_figures(factory, ctx, demo, clock):
    open_rectification(factory, ctx, demo, problems=1)
    for username in ("unit1", "group1", "jw1", "designer1"):
        with pytest.raises(NotPermitted):
            _figures(factory, demo, username, clock)
    assert _figures(factory, demo, "leader1", clock).items_total == 1


def test_a_county_office_sees_its_county_and_not_the_city(factory, ctx, demo, clock):
    open_rectification(factory, ctx, demo, problems=2)
    open_clue(factory, ctx, demo)
    county_office = add_user(factory, "county_stat", "COUNTY-A-OFFICE", [("office", "COUNTY-A")])

    figures = _figures(factory, demo, county_office, clock)

    assert figures.items_total == 0 and figures.clues.total == 0 and figures.overdue_items == []
    assert _figures(factory, demo, "office1", clock).items_total == 2


def test_struck_off_items_are_not_overdue(factory, ctx, demo, clock):
    instance_id = open_rectification(factory, ctx, demo, problems=1)
    complete_rectification(factory, ctx, instance_id, disclosure=NOT_PUBLISHED)
    with transaction(factory) as session:
        session.execute(update(RectificationItem).values(due_at=clock.now() - timedelta(days=30)))
        assert session.execute(select(RectificationItem.status)).scalar_one() == ItemStatus.STRUCK_OFF

    figures = _figures(factory, demo, "office1", clock)

    assert figures.overdue_items == [] and figures.units[0].overdue == 0
    assert PLAN_ROW["responsible_leader"]  # the plan named a leader; struck-off items still are not late


def test_dashboard_coverage_counts_as_the_planning_pages_do(factory, ctx, demo, clock):
    figures = _figures(factory, demo, "office1", clock)
    with factory() as session:
        office = demo.actor("office1")
        matrices = [coverage.plan_coverage(session, ctx, office, plan.id)
                    for plan in planning.visible_plans(session, office) if plan.start_year <= 2026 <= plan.end_year]
    assert figures.units_in_plan == sum(m.units for m in matrices) > 96
    assert sum(y.inspected for y in figures.coverage) == sum(m.covered for m in matrices)
