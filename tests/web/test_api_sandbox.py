"""A step the script sandbox stops answers over HTTP like any refused action: 422 ``script_refused``
naming the element, the case unchanged but for the incident recorded on it (tests/web/test_incidents.py),
and the worker serving the next request."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy.orm import Session, sessionmaker

from engine import sandbox
from engine.context import EngineContext
from engine.demo import Demo
from tests.engine.test_sandbox_attacks import start
from tests.web.helpers import Api, api_for


@pytest.fixture
def api(db_url: str, ctx: EngineContext, demo: Demo) -> Iterator[Api]:
    with api_for(db_url, ctx) as client:
        yield client


@pytest.mark.parametrize(("script", "kind"), [("while True:\n    pass", "timeout"),
                                              ("s = payload * times", "too_large")])
def test_a_stopped_script_is_422_naming_the_element_and_the_case_is_unchanged(
        api: Api, factory: sessionmaker[Session], ctx: EngineContext, demo: Demo, script: str, kind: str) -> None:
    iid = start(factory, ctx, demo, script)
    office = api("office1")
    task_id = office.group_task(iid, "fill")
    office.ok("POST", f"/tasks/{task_id}/claim")
    detail = office.ok("GET", f"/tasks/{task_id}")
    before = office.ok("GET", f"/instances/{iid}"), office.ok("GET", f"/instances/{iid}/history")

    with sandbox.limits(seconds=0.3):
        response = office.post(f"/tasks/{task_id}/complete",
                               json={"data": {"comment": "登记完毕"}, "revision": detail["revision"]})

    assert response.status_code == 422, response.get_json()
    error = response.get_json()["error"]
    assert error["code"] == "script_refused" and "calc" in error["message"]
    assert office.ok("GET", f"/instances/{iid}") == before[0]
    history = office.ok("GET", f"/instances/{iid}/history")  # the step changed nothing; the incident is recorded
    assert history[:-1] == before[1] and history[-1]["type"] == "script_refused"


def test_the_same_step_completes_over_http_when_the_script_is_harmless(
        api: Api, factory: sessionmaker[Session], ctx: EngineContext, demo: Demo) -> None:
    iid = start(factory, ctx, demo, "s = payload * times", data={"payload": "ab", "times": 2})
    office = api("office1")
    task_id = office.group_task(iid, "fill")
    office.ok("POST", f"/tasks/{task_id}/claim")
    detail = office.ok("GET", f"/tasks/{task_id}")
    office.ok("POST", f"/tasks/{task_id}/complete", {"data": {"comment": "登记完毕"}, "revision": detail["revision"]})
    assert [t["bpmn_id"] for t in office.ok("GET", f"/instances/{iid}")["ready_tasks"]] == ["check"]
