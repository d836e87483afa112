"""Drafts: only the holder of a ready task saves one; it is kept unvalidated but bounded, changes nothing
about the task or the case, is private to its author, and completing the task discards it."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from engine import drafts, runtime
from engine.db import transaction
from engine.errors import FormInvalid, InvalidInput, NotFound, StaleState, TaskNotActive, TaskNotClaimedByYou, TooLarge
from models import AuditEvent, TaskDraft
from tests.helpers import act, instance, open_clue, open_rectification, ready_task, task_row


def _claimed_feedback(factory, ctx, demo, username="unit1"):  # type: ignore[no-untyped-def]
    iid = open_rectification(factory, ctx, demo)
    tid = ready_task(factory, iid, "receive_feedback").id
    with transaction(factory) as s:
        runtime.claim_task(s, ctx, demo.actor(username), tid)
    return iid, tid


def _events(factory, iid):  # type: ignore[no-untyped-def]
    with factory() as s:
        return s.execute(select(func.count()).select_from(AuditEvent).where(AuditEvent.instance_id == iid)).scalar()


def test_the_holder_saves_an_unfinished_draft_that_changes_neither_task_nor_case(factory, ctx, demo, clock):
    iid, tid = _claimed_feedback(factory, ctx, demo)
    unit = demo.actor("unit1")
    revision, version, events = task_row(factory, tid).revision, instance(factory, iid).version, _events(factory, iid)

    with transaction(factory) as s:
        saved = drafts.save_draft(s, ctx, unit, tid, {"feedback_received_on": "下周一"}, expected_revision=revision)

    assert saved.data == {"feedback_received_on": "下周一"}  # not a date yet, and kept as typed
    assert saved.saved_at == clock.now()
    with factory() as s:
        loaded = drafts.load_draft(s, unit, tid)
    assert loaded is not None and loaded.data == {"feedback_received_on": "下周一"}
    assert task_row(factory, tid).revision == revision
    assert instance(factory, iid).version == version
    assert _events(factory, iid) == events  # drafts are not audited (docs/architecture.md)


def test_saving_again_replaces_the_draft(factory, ctx, demo, clock):
    _iid, tid = _claimed_feedback(factory, ctx, demo)
    unit = demo.actor("unit1")
    with transaction(factory) as s:
        drafts.save_draft(s, ctx, unit, tid, {"feedback_meeting_note": "第一稿"})
    clock.advance(timedelta(minutes=5))
    with transaction(factory) as s:
        drafts.save_draft(s, ctx, unit, tid, {"feedback_meeting_note": "第二稿"})
    with factory() as s:
        rows = s.execute(select(TaskDraft).where(TaskDraft.task_id == tid)).scalars().all()
        assert [(r.data, r.saved_at) for r in rows] == [({"feedback_meeting_note": "第二稿"}, clock.now())]


def test_a_candidate_who_has_not_claimed_the_task_cannot_save_a_draft(factory, ctx, demo):
    iid = open_rectification(factory, ctx, demo)
    tid = ready_task(factory, iid, "receive_feedback").id
    with pytest.raises(TaskNotClaimedByYou), transaction(factory) as s:
        drafts.save_draft(s, ctx, demo.actor("unit1"), tid, {"feedback_meeting_note": "x"})
    with factory() as s:
        assert s.execute(select(func.count()).select_from(TaskDraft)).scalar() == 0


def test_only_the_holder_saves_and_strangers_do_not_learn_the_task_exists(factory, ctx, demo):
    _iid, tid = _claimed_feedback(factory, ctx, demo)
    with pytest.raises(TaskNotClaimedByYou), transaction(factory) as s:
        drafts.save_draft(s, ctx, demo.actor("office1"), tid, {"feedback_meeting_note": "x"})  # sees it, not holder
    with pytest.raises(NotFound), transaction(factory) as s:
        drafts.save_draft(s, ctx, demo.actor("unit2"), tid, {"feedback_meeting_note": "x"})
    with pytest.raises(NotFound), factory() as s:
        drafts.load_draft(s, demo.actor("unit2"), tid)


def test_a_draft_of_a_form_opened_at_another_revision_is_stale(factory, ctx, demo):
    _iid, tid = _claimed_feedback(factory, ctx, demo)
    seen = task_row(factory, tid).revision
    with pytest.raises(StaleState), transaction(factory) as s:
        drafts.save_draft(s, ctx, demo.actor("unit1"), tid, {}, expected_revision=seen - 1)
    with transaction(factory) as s:
        drafts.save_draft(s, ctx, demo.actor("unit1"), tid, {}, expected_revision=seen)


def test_unknown_fields_non_objects_and_non_json_are_refused(factory, ctx, demo):
    _iid, tid = _claimed_feedback(factory, ctx, demo)
    unit = demo.actor("unit1")
    with pytest.raises(FormInvalid) as caught, transaction(factory) as s:
        drafts.save_draft(s, ctx, unit, tid, {"feedback_meeting_note": "x", "plan_summary": "别的表单的字段"})
    assert set(caught.value.details["fields"]) == {"plan_summary"}
    with pytest.raises(InvalidInput), transaction(factory) as s:
        drafts.save_draft(s, ctx, unit, tid, ["not", "an", "object"])  # type: ignore[arg-type]
    with pytest.raises(InvalidInput), transaction(factory) as s:
        drafts.save_draft(s, ctx, unit, tid, {"feedback_meeting_note": float("nan")})


def test_a_draft_over_the_size_limit_is_refused_and_one_at_the_limit_kept(factory, ctx, demo):
    _iid, tid = _claimed_feedback(factory, ctx, demo)
    unit = demo.actor("unit1")
    overhead = len('{"feedback_meeting_note":""}')
    at_limit = {"feedback_meeting_note": "x" * (drafts.MAX_DRAFT_BYTES - overhead)}
    with pytest.raises(TooLarge) as caught, transaction(factory) as s:
        drafts.save_draft(s, ctx, unit, tid, {"feedback_meeting_note": "x" * (drafts.MAX_DRAFT_BYTES - overhead + 1)})
    assert caught.value.status == 413
    with pytest.raises(TooLarge), transaction(factory) as s:  # counted in UTF-8 bytes: 一 is three
        drafts.save_draft(s, ctx, unit, tid, {"feedback_meeting_note": "一" * (drafts.MAX_DRAFT_BYTES // 3)})
    with transaction(factory) as s:
        drafts.save_draft(s, ctx, unit, tid, at_limit)


def test_no_draft_on_a_completed_task(factory, ctx, demo):
    iid, tid = _claimed_feedback(factory, ctx, demo)
    with transaction(factory) as s:
        runtime.complete_task(s, ctx, demo.actor("unit1"), tid, {"feedback_received_on": "2026-11-25"})
    with pytest.raises(TaskNotActive), transaction(factory) as s:
        drafts.save_draft(s, ctx, demo.actor("unit1"), tid, {"feedback_meeting_note": "晚了"})
    assert ready_task(factory, iid, "draft_plan")


def test_each_person_reads_only_their_own_draft(factory, ctx, demo):
    _iid, tid = _claimed_feedback(factory, ctx, demo)
    with transaction(factory) as s:
        drafts.save_draft(s, ctx, demo.actor("unit1"), tid, {"feedback_meeting_note": "联络员的草稿"})
    with factory() as s:
        assert drafts.load_draft(s, demo.actor("office1"), tid) is None  # sees the task, not the draft
        assert drafts.load_draft(s, demo.actor("unit1"), tid) is not None


def test_completing_the_task_discards_its_drafts(factory, ctx, demo):
    _iid, tid = _claimed_feedback(factory, ctx, demo)
    with transaction(factory) as s:
        drafts.save_draft(s, ctx, demo.actor("unit1"), tid, {"feedback_meeting_note": "草稿"})
    with transaction(factory) as s:
        runtime.complete_task(s, ctx, demo.actor("unit1"), tid, {"feedback_received_on": "2026-11-25"})
    with factory() as s:
        assert s.execute(select(func.count()).select_from(TaskDraft)).scalar() == 0


def test_discard_drafts_removes_every_draft_of_that_task_only(factory, ctx, demo):
    _iid, tid = _claimed_feedback(factory, ctx, demo)
    clue_iid = open_clue(factory, ctx, demo)
    act(factory, ctx, "office1", clue_iid, "handover", {"handover_list": "清单"})
    other = ready_task(factory, clue_iid, "acknowledge").id
    with transaction(factory) as s:
        runtime.claim_task(s, ctx, demo.actor("jw1"), other)
    with transaction(factory) as s:
        drafts.save_draft(s, ctx, demo.actor("unit1"), tid, {"feedback_meeting_note": "a"})
        drafts.save_draft(s, ctx, demo.actor("jw1"), other, {"ack_note": "b"})
        s.add(TaskDraft(task_id=tid, user_id=demo.users["office1"].id, data={"feedback_meeting_note": "c"}))
    with transaction(factory) as s:
        drafts.discard_drafts(s, tid)
    with factory() as s:
        left = s.execute(select(TaskDraft.task_id, TaskDraft.user_id)).all()
    assert left == [(other, demo.users["jw1"].id)]
