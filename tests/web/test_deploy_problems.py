"""The problems deploy finds reach people: the definitions page lists each one with its element id
(marked for the diagram) and the API returns the same list, both with 422, and nothing is stored."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from flask.testing import FlaskClient

from engine.context import EngineContext
from engine.demo import Demo
from tests.web.helpers import Api, api_for, bpmn_upload, login

FOREIGN = Path(__file__).resolve().parents[1] / "workflows" / "foreign"


@pytest.fixture
def api(db_url: str, ctx: EngineContext, demo: Demo) -> Iterator[Api]:
    with api_for(db_url, ctx) as client:
        yield client


def test_definitions_page_lists_unreachable_nodes_with_their_element_ids(client: FlaskClient) -> None:
    login(client, "designer1")
    xml = (FOREIGN / "refused_unreachable.bpmn").read_bytes()
    response = client.post("/definitions", data={"file": bpmn_upload(xml), "comment": "有孤立任务"})
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    for element in ("Task_orphan", "Task_after_orphan", "Sub_forgotten"):
        assert f'data-element-id="{element}"' in page
    assert "“孤立任务”不可达" in page
    assert "refused_unreachable" not in client.get("/definitions").get_data(as_text=True)


def test_definitions_page_shows_sandbox_and_timer_problems_in_english_for_english_readers(
        client: FlaskClient) -> None:
    login(client, "designer1")
    client.post("/locale", data={"locale": "en"})
    xml = (FOREIGN / "refused_bad_timers.bpmn").read_bytes()
    response = client.post("/definitions", data={"file": bpmn_upload(xml)})
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert 'data-element-id="Wait_unquoted"' in page and 'data-element-id="Wait_case_data"' in page
    assert "Timer expressions are Python: quote the ISO value" in page and "depends on case data days_allowed" in page


def test_api_deploy_of_unsupported_constructs_is_422_with_one_problem_per_element(api: Api) -> None:
    xml = (FOREIGN / "refused_unsupported.bpmn").read_bytes()
    response = api("designer1").post("/definitions", data={"file": bpmn_upload(xml)})
    assert response.status_code == 422
    problems = response.get_json()["error"]["details"]["problems"]
    assert [p["element_id"] for p in problems if p["severity"] == "error"] == [
        "DataStore_ledger", "Rule_score", "Service_push", "Catch_condition", "AdHoc_collect", "Receive_receipt",
        "Catch_signal", "Send_notice"]
    assert "refused_unsupported" not in {d["key"] for d in api("designer1").ok("GET", "/definitions")}
