"""Task forms in HTML: every shipped form renders, and a valid submission parses back to data the
one validator accepts."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask, render_template_string
from werkzeug.datastructures import MultiDict

from engine.context import DEFAULT_WORKFLOWS_DIR
from engine.errors import FormInvalid
from engine.forms import Form, FormStore, validate
from web import create_app
from web.tasks.forms import add_row, parse_submission, render_fields

FORMS_DIR = DEFAULT_WORKFLOWS_DIR / "forms"
SHIPPED = sorted(p.name for p in Path(FORMS_DIR).glob("*.schema.json"))
MACRO = '{% from "tasks/_fields.html" import field %}{% for f in fields %}{{ field(f) }}{% endfor %}'


@pytest.fixture(scope="module")
def page_app() -> Iterator[Flask]:
    app = create_app({"DATABASE_URL": "sqlite://", "TESTING": True, "DEPLOY_SHIPPED_WORKFLOWS": False,
                      "SECRET_KEY": "test"})
    yield app
    app.extensions["xuncha.engine"].dispose()


def _sample(schema: dict[str, Any]) -> Any:
    """A valid value for every field (filling optional fields too satisfies the if/then rules)."""
    if "enum" in schema:
        return schema["enum"][0]
    kind = schema.get("type")
    if kind == "boolean":
        return True
    if kind == "integer":
        return 3
    if kind == "number":
        return 2.5
    if kind == "array":
        items = schema["items"]
        if items.get("type") == "object":
            return [{k: _sample(v) for k, v in items["properties"].items()} for _ in range(2)]
        if items.get("type") == "integer":  # a file field: attachment ids
            return [3, 4]
        return items["enum"][:2]
    if schema.get("format") == "date":
        return "2026-12-01"
    return "办理意见\n第二行"


def _flatten(form: Form, data: dict[str, Any]) -> MultiDict[str, str]:
    """What a browser posts for ``data``: rows as name-index-column, unchecked boxes absent."""
    flat: MultiDict[str, str] = MultiDict()
    for name, value in data.items():
        if isinstance(value, list) and value and isinstance(value[0], dict):
            for index, row in enumerate(value):
                for column, cell in row.items():
                    if cell is not False:
                        flat.add(f"{name}-{index}-{column}", "true" if cell is True else str(cell))
        elif isinstance(value, list):
            for option in value:
                flat.add(name, str(option))
        elif value is True:
            flat.add(name, "true")
        elif value is not False:
            flat.add(name, str(value))
    return flat


@pytest.mark.parametrize("key", SHIPPED)
def test_every_shipped_form_renders_and_round_trips(key: str, page_app: Flask) -> None:
    form = FormStore(FORMS_DIR).get(key)
    data = {name: _sample(schema) for name, schema in form.schema["properties"].items()}
    flat = _flatten(form, data)

    parsed = parse_submission(form, flat)

    assert parsed == data
    assert validate(form, parsed, attachments=lambda ids: set(ids)) == data
    rendered = render_fields(form, parsed, attachments=[(3, "甲.pdf"), (4, "乙.pdf")])
    assert {f.name for f in rendered.fields} == set(data)
    with page_app.test_request_context():
        html = render_template_string(MACRO, fields=rendered.fields)
    names = set(re.findall(r'name="([^"]+)"', html))
    assert set(flat.keys()) <= names
    for f in rendered.fields:
        assert f.title in html


def test_field_order_follows_the_ui_schema_with_the_rest_at_the_star() -> None:
    form = Form("t", {"type": "object", "properties": {"a": {"type": "string"}, "b": {"type": "string"},
                                                       "c": {"type": "string"}}},
                {"ui:order": ["c", "*", "a"]})
    assert [f.name for f in render_fields(form, {}).fields] == ["c", "b", "a"]


def test_widgets_follow_the_schema_and_hints() -> None:
    form = FormStore(FORMS_DIR).get("rect_draft_plan.schema.json")
    fields = {f.name: f for f in render_fields(form, {}).fields}
    assert fields["plan_summary"].widget == "textarea"
    assert fields["pledge_signed"].widget == "pledge"
    assert fields["plan_measures"].widget == "table"
    columns = {c.name: c for c in fields["plan_measures"].columns}
    assert columns["plan_measures-__index__-due_date"].widget == "date"
    assert columns["plan_measures-__index__-rectification_type"].widget == "select"
    assert [c.name.split("-")[-1] for c in fields["plan_measures"].columns][:3] == \
        ["item_number", "measures", "rectification_type"]
    assert len(fields["plan_measures"].table_rows) == 1  # an empty table still offers one row
    result = FormStore(FORMS_DIR).get("clue_result_feedback.schema.json")
    result_fields = {f.name: f for f in render_fields(result, {}).fields}
    assert result_fields["four_forms"].widget == "select"
    assert result_fields["sanctions"].widget == "checkboxes"
    assert result_fields["four_forms"].required and not result_fields["sanctions"].required


def test_schema_defaults_prefill_an_empty_form() -> None:
    form = FormStore(FORMS_DIR).get("rect_disclosure.schema.json")
    assert {f.name: f.value for f in render_fields(form, {}).fields}["publish"] is True


def test_empty_inputs_are_omitted_and_values_typed() -> None:
    form = Form("t", {"type": "object", "properties": {
        "text": {"type": "string"}, "count": {"type": "integer"}, "amount": {"type": "number"},
        "flag": {"type": "boolean"}, "tags": {"type": "array", "items": {"enum": ["x", "y"]}}}})

    assert parse_submission(form, MultiDict({"text": "  ", "count": "", "amount": ""})) == {"flag": False}
    assert parse_submission(form, MultiDict([("text", " 好 "), ("count", "7"), ("amount", "1.5"), ("flag", "true"),
                                             ("tags", "x"), ("tags", "y")])) == \
        {"text": "好", "count": 7, "amount": 1.5, "flag": True, "tags": ["x", "y"]}


def test_a_number_that_does_not_convert_is_kept_for_the_validator_to_reject() -> None:
    form = Form("t", {"type": "object", "properties": {"count": {"type": "integer", "title": "数量"}}})
    data = parse_submission(form, MultiDict({"count": "七"}))
    assert data == {"count": "七"}
    with pytest.raises(FormInvalid) as raised:
        validate(form, data)
    rendered = render_fields(form, data, raised.value.details["fields"])
    assert rendered.fields[0].value == "七"
    assert rendered.fields[0].error == "请输入整数。"


def test_rows_with_gaps_are_compacted_and_empty_rows_dropped() -> None:
    form = FormStore(FORMS_DIR).get("rect_draft_plan.schema.json")
    flat = MultiDict([("plan_measures-0-item_number", "A-01"), ("plan_measures-0-measures", "建章立制"),
                      ("plan_measures-3-item_number", ""), ("plan_measures-3-measures", " "),
                      ("plan_measures-7-item_number", "A-02"), ("plan_measures-__index__-item_number", "ignored")])
    assert parse_submission(form, flat)["plan_measures"] == [
        {"item_number": "A-01", "measures": "建章立制"}, {"item_number": "A-02"}]


def test_row_errors_are_placed_on_their_cells_and_the_unplaced_listed() -> None:
    form = FormStore(FORMS_DIR).get("rect_draft_plan.schema.json")
    data = {"plan_measures": [{"item_number": "A-01"}, {"item_number": "A-02"}]}
    errors = {"plan_measures.1.due_date": {"message_zh": "此项为必填项。", "message_en": ""},
              "_form": {"message_zh": "整体错误。", "message_en": ""}}
    rendered = render_fields(form, data, errors)
    table = next(f for f in rendered.fields if f.name == "plan_measures")
    cells = {c.name: c for row in table.table_rows for c in row}
    assert cells["plan_measures-1-due_date"].error == "此项为必填项。"
    assert cells["plan_measures-0-due_date"].error is None
    assert rendered.general_errors == ["整体错误。"]
    assert rendered.has_errors


def test_add_row_appends_an_empty_row_to_a_table_only() -> None:
    form = FormStore(FORMS_DIR).get("rect_draft_plan.schema.json")
    assert add_row({"plan_measures": [{"item_number": "A"}]}, form, "plan_measures")["plan_measures"] == \
        [{"item_number": "A"}, {}]
    assert add_row({}, form, "plan_summary") == {}
