"""Who sees which case, from both sides: clues never reach the inspected units nor the other
receiving body, rectification items stay with their unit, and every clue read is on the record."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from sqlalchemy.orm import Session, sessionmaker

from engine.context import EngineContext
from engine.demo import Demo
from tests.helpers import add_user, clue_of, open_clue, open_rectification
from tests.web.helpers import Api, api_for

RECUSED_ID = "110101199001011234"


@dataclass
class Cases:
    clues: dict[str, tuple[int, int]]  # number → (clue id, instance id)
    edu_rectification: int
    health_rectification: int


@pytest.fixture
def api(db_url: str, ctx: EngineContext, demo: Demo, factory: sessionmaker[Session],
        demo_password_hash: str) -> Iterator[Api]:
    add_user(factory, "office3", "OFFICE", [("office", "CITY")], password_hash=demo_password_hash,
             display_name="office3", id_number=RECUSED_ID)
    with api_for(db_url, ctx) as client:
        yield client


@pytest.fixture
def cases(factory: sessionmaker[Session], ctx: EngineContext, demo: Demo) -> Cases:
    instances = {
        "XS-C-001": open_clue(factory, ctx, demo, unit="U-EDU", receiving="JW", number="XS-C-001"),
        "XS-C-002": open_clue(factory, ctx, demo, unit="U-HEALTH", receiving="ZZB", number="XS-C-002"),
        "XS-C-003": open_clue(factory, ctx, demo, unit="U-HOUSING", receiving="JW", number="XS-C-003"),
        "XS-C-004": open_clue(factory, ctx, demo, unit="U-EDU", receiving="ZZB", number="XS-C-004",
                              persons=[{"name": "某某", "id_number": RECUSED_ID}]),
    }
    clues = {number: (clue_of(factory, iid).id, iid) for number, iid in instances.items()}
    edu = open_rectification(factory, ctx, demo, unit="U-EDU", problems=["教育局问题一。", "教育局问题二。"])
    health = open_rectification(factory, ctx, demo, unit="U-HEALTH", problems=["卫健委问题一。"])
    return Cases(clues, edu, health)


def _clue_numbers(api: Api, username: str, query: str = "") -> list[str]:
    return [c["number"] for c in api(username).ok("GET", f"/clues?per_page=100{query}")["items"]]


@pytest.mark.parametrize("username", ["unit1", "unit2"])
def test_inspected_units_never_see_a_clue(api: Api, cases: Cases, username: str) -> None:
    unit = api(username)
    assert unit.ok("GET", "/clues") == {"items": [], "total": 0, "page": 1, "per_page": 20}
    for clue_id, instance_id in cases.clues.values():
        for path in (f"/clues/{clue_id}", f"/instances/{instance_id}", f"/instances/{instance_id}/history"):
            response = unit.get(path)
            assert response.status_code == 404 and response.get_json()["error"]["code"] == "not_found"
    task_id = api("office1").group_task(cases.clues["XS-C-001"][1], "handover")
    assert unit.get(f"/tasks/{task_id}").status_code == 404
    assert unit.post(f"/tasks/{task_id}/claim").status_code == 404


def test_receiving_bodies_see_only_the_clues_handed_to_them(api: Api, cases: Cases) -> None:
    assert _clue_numbers(api, "jw1") == ["XS-C-001", "XS-C-003"]
    assert _clue_numbers(api, "zzb1") == ["XS-C-002", "XS-C-004"]
    zzb_clue, zzb_instance = cases.clues["XS-C-002"]
    assert api("jw1").get(f"/clues/{zzb_clue}").status_code == 404
    assert api("jw1").get(f"/instances/{zzb_instance}").status_code == 404
    assert api("jw1").ok("GET", f"/clues/{cases.clues['XS-C-001'][0]}")["receiving_body"]["code"] == "JW"


def test_oversight_and_inspection_groups_see_their_scope(api: Api, cases: Cases) -> None:
    everything = ["XS-C-001", "XS-C-002", "XS-C-003", "XS-C-004"]
    assert _clue_numbers(api, "office1") == everything
    assert _clue_numbers(api, "leader1") == everything
    assert _clue_numbers(api, "group1") == ["XS-C-001", "XS-C-002", "XS-C-004"]  # team 1 inspected EDU, HEALTH
    for username in ("auditor1", "designer1"):
        assert _clue_numbers(api, username) == []


def test_a_recused_officer_does_not_see_the_clue_naming_them_and_pages_stay_exact(api: Api, cases: Cases) -> None:
    office3 = api("office3")
    assert _clue_numbers(api, "office3") == ["XS-C-001", "XS-C-002", "XS-C-003"]
    assert office3.get(f"/clues/{cases.clues['XS-C-004'][0]}").status_code == 404
    first = office3.ok("GET", "/clues?per_page=2")
    second = office3.ok("GET", "/clues?per_page=2&page=2")
    assert (first["total"], second["total"]) == (3, 3)
    assert [c["number"] for c in first["items"] + second["items"]] == ["XS-C-001", "XS-C-002", "XS-C-003"]
    assert office3.ok("GET", "/clues?per_page=2&page=3")["items"] == []


def test_clue_filters(api: Api, cases: Cases) -> None:
    assert _clue_numbers(api, "office1", "&q=C-003") == ["XS-C-003"]
    assert _clue_numbers(api, "office1", "&status=handing_over") == ["XS-C-001", "XS-C-002", "XS-C-003", "XS-C-004"]
    assert _clue_numbers(api, "office1", "&status=closed") == []
    assert api("office1").get("/clues?status=secret").status_code == 400
    assert api("office1").get("/clues?per_page=101").status_code == 400


def test_every_clue_read_is_in_the_case_history(api: Api, cases: Cases) -> None:
    clue_id, instance_id = cases.clues["XS-C-001"]
    api("jw1").ok("GET", "/clues")
    api("jw1").ok("GET", f"/clues/{clue_id}")
    api("unit1").get(f"/clues/{clue_id}")
    api("group1").ok("GET", f"/clues/{clue_id}")
    views = [(e["actor"], e["payload"]) for e in api("office1").ok("GET", f"/instances/{instance_id}/history")
             if e["type"] == "clue_viewed"]
    assert views == [("jw1", {"clue_id": clue_id, "via": "list"}), ("jw1", {"clue_id": clue_id, "via": "detail"}),
                     ("group1", {"clue_id": clue_id, "via": "detail"})]
    assert api("auditor1").ok("GET", "/audit/verify")["ok"] is True


def _items(api: Api, username: str, query: str = "") -> list[str]:
    return [i["number"] for i in api(username).ok("GET", f"/rectification-items?per_page=100{query}")["items"]]


def test_units_see_their_own_rectification_items_only(api: Api, cases: Cases, demo: Demo) -> None:
    assert _items(api, "unit1") == ["U-EDU-01", "U-EDU-02"]
    assert _items(api, "unit2") == ["U-HEALTH-01"]
    health_item = api("unit2").ok("GET", "/rectification-items")["items"][0]
    assert api("unit1").get(f"/rectification-items/{health_item['id']}").status_code == 404
    assert api("unit1").get(f"/instances/{cases.health_rectification}").status_code == 404
    assert _items(api, "unit1", f"&unit={demo.orgs['U-HEALTH'].id}") == []
    assert api("unit2").ok("GET", f"/rectification-items/{health_item['id']}")["unit"]["code"] == "U-HEALTH"


def test_groups_and_offices_see_the_items_of_their_units(api: Api, cases: Cases, demo: Demo) -> None:
    everything = ["U-EDU-01", "U-EDU-02", "U-HEALTH-01"]
    assert _items(api, "group1") == everything
    assert _items(api, "office1") == everything
    assert _items(api, "office1", f"&unit={demo.orgs['U-EDU'].id}") == ["U-EDU-01", "U-EDU-02"]
    assert _items(api, "office1", "&status=struck_off") == []
    for username in ("jw1", "zzb1"):
        assert _items(api, username) == []
    assert api("office1").get("/rectification-items?unit=EDU").status_code == 400


def test_audit_verification_is_for_auditors_and_the_office(api: Api, cases: Cases) -> None:
    result = api("auditor1").ok("GET", "/audit/verify")
    assert result["ok"] is True and result["checked"] > 0 and result["first_broken"] is None
    assert api("office1").ok("GET", "/audit/verify")["ok"] is True
    response = api("unit1").get("/audit/verify")
    assert response.status_code == 403 and response.get_json()["error"]["code"] == "not_permitted"
