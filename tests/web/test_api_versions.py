"""Versions over the API: listing, deploying without switching, releasing, rolling back and comparing."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from engine.context import EngineContext
from engine.demo import Demo
from tests.helpers import simple_bpmn
from tests.web.helpers import Api, api_for, bpmn_upload


@pytest.fixture
def api(db_url: str, ctx: EngineContext, demo: Demo) -> Iterator[Api]:
    with api_for(db_url, ctx) as client:
        yield client


def memo(n: int) -> bytes:
    return simple_bpmn("memo", task_name=f"办理{n}")


def _deploy(api: Api, xml: bytes, **form: str) -> Any:
    return api("designer1").post("/definitions", data={"file": bpmn_upload(xml), **form})


def _start(api: Api) -> int:
    started = api("office1").ok("POST", "/instances", {"process_key": "memo", "data": {}}, status=201)
    version: int = started["version"]
    return version


def test_deploy_with_make_current_false_keeps_new_cases_on_the_current_version(api: Api) -> None:
    assert _deploy(api, memo(1)).status_code == 201
    assert _deploy(api, memo(2), make_current="false").status_code == 201
    assert _start(api) == 1
    assert _deploy(api, memo(3)).status_code == 201  # make_current defaults to true
    assert _start(api) == 3
    refused = _deploy(api, memo(4), make_current="perhaps")
    assert refused.status_code == 400 and refused.get_json()["error"]["details"] == {"field": "make_current"}


def test_versions_list_current_and_running_counts_for_supervisors_only(api: Api) -> None:
    _deploy(api, memo(1))
    _start(api)
    _deploy(api, memo(2), make_current="false")
    body = api("designer1").ok("GET", "/definitions/memo/versions")
    assert (body["current_version"], body["newest_version"], body["total"]) == (1, 2, 2)
    assert [(i["version"], i["is_current"], i["running"], i["deployed_by"]) for i in body["items"]] == [
        (2, False, 0, "designer1"), (1, True, 1, "designer1")]
    reader = api("unit1").ok("GET", "/definitions/memo/versions")
    assert [i["running"] for i in reader["items"]] == [None, None]
    assert api("unit1").get("/definitions/nothing/versions").status_code == 404


def test_a_supervisor_releases_a_version_and_others_are_refused(api: Api) -> None:
    _deploy(api, memo(1))
    _deploy(api, memo(2))
    assert api("office1").post("/definitions/memo/release", json={"version": 1}).status_code == 403
    assert api("designer1").post("/definitions/memo/release", json={"version": 7}).status_code == 404
    assert api("designer1").post("/definitions/memo/release", json={"version": True}).status_code == 400
    assert _start(api) == 2
    released = api("designer1").ok("POST", "/definitions/memo/release", {"version": 1})
    assert (released["version"], released["is_current"]) == (1, True)
    assert _start(api) == 1


def test_a_supervisor_rolls_back_and_the_newest_content_is_a_conflict(api: Api) -> None:
    _deploy(api, memo(1))
    _deploy(api, memo(2))
    assert api("unit1").post("/definitions/memo/rollback", json={"version": 1}).status_code == 403
    conflict = api("designer1").post("/definitions/memo/rollback", json={"version": 2})
    assert conflict.status_code == 409 and conflict.get_json()["error"]["code"] == "conflict"
    rolled = api("designer1").ok("POST", "/definitions/memo/rollback", {"version": 1, "comment": "恢复"}, status=201)
    assert (rolled["version"], rolled["source_version"], rolled["comment"]) == (3, 1, "恢复")
    xml = api("unit1").get("/definitions/memo/versions/3/bpmn").data
    assert xml == memo(1)
    assert _start(api) == 3


def test_diff_reports_the_changed_task_in_both_languages(api: Api) -> None:
    _deploy(api, memo(1))
    _deploy(api, memo(2))
    body = api("unit1").ok("GET", "/definitions/memo/diff?from=1&to=2")
    assert (body["from"], body["to"], body["added"], body["removed"], body["moved"]) == (1, 2, [], [], [])
    assert [c["id"] for c in body["changed"]] == ["handle"]
    assert body["summary_zh"] == "修改 用户任务 办理2(handle)：名称 “办理1”→“办理2”"
    assert body["summary_en"] == "Changed user task 办理2 (handle): name '办理1' → '办理2'"
    assert api("unit1").get("/definitions/memo/diff?to=2").status_code == 400
    assert api("unit1").get("/definitions/memo/diff?from=1&to=5").status_code == 404
