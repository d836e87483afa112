"""Form widgets: multiple choice (checkboxes or a select multiple), user and organisation pickers, and number
and date inputs — rendered, parsed back, and refused by the one validator with a message beside the field."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask, render_template_string
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from werkzeug.datastructures import MultiDict

from engine.context import DEFAULT_WORKFLOWS_DIR, EngineContext
from engine.demo import Demo
from engine.errors import FormInvalid
from engine.forms import Form, FormStore, validate
from models import AuditEvent, TaskStatus
from tests.helpers import act, open_clue, ready_task, task_row
from tests.web.helpers import Api, api_for, login
from web import create_app
from web.tasks.forms import CHECKBOXES_MAX_OPTIONS, parse_submission, render_fields

MACRO = '{% from "tasks/_fields.html" import field %}{% for f in fields %}{{ field(f) }}{% endfor %}'
MANY = [f"选项{n}" for n in range(CHECKBOXES_MAX_OPTIONS + 1)]
FEW = MANY[:3]


def _form(properties: dict[str, Any], ui: dict[str, Any] | None = None) -> Form:
    return Form("t", {"type": "object", "properties": properties}, ui or {})


@pytest.fixture(scope="module")
def page_app() -> Iterator[Flask]:
    app = create_app({"DATABASE_URL": "sqlite://", "TESTING": True, "DEPLOY_SHIPPED_WORKFLOWS": False,
                      "SECRET_KEY": "test"})
    yield app
    app.extensions["xuncha.engine"].dispose()


def _html(app: Flask, form: Form, data: dict[str, Any], errors: dict[str, Any] | None = None,
          locale: str = "zh_CN") -> str:
    with app.test_request_context():
        return render_template_string(MACRO, fields=render_fields(form, data, errors, locale=locale).fields)


def test_few_options_are_checkboxes_and_many_a_select_multiple(page_app: Flask) -> None:
    form = _form({"few": {"type": "array", "items": {"enum": FEW}},
                  "many": {"type": "array", "items": {"enum": MANY}},
                  "forced": {"type": "array", "items": {"enum": MANY}},
                  "listed": {"type": "array", "items": {"enum": FEW}}},
                 {"forced": {"ui:widget": "checkboxes"}, "listed": {"ui:widget": "select"}})
    widgets = {f.name: f.widget for f in render_fields(form, {}).fields}
    assert widgets == {"few": "checkboxes", "many": "multiselect", "forced": "checkboxes", "listed": "multiselect"}

    html = _html(page_app, form, {"many": [MANY[1], MANY[4]]})
    select_many = html.split('<select id="many" name="many" multiple')[1].split("</select>")[0]
    assert select_many.count("<option") == len(MANY)
    assert re.findall(r'<option value="([^"]+)" selected', select_many) == [MANY[1], MANY[4]]
    assert html.count('type="checkbox" name="few"') == len(FEW)


def test_shipped_sanctions_stay_checkboxes_as_their_ui_schema_says() -> None:
    form = FormStore(DEFAULT_WORKFLOWS_DIR / "forms").get("clue_result_feedback.schema.json")
    fields = {f.name: f for f in render_fields(form, {}).fields}
    assert fields["sanctions"].widget == "checkboxes" and len(fields["sanctions"].options) > CHECKBOXES_MAX_OPTIONS


def test_a_multiple_choice_round_trips_and_a_wrong_option_is_shown_on_its_field(page_app: Flask) -> None:
    form = _form({"many": {"type": "array", "title": "多选", "uniqueItems": True, "items": {"enum": MANY}}})
    assert parse_submission(form, MultiDict([("many", MANY[0]), ("many", MANY[2])])) == {"many": [MANY[0], MANY[2]]}
    assert parse_submission(form, MultiDict()) == {}

    data = parse_submission(form, MultiDict([("many", MANY[0]), ("many", "不在列表中")]))
    with pytest.raises(FormInvalid) as caught:
        validate(form, data)
    errors = caught.value.details["fields"]
    assert set(errors) == {"many.1"}  # the API names the value …
    rendered = render_fields(form, data, errors)
    assert rendered.fields[0].error == "请从列出的选项中选择。"  # … the page shows it on the field
    assert rendered.general_errors == []


def test_number_and_date_fields_get_their_input_types_and_bounds(page_app: Flask) -> None:
    form = _form({"count": {"type": "integer", "minimum": 1, "maximum": 12}, "amount": {"type": "number"},
                  "day": {"type": "string", "format": "date"}})
    html = _html(page_app, form, {"count": 3})
    count = html.split('id="count"')[1].split(">")[0]
    assert 'step="1"' in count and 'min="1"' in count and 'max="12"' in count and 'value="3"' in html
    assert 'type="number" id="count"' in html and 'type="number" id="amount"' in html
    assert 'step="any"' in html.split('id="amount"')[1].split(">")[0]
    assert 'type="date" id="day"' in html


@pytest.mark.parametrize(("raw", "zh", "en"), [
    ({"count": "七"}, "请输入整数。", "Enter a whole number."),
    ({"count": "2.5"}, "请输入整数。", "Enter a whole number."),
    ({"amount": "很多"}, "请输入数字。", "Enter a number."),
    ({"amount": "nan"}, "请输入数字。", "Enter a number."),
    ({"day": "2026-02-30"}, "请输入有效日期（格式为 YYYY-MM-DD）。", "Enter a valid date (YYYY-MM-DD)."),
    ({"day": "明天"}, "请输入有效日期（格式为 YYYY-MM-DD）。", "Enter a valid date (YYYY-MM-DD)."),
])
def test_text_that_is_no_number_or_date_is_kept_and_told_what_is_expected(
        page_app: Flask, raw: dict[str, str], zh: str, en: str) -> None:
    form = _form({"count": {"type": "integer"}, "amount": {"type": "number"},
                  "day": {"type": "string", "format": "date"}})
    data = parse_submission(form, MultiDict(raw))
    assert data == raw  # kept as typed, so the person sees it again
    with pytest.raises(FormInvalid) as caught:
        validate(form, data)
    (name,) = raw
    assert caught.value.details["fields"] == {name: {"message_zh": zh, "message_en": en}}
    zh_html = _html(page_app, form, data, caught.value.details["fields"])
    en_html = _html(page_app, form, data, caught.value.details["fields"], locale="en")
    assert zh in zh_html and en not in zh_html and en in en_html and zh not in en_html
    assert f'value="{raw[name]}"' in zh_html


# -- the 承办人 picker on 签收 (clue_acknowledge), through the page and the API ----------------------------------

@pytest.fixture
def api(db_url: str, ctx: EngineContext, demo: Demo) -> Iterator[Api]:
    with api_for(db_url, ctx) as client:
        yield client


def _acknowledge_task(factory: sessionmaker[Session], ctx: EngineContext, demo: Demo) -> int:
    iid = open_clue(factory, ctx, demo, receiving="JW")
    act(factory, ctx, "office1", iid, "handover", {"handover_list": "清单"})
    return ready_task(factory, iid, "acknowledge").id


def _completed_data(factory: sessionmaker[Session], task_id: int) -> dict[str, Any]:
    with factory() as s:
        for payload in s.execute(select(AuditEvent.payload).where(AuditEvent.event_type == "task_completed")).scalars():
            event = json.loads(payload)
            if event["task_id"] == task_id:
                data: dict[str, Any] = event["data"]
                return data
    raise AssertionError("no task_completed event")


def test_the_handler_picker_lists_the_receiving_bodys_handlers_only(
        client: FlaskClient, factory: sessionmaker[Session], ctx: EngineContext, demo: Demo) -> None:
    task_id = _acknowledge_task(factory, ctx, demo)
    login(client, "jw1")
    page = client.get(f"/tasks/{task_id}").get_data(as_text=True)
    picker = page.split('<select id="ack_handler" name="ack_handler"')[1].split("</select>")[0]
    assert re.findall(r'<option value="([^"]*)"', picker) == ["", "jw1"]
    assert "纪委监委 赵敏（jw1）" in picker and "zzb1" not in page and "office1" not in picker


def test_a_handler_who_is_not_offered_is_refused_beside_the_field_and_an_offered_one_accepted(
        client: FlaskClient, factory: sessionmaker[Session], ctx: EngineContext, demo: Demo) -> None:
    task_id = _acknowledge_task(factory, ctx, demo)
    login(client, "jw1")
    revision = re.search(r'name="revision" value="(\d+)"', client.get(f"/tasks/{task_id}").get_data(as_text=True))
    assert revision
    form = {"revision": revision.group(1), "ack_decision": "签收"}

    refused = client.post(f"/tasks/{task_id}/complete", data={**form, "ack_handler": "zzb1"})

    assert refused.status_code == 422
    field = refused.get_data(as_text=True).split('for="ack_handler"')[1].split("</div>")[0]
    assert "zzb1 不在本案可选的人员之中。" in field
    assert '<option value="zzb1" selected>' in field  # what was sent stays visible with its error
    assert task_row(factory, task_id).status == TaskStatus.READY

    accepted = client.post(f"/tasks/{task_id}/complete", data={**form, "ack_handler": "jw1"})
    assert accepted.status_code == 302
    assert _completed_data(factory, task_id)["ack_handler"] == "jw1"


def test_the_api_checks_the_picker_with_the_same_rule(api: Api, factory: sessionmaker[Session], ctx: EngineContext,
                                                       demo: Demo) -> None:
    task_id = _acknowledge_task(factory, ctx, demo)
    jw = api("jw1")
    jw.ok("POST", f"/tasks/{task_id}/claim")
    for handler, zh in (("zzb1", "zzb1 不在本案可选的人员之中。"), ("ghost", "用户 ghost 不存在。")):
        data = {"ack_decision": "签收", "ack_handler": handler}
        response = jw.post(f"/tasks/{task_id}/complete", json={"data": data})
        assert response.status_code == 422
        assert response.get_json()["error"]["details"]["fields"]["ack_handler"]["message_zh"] == zh
    jw.ok("POST", f"/tasks/{task_id}/complete", {"data": {"ack_decision": "签收", "ack_handler": "jw1"}})
    assert task_row(factory, task_id).status == TaskStatus.COMPLETED
