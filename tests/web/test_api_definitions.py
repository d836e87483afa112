"""Deploying, listing and starting process definitions through the API."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from engine.context import EngineContext
from engine.definitions import MAX_BPMN_BYTES
from engine.demo import Demo
from tests.helpers import simple_bpmn
from tests.web.helpers import Api, api_for, bpmn_upload


@pytest.fixture
def api(db_url: str, ctx: EngineContext, demo: Demo) -> Iterator[Api]:
    with api_for(db_url, ctx) as client:
        yield client


def _deploy(api: Api, xml: bytes, user: str = "designer1", **form: str) -> Any:
    return api(user).post("/definitions", data={"file": bpmn_upload(xml), **form})


def test_list_shows_the_newest_version_of_each_definition(api: Api) -> None:
    rows = api("unit1").ok("GET", "/definitions")
    assert [(d["key"], d["version"], d["deployed_by"]) for d in rows] == [
        ("clue_disposition", 1, None), ("rectification", 1, None)]
    assert all(len(d["sha256"]) == 64 and d["deployed_at"].endswith("+08:00") for d in rows)


def test_a_version_s_xml_is_served_as_deployed(api: Api, ctx: EngineContext) -> None:
    response = api("office1").get("/definitions/clue_disposition/versions/1/bpmn")
    assert response.status_code == 200 and response.mimetype == "application/xml"
    assert response.data == (ctx.workflows_dir / "clue_disposition.bpmn").read_bytes()
    assert api("office1").get("/definitions/clue_disposition/versions/2/bpmn").status_code == 404
    assert api("office1").get("/definitions/nothing/versions/1/bpmn").status_code == 404


def test_new_content_is_a_new_version_and_identical_content_is_200_with_the_same(api: Api) -> None:
    first = _deploy(api, simple_bpmn("memo"), comment="第一版")
    assert first.status_code == 201
    body = first.get_json()
    assert (body["key"], body["version"]) == ("memo", 1)
    assert [w["element_id"] for w in body["warnings"]] == ["handle"]  # no form named: the generic form
    again = _deploy(api, simple_bpmn("memo"))
    assert again.status_code == 200
    assert again.get_json()["version"] == 1 and again.get_json()["sha256"] == body["sha256"]
    second = _deploy(api, simple_bpmn("memo", task_name="审阅"))
    assert second.status_code == 201 and second.get_json()["version"] == 2
    listed = {d["key"]: d for d in api("designer1").ok("GET", "/definitions")}
    assert listed["memo"]["version"] == 2 and listed["memo"]["deployed_by"] == "designer1"


def test_redeploying_a_shipped_diagram_unchanged_is_200(api: Api, ctx: EngineContext) -> None:
    response = _deploy(api, (ctx.workflows_dir / "rectification.bpmn").read_bytes())
    assert response.status_code == 200 and response.get_json()["version"] == 1


def test_only_supervisors_deploy(api: Api) -> None:
    response = _deploy(api, simple_bpmn("memo"), user="office1")
    assert response.status_code == 403 and response.get_json()["error"]["code"] == "not_permitted"
    assert "memo" not in {d["key"] for d in api("office1").ok("GET", "/definitions")}


def test_malformed_bpmn_is_422(api: Api) -> None:
    response = _deploy(api, b"<bpmn:definitions><unclosed>")
    assert response.status_code == 422
    error = response.get_json()["error"]
    assert error["code"] == "definition_invalid" and error["details"]["problems"]
    assert "memo" not in {d["key"] for d in api("designer1").ok("GET", "/definitions")}


def test_a_lane_matching_no_group_is_422_naming_the_lane(api: Api) -> None:
    response = _deploy(api, simple_bpmn("memo", lane="财务科", lane_id="Lane_finance"))
    assert response.status_code == 422
    problems = response.get_json()["error"]["details"]["problems"]
    assert [p["element_id"] for p in problems if p["severity"] == "error"] == ["Lane_finance"]
    assert "财务科" in problems[0]["message_zh"]


def test_upload_without_a_file_is_400_and_an_oversized_one_413(api: Api) -> None:
    response = api("designer1").post("/definitions", data={"comment": "x"})
    assert response.status_code == 400 and response.get_json()["error"]["details"] == {"field": "file"}
    big = simple_bpmn("memo") + b" " * MAX_BPMN_BYTES
    response = _deploy(api, big)
    assert response.status_code == 413 and response.get_json()["error"]["code"] == "too_large"


def test_starting_an_instance_offers_its_task_to_the_lane_group(api: Api) -> None:
    assert _deploy(api, simple_bpmn("memo")).status_code == 201
    office = api("office1")
    started = office.ok("POST", "/instances", {"process_key": "memo", "data": {"topic": "周报"}}, status=201)
    assert (started["process_key"], started["version"], started["status"]) == ("memo", 1, "running")
    task_id = office.group_task(started["id"], "handle")
    detail = office.ok("GET", f"/tasks/{task_id}")
    assert detail["form"]["key"] == "generic" and "comment" in detail["form"]["schema"]["properties"]
    office.ok("POST", f"/tasks/{task_id}/claim")
    done = office.ok("POST", f"/tasks/{task_id}/complete", {"data": {"comment": "已阅。"}})
    assert done["instance"]["status"] == "completed"
    instance = office.ok("GET", f"/instances/{started['id']}")
    assert instance["data"]["topic"] == "周报" and instance["data"]["comment"] == "已阅。"
    assert api("unit1").get(f"/instances/{started['id']}").status_code == 404


@pytest.mark.parametrize(("body", "status"), [
    ({"process_key": "nothing"}, 404),
    ({"process_key": "clue_disposition", "data": {}}, 403),
    ({"process_key": "rectification"}, 403),
    ({"process_key": "memo", "data": [1]}, 400),
    ({"data": {}}, 400),
])
def test_bad_starts_are_refused(api: Api, body: dict[str, Any], status: int) -> None:
    assert _deploy(api, simple_bpmn("memo")).status_code == 201
    response = api("office1").post("/instances", body)
    assert response.status_code == status, response.get_json()
    assert api("office1").ok("GET", "/tasks?queue=all")["total"] == 0
