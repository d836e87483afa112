"""The form library in the browser (/designer/forms) and the API (/api/v1/forms): supervisors save
versions, everyone else is refused; invalid forms are 422 with both languages and store nothing; the
preview is the task pages' own rendering."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, select

from engine.context import EngineContext
from engine.demo import Demo
from models import FormVersion
from tests.helpers import simple_bpmn
from tests.web.helpers import Api, api_for, bpmn_upload, login

RECHECK: dict[str, Any] = {
    "title": "复查", "type": "object", "required": ["finding"],
    "properties": {"finding": {"type": "string", "title": "复查结论"},
                   "passed": {"type": "string", "title": "是否通过", "enum": ["通过", "不通过"]}},
}


@pytest.fixture
def api(db_url: str, ctx: EngineContext, demo: Demo) -> Iterator[Api]:
    with api_for(db_url, ctx) as client:
        yield client


def _stored(session: Any) -> int:
    return int(session.execute(select(func.count()).select_from(FormVersion)).scalar_one())


def _post(api: Api, user: str = "designer1", **body: Any) -> Any:
    return api(user).post("/forms", json={"name": "rect_recheck", "schema": RECHECK, **body})


# -- API ---------------------------------------------------------------------------------------------------


def test_a_supervisor_saves_versions_and_anyone_logged_in_reads_them(api: Api) -> None:
    first = _post(api, title="复查表", comment="初稿")
    assert first.status_code == 201 and first.get_json()["key"] == "rect_recheck@1"
    changed = {**RECHECK, "properties": {**RECHECK["properties"], "note": {"type": "string"}}}
    assert _post(api, schema=changed, expected_version=1).status_code == 201
    assert _post(api, schema=changed, expected_version=2).status_code == 200  # unchanged: no version 3
    versions = api("unit1").ok("GET", "/forms/rect_recheck")
    assert [v["version"] for v in versions["versions"]] == [2, 1] and versions["key"] == "rect_recheck@2"
    one = api("unit1").ok("GET", "/forms/rect_recheck/versions/1")
    assert one["schema"] == RECHECK and one["created_by"] == "designer1" and one["comment"] == "初稿"
    listed = api("unit1").ok("GET", "/forms?q=rect_")
    assert listed["items"][0]["key"] == "rect_recheck@2" and listed["items"][0]["versions"] == [1, 2]
    assert any(e["source"] == "file" and e["key"] == "rect_review_plan.schema.json" for e in listed["items"])


def test_a_non_supervisor_may_not_save_a_form(api: Api, session: Any) -> None:
    response = _post(api, "office1")
    assert response.status_code == 403 and response.get_json()["error"]["code"] == "not_permitted"
    assert _stored(session) == 0


@pytest.mark.parametrize(("body", "path"), [
    ({"name": "Rect Recheck"}, "name"),
    ({"schema": {"type": "object", "properties": {"a": {"type": "text"}}}}, "schema"),
    ({"ui_schema": {"finding": {"ui:widget": "rich-editor"}}}, "ui_schema.finding"),
])
def test_an_invalid_form_is_422_in_both_languages_and_stores_nothing(api: Api, session: Any, body: dict[str, Any],
                                                                     path: str) -> None:
    response = _post(api, **body)
    error = response.get_json()["error"]
    assert response.status_code == 422 and error["code"] == "form_invalid"
    assert error["details"]["fields"][path]["message_zh"] and error["details"]["fields"][path]["message_en"]
    english = api("designer1").post("/forms", json={"name": "rect_recheck", "schema": RECHECK, **body},
                                    headers={"Accept-Language": "en"})
    assert english.get_json()["error"]["message"] == "The form definition has errors; nothing was saved."
    assert _stored(session) == 0


def test_an_unknown_widget_is_named_with_its_field(api: Api) -> None:
    response = _post(api, ui_schema={"passed": {"ui:widget": "stars"}})
    message = response.get_json()["error"]["details"]["fields"]["ui_schema.passed"]["message_en"]
    assert "passed" in message and "stars" in message


def test_saving_over_a_newer_version_is_409(api: Api, session: Any) -> None:
    _post(api)
    assert _post(api, schema={**RECHECK, "title": "二"}, expected_version=1).status_code == 201
    stale = _post(api, schema={**RECHECK, "title": "三"}, expected_version=1)
    assert stale.status_code == 409 and stale.get_json()["error"]["code"] == "stale_state"
    assert stale.get_json()["error"]["details"]["current_version"] == 2
    assert _stored(session) == 2


def test_a_diagram_can_name_a_stored_version_and_not_a_missing_one(api: Api) -> None:
    _post(api)
    good = api("designer1").post("/definitions", data={"file": bpmn_upload(simple_bpmn("recheck",
                                                                                      form="rect_recheck@1"))})
    assert good.status_code == 201, good.get_json()
    bad = api("designer1").post("/definitions", data={"file": bpmn_upload(simple_bpmn("recheck2",
                                                                                     form="rect_recheck@9"))})
    problems = bad.get_json()["error"]["details"]["problems"]
    assert bad.status_code == 422 and [p["element_id"] for p in problems] == ["handle"]


def test_a_task_on_a_stored_form_shows_and_checks_that_form(api: Api) -> None:
    _post(api)
    api("designer1").post("/definitions", data={"file": bpmn_upload(simple_bpmn("recheck", form="rect_recheck@1"))})
    started = api("office1").ok("POST", "/instances", {"process_key": "recheck", "data": {}}, status=201)
    task_id = api("office1").group_task(started["id"], "handle")
    task = api("office1").ok("GET", f"/tasks/{task_id}")
    assert task["form"]["schema"]["properties"]["passed"]["enum"] == ["通过", "不通过"]
    api("office1").ok("POST", f"/tasks/{task_id}/claim")
    refused = api("office1").post(f"/tasks/{task_id}/complete", json={"data": {"passed": "通过"}})
    assert refused.status_code == 422 and set(refused.get_json()["error"]["details"]["fields"]) == {"finding"}
    api("office1").ok("POST", f"/tasks/{task_id}/complete", {"data": {"finding": "整改到位", "passed": "通过"}})


# -- pages -------------------------------------------------------------------------------------------------


def _save_page(client: FlaskClient, **fields: Any) -> Any:
    data = {"name": "rect_recheck", "title": "复查表", "schema": json.dumps(RECHECK, ensure_ascii=False),
            "ui_schema": "{}", "comment": "", "expected_version": "0", **fields}
    return client.post("/designer/forms", data=data)


def test_pages_are_for_supervisors_only(client: FlaskClient, session: Any) -> None:
    login(client, "office1")
    assert client.get("/designer/forms").status_code == 403
    assert client.get("/designer/forms/new").status_code == 403
    assert _save_page(client).status_code == 403
    assert client.post("/designer/forms/preview", data={"schema": "{}"}).status_code == 403
    assert _stored(session) == 0


def test_a_supervisor_saves_from_the_editor_and_finds_the_form_listed(client: FlaskClient, session: Any) -> None:
    login(client, "designer1")
    response = _save_page(client)
    assert response.status_code == 302 and response.headers["Location"].endswith("/designer/forms/rect_recheck")
    page = client.get("/designer/forms/rect_recheck").get_data(as_text=True)
    assert "rect_recheck@1" in page and "已保存表单 rect_recheck 第 1 版" in page
    listing = client.get("/designer/forms?q=复查").get_data(as_text=True)
    assert "rect_recheck@1" in listing and "rect_review_plan.schema.json" not in listing
    assert "rect_review_plan.schema.json" in client.get("/designer/forms").get_data(as_text=True)
    edited = _save_page(client, schema=json.dumps({**RECHECK, "title": "复查（二）"}), expected_version="1")
    assert edited.status_code == 302 and _stored(session) == 2
    older = client.get("/designer/forms/rect_recheck?version=1").get_data(as_text=True)
    assert "正在查看第 1 版" in older


def test_an_invalid_save_from_the_editor_shows_the_errors_and_keeps_the_input(client: FlaskClient,
                                                                               session: Any) -> None:
    login(client, "designer1")
    response = _save_page(client, ui_schema='{"finding": {"ui:widget": "stars"}}')
    page = response.get_data(as_text=True)
    assert response.status_code == 422 and "ui_schema.finding" in page and "stars" in page
    assert "&#34;stars&#34;" in page or "stars" in page
    assert _save_page(client, schema="{not json").status_code == 422
    assert _stored(session) == 0


def test_a_stale_save_from_the_editor_is_409(client: FlaskClient, session: Any) -> None:
    login(client, "designer1")
    _save_page(client)
    _save_page(client, title="二", expected_version="1")
    response = _save_page(client, title="三", expected_version="1")
    assert response.status_code == 409 and "第 2 版" in response.get_data(as_text=True)
    assert _stored(session) == 2


def test_the_preview_is_the_task_page_rendering_or_the_schema_errors(client: FlaskClient) -> None:
    login(client, "designer1")
    ui = {"finding": {"ui:widget": "textarea"}}
    shown = client.post("/designer/forms/preview", data={"schema": json.dumps(RECHECK), "ui_schema": json.dumps(ui)})
    html = shown.get_data(as_text=True)
    assert shown.status_code == 200 and 'data-preview-state="ok"' in html
    assert '<textarea id="finding" name="finding"' in html and 'type="radio" name="passed" value="通过"' in html
    broken = client.post("/designer/forms/preview", data={"schema": json.dumps(RECHECK),
                                                          "ui_schema": '{"passed": {"ui:widget": "stars"}}'})
    assert broken.status_code == 422 and 'data-preview-state="invalid"' in broken.get_data(as_text=True)
    assert "stars" in broken.get_data(as_text=True)
    huge = client.post("/designer/forms/preview", data={"schema": " " * 70000 + json.dumps(RECHECK)})
    assert huge.status_code == 422 and "表单定义过大" in huge.get_data(as_text=True)


def test_a_new_form_can_start_as_a_copy_of_a_shipped_one(client: FlaskClient, ctx: EngineContext) -> None:
    login(client, "designer1")
    page = client.get("/designer/forms/new?from=rect_review_plan.schema.json").get_data(as_text=True)
    assert 'value="rect_review_plan"' in page
    title = ctx.forms.get("rect_review_plan.schema.json").title
    assert title in page and 'data-preview-state="ok"' in page
