"""The form library: stored forms are immutable versions a diagram names as ``name@version``; saving
checks the form is one the task pages can render, refuses stale edits and is audited."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select

from engine import runtime
from engine.db import make_session_factory, transaction
from engine.definitions import deploy
from engine.errors import Conflict, DefinitionInvalid, FormInvalid, NotFound, NotPermitted, StaleState
from engine.form_library import form_versions, get_form, list_forms, save_form, stored_form_loader
from engine.submission import validate_submission
from models import AuditEvent, FormVersion, HumanTask
from tests.helpers import act, ready_task, simple_bpmn

RECHECK: dict[str, Any] = {
    "title": "复查", "type": "object", "required": ["finding"],
    "properties": {
        "finding": {"type": "string", "title": "复查结论", "maxLength": 2000},
        "passed": {"type": "string", "title": "是否通过", "enum": ["通过", "不通过"]},
    },
}
RECHECK_UI = {"finding": {"ui:widget": "textarea"}, "passed": {"ui:widget": "radio"}}


@pytest.fixture(autouse=True)
def stored_forms(ctx, sql_engine):  # type: ignore[no-untyped-def]
    """The engine context reads stored forms from the test database, as the app sets it up (read-only
    sessions: a lookup inside a writing transaction must not wait for SQLite's write lock)."""
    ctx.forms.attach(stored_form_loader(make_session_factory(sql_engine, read_only=True)))


def _save(factory, ctx, demo, name: str = "rect_recheck", schema: Any = None, ui: Any = None, *,  # type: ignore[no-untyped-def]
          user: str = "designer1", expected: int | None = None, title: str = "复查表"):
    with transaction(factory) as session:
        row, created = save_form(session, demo.actor(user), name, RECHECK if schema is None else schema,
                                 RECHECK_UI if ui is None else ui, title, "第一版", at=ctx.clock.now(),
                                 expected_version=expected)
        return row.version, created


def _stored(session) -> int:  # type: ignore[no-untyped-def]
    return session.execute(select(func.count()).select_from(FormVersion)).scalar_one()


def test_saving_an_edit_makes_the_next_version_and_keeps_the_first(factory, ctx, demo, session):
    assert _save(factory, ctx, demo) == (1, True)
    changed = {**RECHECK, "properties": {**RECHECK["properties"], "note": {"type": "string", "title": "备注"}}}
    assert _save(factory, ctx, demo, schema=changed, expected=1) == (2, True)
    assert "note" not in get_form(session, "rect_recheck", 1).schema["properties"]
    assert [r.version for r in form_versions(session, "rect_recheck")] == [2, 1]


def test_saving_the_same_form_again_stores_nothing_new(factory, ctx, demo, session):
    _save(factory, ctx, demo)
    assert _save(factory, ctx, demo, expected=1) == (1, False)
    assert _stored(session) == 1


def test_a_save_is_audited_in_the_system_stream(factory, ctx, demo, session):
    _save(factory, ctx, demo)
    event = session.execute(select(AuditEvent).where(AuditEvent.event_type == "form_saved")).scalar_one()
    assert (event.stream, event.actor_name) == ("system", "designer1")
    assert '"version":1' in event.payload and '"name":"rect_recheck"' in event.payload


def test_a_save_based_on_an_older_version_is_stale(factory, ctx, demo, session):
    _save(factory, ctx, demo)
    _save(factory, ctx, demo, schema={**RECHECK, "title": "复查（二）"}, expected=1)
    with pytest.raises(StaleState) as caught:
        _save(factory, ctx, demo, schema={**RECHECK, "title": "复查（三）"}, expected=1)
    assert caught.value.status == 409 and caught.value.details["current_version"] == 2
    assert _stored(session) == 2


def test_a_new_form_may_not_take_an_existing_name(factory, ctx, demo, session):
    _save(factory, ctx, demo)
    with pytest.raises(Conflict):
        _save(factory, ctx, demo, schema={**RECHECK, "title": "另一个"})
    assert _stored(session) == 1


def test_only_supervisors_save_forms(factory, ctx, demo, session):
    with pytest.raises(NotPermitted):
        _save(factory, ctx, demo, user="office1")
    assert _stored(session) == 0


@pytest.mark.parametrize(("name", "schema", "ui", "path", "phrase"), [
    ("Bad-Name", RECHECK, RECHECK_UI, "name", "form name"),
    ("rect_recheck", {"type": "object", "properties": {"a": {"type": "strnig"}}}, {}, "schema", "JSON Schema"),
    ("rect_recheck", {"type": "object", "properties": {}}, {}, "schema", "at least one field"),
    ("rect_recheck", RECHECK, {"finding": {"ui:widget": "colour"}}, "ui_schema.finding", "finding"),
    ("rect_recheck", RECHECK, {"passed": {"ui:widget": "file"}}, "ui_schema.passed", "widget file"),
    ("rect_recheck", RECHECK, {"ghost": {"ui:widget": "textarea"}}, "ui_schema.ghost", "not a field"),
    ("rect_recheck", {"type": "object", "properties": {"nested": {"type": "object"}}}, {}, "schema.nested",
     "cannot show"),
    ("rect_recheck", {"type": "object", "properties": {"x": {"type": "string", "description": "x" * 70000}}}, {},
     "schema", "too large"),
])
def test_a_form_the_task_pages_cannot_render_is_refused_with_both_languages(
        factory, ctx, demo, session, name, schema, ui, path, phrase):
    with pytest.raises(FormInvalid) as caught:
        _save(factory, ctx, demo, name, schema, ui)
    error = caught.value.details["fields"][path]
    assert caught.value.status == 422 and phrase in error["message_en"] and error["message_zh"]
    assert _stored(session) == 0


def test_every_shipped_form_passes_the_save_checks(factory, ctx, demo, session):
    for entry in list_forms(session, ctx.forms):
        form = ctx.forms.get(entry.key)
        name = entry.name.removesuffix(".schema.json")
        assert _save(factory, ctx, demo, name, form.schema, form.ui)[1]


def test_the_listing_holds_stored_forms_with_their_versions_and_the_shipped_files(factory, ctx, demo):
    _save(factory, ctx, demo)
    _save(factory, ctx, demo, schema={**RECHECK, "title": "复查（二）"}, expected=1, title="复查表二")
    with factory() as session:
        entries = list_forms(session, ctx.forms)
        assert entries[0].key == "rect_recheck@2" and entries[0].versions == (1, 2)
        assert entries[0].title == "复查表二" and entries[0].updated_by == "designer1"
        assert "rect_review_plan.schema.json" in {e.key for e in entries if e.source == "file"}
        assert [e.key for e in list_forms(session, ctx.forms, q="复查表")] == ["rect_recheck@2"]
        assert list_forms(session, ctx.forms, q="nothing-like-this") == []


def test_the_store_resolves_stored_versions_and_still_reads_files(factory, ctx, demo):
    _save(factory, ctx, demo)
    assert ctx.forms.exists("rect_recheck@1") and not ctx.forms.exists("rect_recheck@2")
    assert not ctx.forms.exists("rect_recheck@x") and not ctx.forms.exists("nobody@1")
    assert ctx.forms.get("rect_recheck@1").field_names() == ["finding", "passed"]
    assert ctx.forms.get("rect_review_plan.schema.json").title
    with pytest.raises(NotFound):
        ctx.forms.get("rect_recheck@2")


def _deploy(factory, ctx, demo, form: str) -> None:  # type: ignore[no-untyped-def]
    with transaction(factory) as session:
        deploy(session, simple_bpmn("recheck", form=form), demo.actor("designer1"), ctx.forms, at=ctx.clock.now())


def test_a_case_on_a_diagram_naming_a_stored_version_renders_and_validates_that_form(factory, ctx, demo, session):
    _save(factory, ctx, demo)
    _deploy(factory, ctx, demo, "rect_recheck@1")
    _save(factory, ctx, demo, schema={**RECHECK, "required": ["finding", "passed"]}, expected=1)  # v2: no effect
    with transaction(factory) as s:
        iid = runtime.start_instance(s, ctx, demo.actor("office1"), "recheck", {},
                                     scope_path=demo.orgs["CITY"].path).id
    task = ready_task(factory, iid, "handle")
    assert task.form_key == "rect_recheck@1"
    with transaction(factory) as s:
        view = runtime.task_view(s, ctx, s.get(HumanTask, task.id))
        assert set(view.form_data) <= {"finding", "passed"}
        row = s.get(HumanTask, task.id)
        with pytest.raises(FormInvalid) as caught:
            validate_submission(s, ctx, row, row.instance, {"passed": "通过"})
        assert set(caught.value.details["fields"]) == {"finding"}
    act(factory, ctx, "office1", iid, "handle", {"finding": "已整改到位"})
    assert runtime.instance_data(session, ctx, session.get(HumanTask, task.id).instance)["finding"] == "已整改到位"


def test_a_diagram_naming_a_missing_version_is_a_deploy_error(factory, ctx, demo):
    _save(factory, ctx, demo)
    with pytest.raises(DefinitionInvalid) as caught:
        _deploy(factory, ctx, demo, "rect_recheck@9")
    problems = caught.value.details["problems"]
    assert [(p["element_id"], "rect_recheck@9" in p["message_en"]) for p in problems] == [("handle", True)]
