"""Task actions refuse bad input with a clear error and change nothing: the instance's revision and
history stay as they were."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy.orm import Session, sessionmaker

from engine.context import EngineContext
from engine.demo import Demo
from tests.helpers import add_user, open_clue, open_rectification
from tests.web.helpers import Api, Caller, api_for


@pytest.fixture
def api(db_url: str, ctx: EngineContext, demo: Demo, factory: sessionmaker[Session],
        demo_password_hash: str) -> Iterator[Api]:
    add_user(factory, "office2", "OFFICE", [("office", "CITY")], password_hash=demo_password_hash,
             display_name="office2")
    with api_for(db_url, ctx) as client:
        yield client


@pytest.fixture
def rectification(factory: sessionmaker[Session], ctx: EngineContext, demo: Demo) -> int:
    return open_rectification(factory, ctx, demo, unit="U-EDU", problems=["问题一。", "问题二。"])


def _state(user: Caller, instance_id: int) -> tuple[int, list[int], list[dict[str, Any]]]:
    instance = user.ok("GET", f"/instances/{instance_id}")
    history = user.ok("GET", f"/instances/{instance_id}/history")
    return instance["revision"], [e["seq"] for e in history], instance["ready_tasks"]


def _error(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.get_json()
    error: dict[str, Any] = response.get_json()["error"]
    assert error["code"] == code and error["message"]
    return error


def test_form_data_failing_its_schema_is_422_naming_the_fields(api: Api, rectification: int) -> None:
    unit = api("unit1")
    task_id = unit.group_task(rectification, "receive_feedback")
    unit.ok("POST", f"/tasks/{task_id}/claim")
    before = _state(unit, rectification)
    for data, field in [({"feedback_received_on": "下周一"}, "feedback_received_on"),
                        ({"feedback_meeting_note": "已开会"}, "feedback_received_on"),
                        ({"feedback_received_on": "2026-11-26", "approved": True}, "approved")]:
        error = _error(unit.post(f"/tasks/{task_id}/complete", {"data": data}), 422, "form_invalid")
        assert field in error["details"]["fields"]
        assert error["details"]["fields"][field]["message_en"]
    assert _state(unit, rectification) == before


@pytest.mark.parametrize("body", [None, [], {"data": "text"}, {"data": {}, "revision": "1"}])
def test_malformed_complete_bodies_are_400(api: Api, rectification: int, body: Any) -> None:
    unit = api("unit1")
    task_id = unit.group_task(rectification, "receive_feedback")
    unit.ok("POST", f"/tasks/{task_id}/claim")
    before = _state(unit, rectification)
    _error(unit.post(f"/tasks/{task_id}/complete", body), 400, "invalid_input")
    assert _state(unit, rectification) == before


def test_completing_a_task_not_claimed_by_you_is_409(api: Api, rectification: int) -> None:
    unit, office = api("unit1"), api("office1")
    task_id = unit.group_task(rectification, "receive_feedback")
    before = _state(unit, rectification)
    data = {"data": {"feedback_received_on": "2026-11-26"}}
    _error(unit.post(f"/tasks/{task_id}/complete", data), 409, "task_not_claimed_by_you")
    assert _state(unit, rectification) == before
    unit.ok("POST", f"/tasks/{task_id}/claim")
    before = _state(unit, rectification)
    _error(office.post(f"/tasks/{task_id}/complete", data), 409, "task_not_claimed_by_you")
    assert _state(unit, rectification) == before


def test_second_claimer_gets_409_and_a_non_candidate_403(api: Api, factory: sessionmaker[Session],
                                                         ctx: EngineContext, demo: Demo) -> None:
    instance_id = open_clue(factory, ctx, demo, unit="U-EDU", receiving="JW", number="XS-E-001")
    office1, office2, leader = api("office1"), api("office2"), api("leader1")
    task_id = office1.group_task(instance_id, "handover")
    assert office2.group_task(instance_id, "handover") == task_id
    office1.ok("POST", f"/tasks/{task_id}/claim")
    before = _state(office1, instance_id)
    error = _error(office2.post(f"/tasks/{task_id}/claim"), 409, "task_already_claimed")
    assert error["message"] == "该任务已被他人签收办理。"
    _error(leader.post(f"/tasks/{task_id}/claim"), 403, "not_permitted")
    assert office1.ok("GET", f"/tasks/{task_id}")["assignee"] == "office1"
    assert office2.group_tasks(instance_id, "handover") == []
    after = _state(office1, instance_id)
    assert (after[0], after[2]) == (before[0], before[2])  # only office1's own reads were added
    assert [e for e in office1.ok("GET", f"/instances/{instance_id}/history")
            if e["actor"] in ("office2", "leader1") and e["type"] != "clue_viewed"] == []


def test_completing_twice_is_409(api: Api, rectification: int) -> None:
    unit = api("unit1")
    task_id = unit.group_task(rectification, "receive_feedback")
    unit.ok("POST", f"/tasks/{task_id}/claim")
    data = {"data": {"feedback_received_on": "2026-11-26"}}
    unit.ok("POST", f"/tasks/{task_id}/complete", data)
    before = _state(unit, rectification)
    _error(unit.post(f"/tasks/{task_id}/complete", data), 409, "task_not_active")
    _error(unit.post(f"/tasks/{task_id}/claim"), 409, "task_not_active")
    assert _state(unit, rectification) == before
    assert unit.ok("GET", f"/tasks/{task_id}")["status"] == "completed"


def test_a_stale_revision_is_409(api: Api, rectification: int) -> None:
    unit, office = api("unit1"), api("office1")
    task_id = unit.group_task(rectification, "receive_feedback")
    revision = unit.ok("GET", f"/tasks/{task_id}")["revision"]
    office.ok("POST", f"/tasks/{task_id}/assign", {"user": "unit1"})
    before = _state(unit, rectification)
    error = _error(unit.post(f"/tasks/{task_id}/complete", {"data": {"feedback_received_on": "2026-11-26"},
                                                            "revision": revision}), 409, "stale_state")
    assert error["details"]["revision"] == revision + 1
    assert _state(unit, rectification) == before


def test_claim_unclaim_and_assign(api: Api, rectification: int) -> None:
    unit, office = api("unit1"), api("office1")
    task_id = unit.group_task(rectification, "receive_feedback")
    assert unit.ok("POST", f"/tasks/{task_id}/claim")["assignee"] == "unit1"
    assert [t["id"] for t in unit.ok("GET", "/tasks?queue=mine")["items"]] == [task_id]
    assert unit.ok("POST", f"/tasks/{task_id}/unclaim")["assignee"] is None
    assert unit.group_task(rectification, "receive_feedback") == task_id
    _error(unit.post(f"/tasks/{task_id}/assign", {"user": "unit1"}), 403, "not_permitted")
    error = _error(office.post(f"/tasks/{task_id}/assign", {"user": "unit2"}), 400, "invalid_input")
    assert error["details"] == {"user": "unit2"}
    _error(office.post(f"/tasks/{task_id}/assign", {}), 400, "invalid_input")
    assert office.ok("POST", f"/tasks/{task_id}/assign", {"user": "unit1"})["assignee"] == "unit1"
    events = [e["type"] for e in office.ok("GET", f"/instances/{rectification}/history")]
    assert events[-3:] == ["task_claimed", "task_unclaimed", "task_assigned"]


def test_delegation_is_recorded_comes_back_to_its_owner_and_only_the_holder_or_office_may_delegate(
        api: Api, factory: sessionmaker[Session], ctx: EngineContext, demo: Demo, rectification: int) -> None:
    instance_id = open_clue(factory, ctx, demo, unit="U-EDU", receiving="JW", number="XS-E-002")
    office1, office2 = api("office1"), api("office2")
    task_id = office1.group_task(instance_id, "handover")
    office1.ok("POST", f"/tasks/{task_id}/claim")
    delegated_task = office1.ok("POST", f"/tasks/{task_id}/delegate", {"user": "office2"})
    assert (delegated_task["assignee"], delegated_task["owner"], delegated_task["delegation"]) == (
        "office2", "office1", "pending")
    delegated = [e for e in office2.ok("GET", f"/instances/{instance_id}/history") if e["type"] == "task_delegated"]
    assert [(e["actor"], e["payload"]["previous_assignee_id"], e["payload"]["assignee"]) for e in delegated] == [
        ("office1", demo.users["office1"].id, "office2")]
    _error(office2.post(f"/tasks/{task_id}/complete", {"data": {"handover_list": "报告 1 份"}}), 409,
           "delegation_pending")
    resolved = office2.ok("POST", f"/tasks/{task_id}/resolve", {"data": {"handover_list": "报告 1 份"}})
    assert (resolved["assignee"], resolved["delegation"]) == ("office1", "resolved")
    assert office1.ok("GET", f"/tasks/{task_id}/draft")["data"] == {"handover_list": "报告 1 份"}
    assert office1.ok("POST", f"/tasks/{task_id}/complete", {"data": {"handover_list": "报告 1 份"}})

    unit = api("unit1")
    task_id = unit.group_task(rectification, "receive_feedback")
    unit.ok("POST", f"/tasks/{task_id}/claim")
    before = _state(unit, rectification)
    error = _error(unit.post(f"/tasks/{task_id}/delegate", {"user": "unit2"}, headers={"Accept-Language": "en"}),
                   400, "invalid_input")  # another unit's liaison may not take it
    assert "may not take this task" in error["message"]
    error = _error(api("unit2").post(f"/tasks/{task_id}/delegate", {"user": "unit2"}), 404, "not_found")
    assert _state(unit, rectification) == before


@pytest.mark.parametrize("query", ["page=0", "per_page=1000", "per_page=0", "page=abc", "queue=everything",
                                   "sort=name", "status=open"])
def test_nonsense_queue_parameters_are_400(api: Api, query: str) -> None:
    _error(api("office1").get(f"/tasks?{query}"), 400, "invalid_input")


def test_the_all_queue_is_for_oversight_only(api: Api, rectification: int) -> None:
    assert api("office1").ok("GET", "/tasks?queue=all")["total"] == 1
    _error(api("unit1").get("/tasks?queue=all"), 403, "not_permitted")


def test_unknown_task_is_404(api: Api) -> None:
    _error(api("office1").get("/tasks/987654"), 404, "not_found")
    _error(api("office1").post("/tasks/987654/claim"), 404, "not_found")
