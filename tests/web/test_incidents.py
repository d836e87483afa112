"""A person's step the sandbox stops is answered 422 and changes nothing, yet leaves an incident on the
case (a ``script_refused`` audit event naming the person and the task, ``last_error``), which the
office over the case and the supervisors see on 流程故障 and on the case page; nobody else does."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from engine import audit, incidents
from engine.context import EngineContext
from engine.demo import Demo
from models import AuditEvent, Timer, TimerStatus
from tests.engine.test_sandbox_attacks import snapshot, start
from tests.helpers import instance, open_clue, ready_task
from tests.web.helpers import Api, api_for, login

REFUSED = "s = payload * times"  # too large for the case's data: deploy lets it through, running stops it


@pytest.fixture
def api(db_url: str, ctx: EngineContext, demo: Demo) -> Iterator[Api]:
    with api_for(db_url, ctx) as client:
        yield client


def refusals(factory: sessionmaker[Session], iid: int) -> list[tuple[str | None, dict[str, Any]]]:
    with factory() as s:
        events = s.execute(select(AuditEvent).where(AuditEvent.stream == audit.case_stream(iid),
                                                    AuditEvent.event_type == "script_refused")).scalars()
        return [(e.actor_name, json.loads(e.payload)) for e in events]


def refused_over_api(api: Api, factory: sessionmaker[Session], ctx: EngineContext, demo: Demo) -> int:
    """A case whose 登记 step office1 completes over the API, and the sandbox stops the script after it."""
    iid = start(factory, ctx, demo, REFUSED)
    office = api("office1")
    task_id = office.group_task(iid, "fill")
    office.ok("POST", f"/tasks/{task_id}/claim")
    detail = office.ok("GET", f"/tasks/{task_id}")
    before = snapshot(factory, iid)

    response = office.post(f"/tasks/{task_id}/complete", json={"data": {"comment": "登记完毕"},
                                                                 "revision": detail["revision"]})

    assert response.status_code == 422, response.get_json()
    error = response.get_json()["error"]
    assert error["code"] == "script_refused" and error["details"]["instance_id"] == iid
    version, state, _, status, events = snapshot(factory, iid)
    assert (version, state, status, events) == (before[0], before[1], before[3], before[4] + 1)  # only the record
    return iid


def test_a_refused_step_leaves_the_incident_on_the_case_with_who_and_where(
        api: Api, factory: sessionmaker[Session], ctx: EngineContext, demo: Demo) -> None:
    iid = refused_over_api(api, factory, ctx, demo)

    ((who, payload),) = refusals(factory, iid)
    assert who == "office1"
    assert payload["element_id"] == "calc" and payload["kind"] == "too_large" and payload["bpmn_id"] == "fill"
    assert payload["task_id"] == ready_task(factory, iid, "fill").id  # the task is still ready: nothing moved
    assert "task fill" in (instance(factory, iid).last_error or "")
    with factory() as s:
        assert audit.verify(s).ok


def test_a_refused_step_from_the_task_page_is_recorded_too(
        client: FlaskClient, factory: sessionmaker[Session], ctx: EngineContext, demo: Demo) -> None:
    iid = start(factory, ctx, demo, REFUSED)
    task = ready_task(factory, iid, "fill")
    login(client, "office1")

    response = client.post(f"/tasks/{task.id}/complete", data={"revision": str(task.revision)})

    assert response.status_code == 422
    assert [who for who, _ in refusals(factory, iid)] == ["office1"]
    assert ready_task(factory, iid, "fill").status == "ready"


def test_the_person_still_gets_the_422_when_recording_fails(
        api: Api, factory: sessionmaker[Session], ctx: EngineContext, demo: Demo,
        monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("the record itself failed")

    monkeypatch.setattr(incidents, "record_refused_step", broken)
    iid = start(factory, ctx, demo, REFUSED)
    office = api("office1")
    task_id = office.group_task(iid, "fill")
    office.ok("POST", f"/tasks/{task_id}/claim")
    detail = office.ok("GET", f"/tasks/{task_id}")

    response = office.post(f"/tasks/{task_id}/complete", json={"data": {}, "revision": detail["revision"]})

    assert response.status_code == 422 and response.get_json()["error"]["code"] == "script_refused"
    assert refusals(factory, iid) == [] and instance(factory, iid).last_error is None


@pytest.mark.parametrize("username", ["office1", "designer1"])
def test_the_office_and_supervisors_find_the_incident_listed_and_on_the_case_page(
        api: Api, app: Flask, factory: sessionmaker[Session], ctx: EngineContext, demo: Demo, username: str) -> None:
    iid = refused_over_api(api, factory, ctx, demo)
    client = app.test_client()
    login(client, username)

    listing = client.get("/incidents")
    case_page = client.get(f"/cases/{iid}").get_data(as_text=True)

    html = listing.get_data(as_text=True)
    assert listing.status_code == 200 and f'data-instance="{iid}"' in html
    assert "/definitions/sandbox_probe/versions/1" in html and "calc" in html and "office1" in html
    assert 'data-testid="case-incident"' in case_page and "calc" in case_page
    assert "流程故障" in client.get("/queue").get_data(as_text=True)


def test_another_county_office_sees_no_row_and_a_unit_no_page(
        api: Api, app: Flask, factory: sessionmaker[Session], ctx: EngineContext, demo: Demo) -> None:
    iid = refused_over_api(api, factory, ctx, demo)
    county, unit = app.test_client(), app.test_client()
    login(county, "county1")
    login(unit, "unit1")

    html = county.get("/incidents").get_data(as_text=True)

    assert f'data-instance="{iid}"' not in html and 'data-testid="no-incidents"' in html
    assert unit.get("/incidents").status_code == 403
    assert "/incidents" not in unit.get("/queue").get_data(as_text=True)


def test_a_clue_with_a_failed_timer_is_listed_for_its_office_only_and_filtered_by_definition(
        client: FlaskClient, factory: sessionmaker[Session], ctx: EngineContext, demo: Demo) -> None:
    clue = open_clue(factory, ctx, demo)
    with factory.begin() as s:
        s.add(Timer(instance_id=clue, task_guid="0" * 36, bpmn_id="remind", due_at=ctx.clock.now(),
                    status=TimerStatus.FAILED))
    definition = instance(factory, clue).definition_id

    for username, listed in (("office1", True), ("designer1", False), ("county1", False)):
        with factory() as s:
            page = incidents.open_incidents(s, demo.actor(username))
            assert [i.instance.id for i in page.items] == ([clue] if listed else []), username
    login(client, "office1")
    assert f'data-instance="{clue}"' in client.get(f"/incidents?definition={definition}").get_data(as_text=True)
    assert f'data-instance="{clue}"' not in client.get(f"/incidents?definition={definition + 1}").get_data(
        as_text=True)
    assert client.get("/incidents?definition=x").status_code == 400


def test_marking_the_incident_dealt_with_clears_it_and_retries_failed_timers(
        api: Api, app: Flask, factory: sessionmaker[Session], ctx: EngineContext, demo: Demo) -> None:
    iid = refused_over_api(api, factory, ctx, demo)
    with factory.begin() as s:
        s.add(Timer(instance_id=iid, task_guid="0" * 36, bpmn_id="late", due_at=ctx.clock.now(),
                    status=TimerStatus.FAILED))
    client = app.test_client()
    login(client, "designer1")

    response = client.post(f"/incidents/{iid}/resolve", data={"note": "流程图已修正"})

    assert response.status_code == 302 and response.headers["Location"].endswith(f"/cases/{iid}")
    assert instance(factory, iid).last_error is None
    with factory() as s:
        assert s.execute(select(Timer.status).where(Timer.instance_id == iid)).scalar_one() == TimerStatus.WAITING
        (event,) = s.execute(select(AuditEvent).where(AuditEvent.stream == audit.case_stream(iid),
                                                      AuditEvent.event_type == "incident_resolved")).scalars()
        assert event.actor_name == "designer1" and json.loads(event.payload)["note"] == "流程图已修正"
        assert audit.verify(s).ok
    assert f'data-instance="{iid}"' not in client.get("/incidents").get_data(as_text=True)
    assert 'data-testid="case-incident"' not in client.get(f"/cases/{iid}").get_data(as_text=True)
    assert client.post(f"/incidents/{iid}/resolve").status_code == 400  # nothing left to mark


@pytest.mark.parametrize(("username", "status"), [("county1", 404), ("unit1", 403)])
def test_nobody_else_may_mark_it(api: Api, app: Flask, factory: sessionmaker[Session], ctx: EngineContext,
                                 demo: Demo, username: str, status: int) -> None:
    iid = refused_over_api(api, factory, ctx, demo)
    client = app.test_client()
    login(client, username)

    assert client.post(f"/incidents/{iid}/resolve").status_code == status
    assert instance(factory, iid).last_error is not None
