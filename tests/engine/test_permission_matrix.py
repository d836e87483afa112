"""engine.permissions.MATRIX, the one statement of who may do what, checked against DOMAIN.md's rules
written out here by hand: every demo account (and a county office) against every role-decided action,
both sides; unknown actions and anonymous callers are refused (fail closed); the county office is kept
out of what spans all counties; and the SQL pre-filter of listings agrees with the row rule."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker

from engine import ledgers
from engine.context import EngineContext
from engine.demo import Demo
from engine.errors import NotPermitted
from engine.permissions import MATRIX, allows, allows_on_case, allows_over_any, require, scopes
from models import ProcessInstance, RectificationItem
from tests.helpers import open_clue, open_rectification

ACCOUNTS = ["office1", "group1", "jw1", "zzb1", "unit1", "unit2", "unitlead1", "leader1", "designer1", "auditor1",
            "county1"]
EVERYONE = set(ACCOUNTS)
COUNTY_OFFICES = {"county1"}
# DOMAIN.md and the issue: who may take each action that depends on the role alone.
EXPECTED: dict[tuple[str, str], set[str]] = {
    ("definition", "read"): EVERYONE,
    ("definition", "deploy"): {"designer1"},
    ("definition", "release"): {"designer1"},
    ("definition", "migrate"): {"designer1"},
    ("form", "edit"): {"designer1"},
    ("audit", "read"): {"auditor1", "office1"},
    ("audit", "verify"): {"auditor1", "office1"},
    ("audit", "export"): {"auditor1", "office1"},
    ("calendar", "read"): EVERYONE,
    ("calendar", "edit"): {"office1"},
    ("dashboard", "read"): {"office1", "leader1"} | COUNTY_OFFICES,
    ("report", "read"): {"office1", "leader1"} | COUNTY_OFFICES,
    ("report", "generate"): {"office1"} | COUNTY_OFFICES,
    ("promotion_check", "run"): {"zzb1", "office1"} | COUNTY_OFFICES,
    ("notification", "read"): EVERYONE,
    ("task", "see_all"): {"office1", "leader1"} | COUNTY_OFFICES,
    # Held anywhere: the scoped rows below say over which organisation.
    ("plan", "read"): {"office1", "leader1"} | COUNTY_OFFICES,
    ("plan", "edit"): {"office1"} | COUNTY_OFFICES,
    ("publication", "read"): {"office1", "leader1"} | COUNTY_OFFICES,
    ("publication", "publish"): {"office1"} | COUNTY_OFFICES,
    ("intake", "read"): {"office1", "leader1", "group1"} | COUNTY_OFFICES,
    ("intake", "record"): {"office1", "group1"} | COUNTY_OFFICES,
    ("ledger", "read"): {"office1", "leader1", "group1", "unit1", "unit2", "unitlead1"} | COUNTY_OFFICES,
    ("ledger", "reconcile"): {"office1", "group1", "unit1", "unit2"} | COUNTY_OFFICES,
}


@pytest.mark.parametrize("action", sorted(EXPECTED), ids=lambda a: f"{a[0]}.{a[1]}")
def test_each_role_decided_action_allows_exactly_the_expected_accounts(demo: Demo, action: tuple[str, str]) -> None:
    allowed = {u for u in ACCOUNTS if allows(demo.actor(u), *action)}
    assert allowed == EXPECTED[action]
    for username in EVERYONE - EXPECTED[action]:
        with pytest.raises(NotPermitted) as refused:
            require(demo.actor(username), *action)
        assert refused.value.status == 403 and refused.value.details["resource"] == action[0]


def test_the_matrix_states_every_action_the_expectations_name_and_fails_closed(demo: Demo) -> None:
    assert set(EXPECTED) <= set(MATRIX)
    office = demo.actor("office1")
    assert not allows(office, "audit", "delete") and not allows(office, "nonsense", "read")
    assert not allows(None, "definition", "read")
    with pytest.raises(NotPermitted):
        require(office, "audit", "rewrite")


def test_scoped_rules_need_the_role_over_the_rows_organisation(demo: Demo) -> None:
    county, office = demo.actor("county1"), demo.actor("office1")
    county_a, county_b = demo.orgs["COUNTY-A"].path, demo.orgs["COUNTY-B"].path
    assert allows(county, "plan", "edit", county_a) and not allows(county, "plan", "edit", county_b)
    assert allows(office, "plan", "edit", county_b)
    assert allows(demo.actor("leader1"), "plan", "read", county_b)
    assert not allows(demo.actor("leader1"), "plan", "edit", county_b)


def test_a_unit_leader_finds_their_units_items_in_listings_as_on_the_item_itself(
        factory: sessionmaker[Session], ctx: EngineContext, demo: Demo) -> None:
    edu = open_rectification(factory, ctx, demo, unit="U-EDU", problems=["教育局问题。"])
    open_rectification(factory, ctx, demo, unit="U-HEALTH", problems=["卫健委问题。"])
    open_clue(factory, ctx, demo, unit="U-EDU")
    with factory() as session:
        def listed(username: str, kind: str = "rectification") -> list[int]:
            entity = RectificationItem if kind == "rectification" else ProcessInstance
            page = ledgers.visible_page(session, demo.actor(username), entity, kind, [], [entity.id], 1, 100)
            return [row.instance_id if isinstance(row, RectificationItem) else row.id for row in page.items]

        assert listed("unitlead1") == [edu]
        assert listed("unit1") == [edu]
        assert listed("unitlead1", "clue") == [] and listed("unit1", "clue") == []
        assert len(listed("office1")) == 2 and listed("jw1") == []


def test_an_inspection_is_the_round_offices_and_the_visiting_groups(demo: Demo) -> None:
    """Intake rows belong to two organisations: the round's (city) and the team's that visited the unit."""
    city, team1, team2 = (demo.orgs[code].path for code in ("CITY", "TEAM1", "TEAM2"))
    visited_by_team1, visited_by_team2 = (city, team1), (city, team2)
    group1 = demo.actor("group1")
    assert allows_over_any(group1, "intake", "record", visited_by_team1)
    assert not allows_over_any(group1, "intake", "read", visited_by_team2)
    assert allows_over_any(demo.actor("leader1"), "intake", "read", visited_by_team2)
    assert not allows_over_any(demo.actor("leader1"), "intake", "record", visited_by_team2)
    assert not allows_over_any(demo.actor("county1"), "intake", "read", visited_by_team1)
    assert not allows_over_any(demo.actor("unit1"), "intake", "read", visited_by_team1)


def test_actions_on_a_case_need_the_role_over_the_cases_organisation_for_that_role(
        factory: sessionmaker[Session], ctx: EngineContext, demo: Demo) -> None:
    """A 教育局 rectification: its unit reports progress, the office and the group review and add lines, only
    the city office suspends it or starts a 回头看; 卫健委's liaison and the county office do none of it."""
    edu = open_rectification(factory, ctx, demo, unit="U-EDU", problems=["教育局问题。"])
    expected = {
        ("rectification_item", "report_progress"): {"unit1", "unitlead1"},
        ("rectification_item", "review"): {"office1", "group1"},
        ("rectification_item", "add"): {"office1", "group1"},
        ("case", "suspend"): {"office1"},
        ("case", "revisit"): {"office1"},
    }
    with factory() as session:
        instance = session.get(ProcessInstance, edu)
        assert instance is not None
        for action, users in expected.items():
            assert {u for u in ACCOUNTS if allows_on_case(demo.actor(u), *action, instance)} == users, action


def test_scopes_are_where_each_granting_role_holds_and_root_rules_only_over_the_root(demo: Demo) -> None:
    city, county_a = demo.orgs["CITY"].path, demo.orgs["COUNTY-A"].path
    assert scopes(demo.actor("county1"), "dashboard", "read") == [county_a]
    assert scopes(demo.actor("office1"), "audit", "read") == [city]
    assert scopes(demo.actor("county1"), "audit", "read") == []  # an office, but not over the root
    assert scopes(demo.actor("unit1"), "task", "see_all") == []
    assert scopes(demo.actor("office1"), "no_such", "thing") == []
    assert allows(demo.actor("county1"), "publication", "publish", county_a)
    assert not allows(demo.actor("county1"), "publication", "publish", city)
    assert not allows(demo.actor("leader1"), "publication", "publish", county_a)


def test_docs_security_prints_a_row_for_every_action_in_the_matrix() -> None:
    """docs/security.md's table is written by hand; an action added to MATRIX without a row there fails here."""
    text = (Path(__file__).parents[2] / "docs" / "security.md").read_text(encoding="utf-8")
    table = text.split("| Resource, action |", 1)[1].split("\n\n", 1)[0]
    cells = [line.split("|")[1] for line in table.splitlines() if line.startswith("| ")]
    missing = [(resource, action) for resource, action in MATRIX
               if not any(resource.replace("_", " ") in cell and action.replace("_", " ") in cell for cell in cells)]
    assert missing == []
