"""Diagram drafts (engine.definition_drafts): one per process and author, guarded by their revision;
validating without storing; the modeler's catalog; deploying from the modeler drops the draft."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from engine import definition_drafts as drafts
from engine.context import EngineContext
from engine.db import transaction
from engine.definitions import MAX_BPMN_BYTES
from engine.demo import Demo
from engine.errors import DefinitionInvalid, InvalidInput, NotFound, NotPermitted, StaleState, TooLarge
from engine.form_library import save_form
from engine.versions import current_definition
from models import AuditEvent, DefinitionDraft, ProcessDefinition
from tests.helpers import add_user, simple_bpmn


def _save(factory: sessionmaker[Session], ctx: EngineContext, demo: Demo, xml: bytes, username: str = "designer1",
          **kwargs: object) -> int:
    with transaction(factory) as session:
        draft = drafts.save_draft(session, demo.actor(username), xml, now=ctx.clock.now(), **kwargs)  # type: ignore[arg-type]
        return draft.revision


def test_a_first_save_creates_the_draft_under_the_diagrams_process_id(factory, ctx, demo):
    revision = _save(factory, ctx, demo, simple_bpmn("review", name="复核流程"))
    with transaction(factory) as session:
        draft = drafts.get_draft(session, demo.actor("designer1"), "review")
        assert (draft.key, draft.name, draft.revision) == ("review", "复核流程", revision)
        assert "复核流程" in draft.bpmn_xml


def test_saving_at_the_loaded_revision_updates_and_bumps_it(factory, ctx, demo):
    first = _save(factory, ctx, demo, simple_bpmn("review"))
    second = _save(factory, ctx, demo, simple_bpmn("review", task_name="复核"), expected_revision=first)
    assert second == first + 1
    with transaction(factory) as session:
        assert "复核" in drafts.get_draft(session, demo.actor("designer1"), "review").bpmn_xml


def test_saving_over_a_newer_copy_is_stale(factory, ctx, demo):
    first = _save(factory, ctx, demo, simple_bpmn("review"))
    _save(factory, ctx, demo, simple_bpmn("review", task_name="另一窗口"), expected_revision=first)
    with pytest.raises(StaleState) as caught:
        _save(factory, ctx, demo, simple_bpmn("review", task_name="旧窗口"), expected_revision=first)
    assert "草稿已在别处修改" in caught.value.message_zh
    with pytest.raises(StaleState):  # an editor that started without a draft may not overwrite one
        _save(factory, ctx, demo, simple_bpmn("review", task_name="新窗口"))


def test_saving_a_draft_that_was_discarded_elsewhere_is_stale(factory, ctx, demo):
    first = _save(factory, ctx, demo, simple_bpmn("review"))
    with transaction(factory) as session:
        drafts.discard_draft(session, demo.actor("designer1"), "review")
    with pytest.raises(StaleState):
        _save(factory, ctx, demo, simple_bpmn("review"), expected_revision=first)


def test_drafts_are_per_author_and_listed_only_to_their_author(factory, ctx, demo, session):
    _save(factory, ctx, demo, simple_bpmn("review"))
    with transaction(factory) as s:
        assert [d.key for d in drafts.list_drafts(s, demo.actor("designer1"))] == ["review"]
    second = add_user(factory, "designer2", "CITY", "supervisor")
    with transaction(factory) as s:
        assert drafts.list_drafts(s, second) == []
        assert drafts.load_draft(s, second, "review") is None
        drafts.save_draft(s, second, simple_bpmn("review"), now=ctx.clock.now())
    assert session.execute(select(func.count()).select_from(DefinitionDraft)).scalar_one() == 2


def test_only_supervisors_keep_drafts(factory, ctx, demo):
    for username in ("office1", "unit1"):
        with pytest.raises(NotPermitted):
            _save(factory, ctx, demo, simple_bpmn("review"), username=username)
        with transaction(factory) as session, pytest.raises(NotPermitted):
            drafts.list_drafts(session, demo.actor(username))


def test_an_oversized_draft_is_refused(factory, ctx, demo):
    xml = simple_bpmn("review").replace(b"</bpmn:definitions>", b"<!--" + b"x" * MAX_BPMN_BYTES + b"-->"
                                        b"</bpmn:definitions>")
    with pytest.raises(TooLarge):
        _save(factory, ctx, demo, xml)


def test_a_draft_needs_one_executable_process_and_the_urls_key(factory, ctx, demo):
    with pytest.raises(DefinitionInvalid):
        _save(factory, ctx, demo, b"<not-closed")
    with pytest.raises(DefinitionInvalid):
        _save(factory, ctx, demo, simple_bpmn("review").replace(b'isExecutable="true"', b'isExecutable="false"'))
    with pytest.raises(InvalidInput):
        _save(factory, ctx, demo, simple_bpmn("review"), key="rectification")


def test_an_invalid_diagram_can_still_be_kept_as_a_draft(factory, ctx, demo):
    _save(factory, ctx, demo, simple_bpmn("review", lane="no_such_group"))
    with transaction(factory) as session:
        assert drafts.get_draft(session, demo.actor("designer1"), "review").key == "review"


def test_discarding_a_draft_that_is_not_there_is_not_found(factory, ctx, demo):
    with transaction(factory) as session, pytest.raises(NotFound):
        drafts.discard_draft(session, demo.actor("designer1"), "review")


def test_validate_lists_problems_with_element_ids_and_stores_nothing(factory, ctx, demo, session):
    with transaction(factory) as s:
        result = drafts.validate(s, ctx, demo.actor("designer1"), simple_bpmn("review", lane="no_such_group"))
    assert not result.ok
    lane = [p for p in result.problems if p.element_id == "Lane_1"]
    assert lane and lane[0].severity == "error" and "no_such_group" in lane[0].message_zh
    assert session.execute(select(func.count()).select_from(ProcessDefinition)
                           .where(ProcessDefinition.key == "review")).scalar_one() == 0


def test_validate_passes_a_deployable_diagram_with_its_warnings(factory, ctx, demo):
    with transaction(factory) as s:
        result = drafts.validate(s, ctx, demo.actor("designer1"), simple_bpmn("review"))
    assert result.ok
    assert [(p.element_id, p.severity) for p in result.problems] == [("handle", "warning")]  # no form: generic
    with transaction(factory) as s:
        broken = drafts.validate(s, ctx, demo.actor("designer1"), b"<bpmn")
    assert not broken.ok and broken.problems[0].element_id is None


def test_validate_is_for_supervisors(factory, ctx, demo):
    with transaction(factory) as s, pytest.raises(NotPermitted):
        drafts.validate(s, ctx, demo.actor("office1"), simple_bpmn("review"))


def test_the_catalog_offers_groups_forms_grades_and_audiences(factory, ctx, demo):
    with transaction(factory) as s:
        catalog = drafts.catalog(s, ctx, demo.actor("designer1"))
    groups = {g["key"]: g["name"] for g in catalog["groups"]}
    assert groups["office"] == "巡察办" and "unit" in groups
    forms = {f["key"]: f for f in catalog["forms"]}
    assert forms["rect_review_plan.schema.json"]["source"] == "file"
    assert [g["key"] for g in catalog["escalation_grades"]] == ["提醒", "督办", "通报"]
    assert catalog["audiences"][0]["key"] == "holder" and "leading_group" in {a["key"] for a in catalog["audiences"]}
    with transaction(factory) as s, pytest.raises(NotPermitted):
        drafts.catalog(s, ctx, demo.actor("unit1"))


def test_the_catalog_lists_every_version_of_a_stored_form_newest_first(factory, ctx, demo):
    schema = {"title": "复核", "type": "object", "properties": {"opinion": {"type": "string", "title": "意见"}}}
    with transaction(factory) as s:
        save_form(s, demo.actor("designer1"), "rect_recheck", schema, {}, "复核", None, at=ctx.clock.now(),
                  expected_version=None)
    with transaction(factory) as s:
        save_form(s, demo.actor("designer1"), "rect_recheck", {**schema, "required": ["opinion"]}, {}, "复核", None,
                  at=ctx.clock.now(), expected_version=1)
    with transaction(factory) as s:
        stored = [f for f in drafts.catalog(s, ctx, demo.actor("designer1"))["forms"] if f["source"] == "stored"]
    assert [f["key"] for f in stored] == ["rect_recheck@2", "rect_recheck@1"]


def test_deploying_from_the_modeler_stores_a_current_version_and_drops_the_draft(factory, ctx, demo, session):
    _save(factory, ctx, demo, simple_bpmn("review"))
    with transaction(factory) as s:
        result = drafts.deploy_diagram(s, ctx, demo.actor("designer1"), simple_bpmn("review", task_name="复核"),
                                       comment="加复核")
        assert result.created and result.definition.version == 1
    with transaction(factory) as s:
        assert drafts.load_draft(s, demo.actor("designer1"), "review") is None
        assert current_definition(s, "review").comment == "加复核"
    deployed = session.execute(select(AuditEvent).where(AuditEvent.event_type == "definition_deployed")
                               .order_by(AuditEvent.id.desc())).scalars().first()
    assert deployed is not None and '"review"' in deployed.payload
    assert session.execute(select(func.count()).select_from(AuditEvent)
                           .where(AuditEvent.event_type.like("draft%"))).scalar_one() == 0  # drafts are not audited


def test_deploying_without_make_current_keeps_new_cases_on_the_current_version(factory, ctx, demo):
    with transaction(factory) as s:
        drafts.deploy_diagram(s, ctx, demo.actor("designer1"), simple_bpmn("review"))
    with transaction(factory) as s:
        drafts.deploy_diagram(s, ctx, demo.actor("designer1"), simple_bpmn("review", task_name="复核"),
                              make_current=False)
    with transaction(factory) as s:
        assert current_definition(s, "review").version == 1


def test_an_invalid_deploy_keeps_the_draft(factory, ctx, demo):
    _save(factory, ctx, demo, simple_bpmn("review", lane="no_such_group"))
    with transaction(factory) as s, pytest.raises(DefinitionInvalid):
        drafts.deploy_diagram(s, ctx, demo.actor("designer1"), simple_bpmn("review", lane="no_such_group"))
    with transaction(factory) as s:
        assert drafts.load_draft(s, demo.actor("designer1"), "review") is not None


def test_only_supervisors_deploy_from_the_modeler(factory, ctx, demo):
    with transaction(factory) as s, pytest.raises(NotPermitted):
        drafts.deploy_diagram(s, ctx, demo.actor("office1"), simple_bpmn("review"))


def test_the_modeler_opens_the_current_version_or_the_one_asked_for(factory, ctx, demo):
    with transaction(factory) as s:
        drafts.deploy_diagram(s, ctx, demo.actor("designer1"), simple_bpmn("review"))
        drafts.deploy_diagram(s, ctx, demo.actor("designer1"), simple_bpmn("review", task_name="复核"),
                              make_current=False)
    with transaction(factory) as s:
        actor = demo.actor("designer1")
        assert drafts.starting_xml(s, actor, "review", None)[1] == 1
        xml, version = drafts.starting_xml(s, actor, "review", 2)
        assert version == 2 and "复核" in xml
        with pytest.raises(NotFound):
            drafts.starting_xml(s, actor, "review", 9)
