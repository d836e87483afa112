"""Claiming and completing: who may, what conflicts look like, and that a refused step changes nothing."""

from __future__ import annotations

import threading
from dataclasses import replace

import pytest
from sqlalchemy import select

from engine import audit, queues, runtime
from engine.actors import Actor
from engine.db import transaction
from engine.errors import (
    FormInvalid,
    NotFound,
    NotPermitted,
    StaleState,
    TaskAlreadyClaimed,
    TaskNotActive,
    TaskNotClaimedByYou,
)
from models import AuditEvent, HumanTask
from tests.helpers import act, add_user, instance, make_members, open_clue, open_rectification, ready_task


def _snapshot(factory, iid):  # type: ignore[no-untyped-def]
    row = instance(factory, iid)
    with factory() as s:
        tasks = [(t.id, t.status, t.assignee_id, t.revision) for t in s.execute(
            select(HumanTask).where(HumanTask.instance_id == iid).order_by(HumanTask.id)).scalars()]
        events = s.execute(select(AuditEvent.id).where(AuditEvent.instance_id == iid)).scalars().all()
        return row.version, row.state, tasks, len(events)


def test_form_failing_its_schema_is_refused_per_field_and_changes_nothing(factory, ctx, demo):
    iid = open_clue(factory, ctx, demo)
    office = demo.actor("office1")
    act(factory, ctx, office, iid, "handover", {"handover_list": "清单"})
    tid = ready_task(factory, iid, "acknowledge").id
    jw = demo.actor("jw1")
    with transaction(factory) as s:
        runtime.claim_task(s, ctx, jw, tid)
    before = _snapshot(factory, iid)
    with pytest.raises(FormInvalid) as caught, transaction(factory) as s:
        runtime.complete_task(s, ctx, jw, tid, {"ack_decision": "退回"})
    assert set(caught.value.details["fields"]) == {"return_reason"}
    assert caught.value.details["fields"]["return_reason"]["message_zh"] == "此项为必填项。"
    with pytest.raises(FormInvalid) as caught, transaction(factory) as s:
        runtime.complete_task(s, ctx, jw, tid, {"ack_decision": "拒收", "items": []})
    assert set(caught.value.details["fields"]) == {"ack_decision", "items"}
    assert _snapshot(factory, iid) == before


def test_completing_a_task_you_have_not_claimed_is_refused(factory, ctx, demo):
    iid = open_clue(factory, ctx, demo)
    tid = ready_task(factory, iid, "handover").id
    before = _snapshot(factory, iid)
    with pytest.raises(TaskNotClaimedByYou), transaction(factory) as s:
        runtime.complete_task(s, ctx, demo.actor("office1"), tid, {"handover_list": "x"})
    assert _snapshot(factory, iid) == before


def test_completing_a_task_someone_else_holds_is_refused(factory, ctx, demo):
    iid = open_rectification(factory, ctx, demo)
    tid = ready_task(factory, iid, "receive_feedback").id
    with transaction(factory) as s:
        runtime.assign_task(s, ctx, demo.actor("office1"), tid, "unit1")
    with pytest.raises(TaskNotClaimedByYou), transaction(factory) as s:
        runtime.complete_task(s, ctx, demo.actor("office1"), tid, {"feedback_received_on": "2026-11-20"},
                              claim_if_free=True)


def test_second_claimer_gets_task_already_claimed(factory, ctx, demo, session):
    iid = open_clue(factory, ctx, demo)
    tid = ready_task(factory, iid, "handover").id
    with transaction(factory) as s:
        runtime.claim_task(s, ctx, demo.actor("office1"), tid)
    second_office_member = replace(demo.actor("office1"), user_id=demo.users["leader1"].id, username="other")
    with pytest.raises(TaskAlreadyClaimed), transaction(factory) as s:
        runtime.claim_task(s, ctx, second_office_member, tid)


def test_non_candidates_cannot_claim_and_invisible_tasks_are_not_found(factory, ctx, demo):
    iid = open_clue(factory, ctx, demo)
    tid = ready_task(factory, iid, "handover").id
    with pytest.raises(NotFound), transaction(factory) as s:
        runtime.claim_task(s, ctx, demo.actor("unit1"), tid)
    with pytest.raises(NotPermitted), transaction(factory) as s:
        runtime.claim_task(s, ctx, demo.actor("leader1"), tid)


def test_completed_task_cannot_be_completed_again(factory, ctx, demo):
    iid = open_clue(factory, ctx, demo)
    office = demo.actor("office1")
    tid = ready_task(factory, iid, "handover").id
    act(factory, ctx, office, iid, "handover", {"handover_list": "x"})
    with pytest.raises(TaskNotActive), transaction(factory) as s:
        runtime.complete_task(s, ctx, office, tid, {"handover_list": "x"})


def test_stale_form_revision_is_refused(factory, ctx, demo):
    iid = open_clue(factory, ctx, demo)
    office = demo.actor("office1")
    tid = ready_task(factory, iid, "handover").id
    with factory() as s:
        opened = s.get(HumanTask, tid).revision  # type: ignore[union-attr]
    with transaction(factory) as s:
        runtime.claim_task(s, ctx, office, tid)
    with pytest.raises(StaleState), transaction(factory) as s:
        runtime.complete_task(s, ctx, office, tid, {"handover_list": "x"}, expected_revision=opened)


def test_exactly_one_of_many_concurrent_claimers_wins(factory, ctx, demo):
    """Twenty threads, each a different candidate of the unit's role, claim the same task at once."""
    iid = open_rectification(factory, ctx, demo)
    tid = ready_task(factory, iid, "receive_feedback").id
    contenders = make_members(factory, 20, "unit", "U-EDU")
    outcomes: list[str] = []
    barrier = threading.Barrier(len(contenders))

    def claim(actor: Actor) -> None:
        barrier.wait()
        try:
            with transaction(factory) as s:
                runtime.claim_task(s, ctx, actor, tid)
            outcomes.append("won")
        except TaskAlreadyClaimed:
            outcomes.append("lost")

    threads = [threading.Thread(target=claim, args=(a,)) for a in contenders]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["lost"] * 19 + ["won"]
    with factory() as s:
        task = s.get(HumanTask, tid)
        assert task is not None and task.assignee_id in {a.user_id for a in contenders}
        claims = [e for e in audit.stream_events(s, iid) if e.event_type == "task_claimed"]
        assert len(claims) == 1


def test_a_recused_person_never_sees_the_clue_in_any_queue(factory, ctx, demo):
    """回避: an office member named as the person concerned (matched by ID number) neither finds the
    clue's task in a queue nor can open or claim it; a colleague can."""
    recused, colleague = (add_user(factory, name, "OFFICE", [("office", "CITY")], id_number=number)
                          for name, number in (("office-recused", "110101197001011234"), ("office-2", None)))
    iid = open_clue(factory, ctx, demo, persons=[{"name": "当事人", "id_number": "110101197001011234"}])
    tid = ready_task(factory, iid, "handover").id
    with factory() as s:
        for queue in ("group", "all"):
            assert queues.list_tasks(s, recused, queue).total == 0
            assert queues.list_tasks(s, colleague, queue).total == 1
    with pytest.raises(NotFound), transaction(factory) as s:
        runtime.claim_task(s, ctx, recused, tid)
