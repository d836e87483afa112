"""Handing work around: delegation with resolve (Camunda's model), 退回 to the previous performer,
and the notifications each change sends."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy import select

from engine import notify, returns, runtime
from engine.db import transaction
from engine.errors import (
    DelegationPending,
    FormInvalid,
    InvalidInput,
    NotPermitted,
    ReturnNotAllowed,
    TaskNotClaimedByYou,
)
from engine.scheduler import notices
from models import AuditEvent, DelegationState, HumanTask, Notification, NotificationKind, TaskDraft, User
from tests.helpers import act, add_user, open_clue, open_rectification, ready_task, submit_plan, task_row


def _notes(factory, username, kind=None):  # type: ignore[no-untyped-def]
    with factory() as s:
        user_id = s.execute(select(User.id).where(User.username == username)).scalar_one()
        stmt = select(Notification).where(Notification.user_id == user_id)
        if kind:
            stmt = stmt.where(Notification.kind == kind)
        return list(s.execute(stmt.order_by(Notification.id)).scalars())


def _events(factory, iid, event_type):  # type: ignore[no-untyped-def]
    with factory() as s:
        return [json.loads(e.payload) for e in s.execute(
            select(AuditEvent).where(AuditEvent.instance_id == iid, AuditEvent.event_type == event_type)
            .order_by(AuditEvent.seq)).scalars()]


def _to_review(factory, ctx, demo):  # type: ignore[no-untyped-def]
    iid = open_rectification(factory, ctx, demo)
    return iid, submit_plan(factory, ctx, iid)


# -- delegation ---------------------------------------------------------------------------------------------------

def test_delegated_task_goes_to_the_delegate_and_comes_back_to_its_owner_with_their_work(factory, ctx, demo):
    colleague = add_user(factory, "unit1b", "U-EDU", "unit")
    iid = open_rectification(factory, ctx, demo)
    tid = ready_task(factory, iid, "receive_feedback").id
    unit1 = demo.actor("unit1")
    with transaction(factory) as s:
        runtime.claim_task(s, ctx, unit1, tid)
    with transaction(factory) as s:
        runtime.delegate_task(s, ctx, unit1, tid, "unit1b")
    row = task_row(factory, tid)
    assert (row.assignee_id, row.owner_id, row.delegation) == (colleague.user_id, unit1.user_id,
                                                               DelegationState.PENDING)
    assert [n.kind for n in _notes(factory, "unit1b", kind=NotificationKind.ASSIGNED)] == ["assigned"]

    with pytest.raises(DelegationPending), transaction(factory) as s:  # the delegate cannot complete it
        runtime.complete_task(s, ctx, colleague, tid, {"feedback_received_on": "2026-11-25"})
    with pytest.raises(FormInvalid), transaction(factory) as s:  # resolving validates the form
        runtime.resolve_task(s, ctx, colleague, tid, {"feedback_received_on": "not a date"})
    with transaction(factory) as s:
        runtime.resolve_task(s, ctx, colleague, tid, {"feedback_received_on": "2026-11-24"})
    row = task_row(factory, tid)
    assert (row.assignee_id, row.delegation) == (unit1.user_id, DelegationState.RESOLVED)
    with factory() as s:
        draft = s.get(TaskDraft, (tid, unit1.user_id))
        assert draft is not None and draft.data == {"feedback_received_on": "2026-11-24"}
    assert _notes(factory, "unit1", kind=NotificationKind.RETURNED)

    with transaction(factory) as s:  # the owner approves by completing; the draft is spent
        runtime.complete_task(s, ctx, unit1, tid, {"feedback_received_on": "2026-11-24"})
    with factory() as s:
        assert s.get(TaskDraft, (tid, unit1.user_id)) is None
    delegated, resolved = _events(factory, iid, "task_delegated")[0], _events(factory, iid, "task_resolved")[0]
    assert delegated["before"]["assignee"] == "unit1" and delegated["after"] == {
        "assignee": "unit1b", "owner": "unit1", "delegation": "pending"}
    assert resolved["after"]["assignee"] == "unit1" and resolved["data"] == {"feedback_received_on": "2026-11-24"}


def test_only_the_holder_or_the_office_may_delegate_and_only_to_someone_who_may_see_the_case(factory, ctx, demo):
    colleague = add_user(factory, "unit1b", "U-EDU", "unit")
    iid = open_rectification(factory, ctx, demo)
    tid = ready_task(factory, iid, "receive_feedback").id
    with pytest.raises(TaskNotClaimedByYou), transaction(factory) as s:  # nobody holds it yet
        runtime.delegate_task(s, ctx, demo.actor("unit1"), tid, "unit1b")
    with transaction(factory) as s:
        runtime.claim_task(s, ctx, demo.actor("unit1"), tid)
    with pytest.raises(NotPermitted), transaction(factory) as s:  # a colleague who does not hold it
        runtime.delegate_task(s, ctx, colleague, tid, "unit1")
    with pytest.raises(InvalidInput), transaction(factory) as s:  # another unit's liaison may not see the case
        runtime.delegate_task(s, ctx, demo.actor("unit1"), tid, "unit2")
    with transaction(factory) as s:  # the office may, on the holder's behalf
        runtime.delegate_task(s, ctx, demo.actor("office1"), tid, "unit1b")
    assert task_row(factory, tid).owner_id == demo.users["unit1"].id


def test_owner_recalls_a_pending_delegation_and_the_delegate_may_decline_it(factory, ctx, demo):
    colleague = add_user(factory, "unit1b", "U-EDU", "unit")
    iid = open_rectification(factory, ctx, demo)
    tid = ready_task(factory, iid, "receive_feedback").id
    unit1 = demo.actor("unit1")
    with transaction(factory) as s:
        runtime.claim_task(s, ctx, unit1, tid)
        runtime.delegate_task(s, ctx, unit1, tid, "unit1b")
    with transaction(factory) as s:  # the owner recalls
        runtime.unclaim_task(s, ctx, unit1, tid)
    row = task_row(factory, tid)
    assert (row.assignee_id, row.owner_id, row.delegation) == (unit1.user_id, None, None)
    with transaction(factory) as s:
        runtime.delegate_task(s, ctx, unit1, tid, "unit1b")
    with transaction(factory) as s:  # the delegate declines: back to the owner, not to the group
        runtime.unclaim_task(s, ctx, colleague, tid)
    assert task_row(factory, tid).assignee_id == unit1.user_id


# -- 退回 ---------------------------------------------------------------------------------------------------------

def test_return_sends_the_plan_back_to_the_liaison_who_drafted_it_with_the_reason(factory, ctx, demo):
    iid, _plan = _to_review(factory, ctx, demo)
    tid = ready_task(factory, iid, "review_plan").id
    office = demo.actor("office1")
    with pytest.raises(FormInvalid) as caught, transaction(factory) as s:
        runtime.return_task(s, ctx, office, tid, "  ", claim_if_free=True)
    assert set(caught.value.details["fields"]) == {"return_reason"}
    with transaction(factory) as s:
        runtime.return_task(s, ctx, office, tid, "措施不具体，请细化到人。", claim_if_free=True)
    redo = ready_task(factory, iid, "draft_plan")
    assert redo.assignee_id == demo.users["unit1"].id  # straight back to its previous performer
    note = _notes(factory, "unit1", kind=NotificationKind.RETURNED)[-1]
    assert note.task_id == redo.id and "措施不具体" in note.message
    returned = _events(factory, iid, "task_returned")[-1]
    assert returned["reason"] == "措施不具体，请细化到人。"
    assert returned["returned_to"] == [{"task_id": redo.id, "name": redo.name, "assignee": "unit1"}]
    with factory() as s:
        shown = returns.last_return(s, s.get(HumanTask, redo.id))
    assert shown is not None and shown["by"] == "office1" and shown["reason"] == "措施不具体，请细化到人。"


def test_choosing_the_return_option_in_the_form_is_the_same_return(factory, ctx, demo):
    iid, _plan = _to_review(factory, ctx, demo)
    act(factory, ctx, "office1", iid, "review_plan", {"plan_decision": "退回修改", "plan_review_opinion": "补充时限"})
    assert ready_task(factory, iid, "draft_plan").assignee_id == demo.users["unit1"].id


def test_return_where_the_diagram_allows_none_is_refused_and_changes_nothing(factory, ctx, demo):
    iid = open_rectification(factory, ctx, demo)
    tid = ready_task(factory, iid, "receive_feedback").id
    with pytest.raises(ReturnNotAllowed), transaction(factory) as s:
        runtime.return_task(s, ctx, demo.actor("unit1"), tid, "不是我们单位的", claim_if_free=True)
    row = task_row(factory, tid)
    assert (row.status, row.assignee_id) == ("ready", None)


def test_a_returned_step_whose_performer_may_no_longer_take_it_stays_with_the_group(factory, ctx, demo):
    iid, _plan = _to_review(factory, ctx, demo)
    with transaction(factory) as s:
        s.execute(select(User).where(User.username == "unit1")).scalar_one().active = False
    with transaction(factory) as s:
        runtime.return_task(s, ctx, demo.actor("office1"), ready_task(factory, iid, "review_plan").id, "重做",
                            claim_if_free=True)
    assert ready_task(factory, iid, "draft_plan").assignee_id is None


def test_clue_acknowledgement_can_be_returned_to_the_office(factory, ctx, demo):
    iid = open_clue(factory, ctx, demo)
    act(factory, ctx, "office1", iid, "handover", {"handover_list": "清单"})
    with transaction(factory) as s:
        runtime.return_task(s, ctx, demo.actor("jw1"), ready_task(factory, iid, "acknowledge").id,
                            "材料不全", claim_if_free=True)
    assert ready_task(factory, iid, "handle_return")


# -- notifications ------------------------------------------------------------------------------------------------

def test_a_new_task_is_offered_to_its_candidates_but_not_to_recused_people_nor_other_units(factory, ctx, demo):
    iid = open_rectification(factory, ctx, demo)
    tid = ready_task(factory, iid, "receive_feedback").id
    assert _notes(factory, "unit1", kind=NotificationKind.OFFERED) == []  # the step itself tells nobody …
    assert notices(factory, ctx)[0] == 1  # … the scheduler's next tick does, once
    assert notices(factory, ctx)[0] == 0
    assert [n.task_id for n in _notes(factory, "unit1", kind=NotificationKind.OFFERED)] == [tid]
    assert not [n for n in _notes(factory, "unit2") if n.task_id == tid]
    concerned = add_user(factory, "jw-concerned", "JW", "receiving_body", id_number="410100197001010011")
    clue = open_clue(factory, ctx, demo, persons=[{"name": "某某", "id_number": "410100197001010011"}])
    act(factory, ctx, "office1", clue, "handover", {"handover_list": "清单"})
    notices(factory, ctx)
    offered = {n.instance_id for n in _notes(factory, "jw1", kind=NotificationKind.OFFERED)}
    assert clue in offered  # the receiving body's handler is told …
    assert not [n for n in _notes(factory, concerned.username) if n.instance_id == clue]  # … the person concerned not


def test_claiming_withdraws_the_offer_from_the_rest_of_the_group(factory, ctx, demo):
    others = [add_user(factory, f"liaison{n}", "U-EDU", "unit") for n in range(2)]
    iid = open_rectification(factory, ctx, demo)
    tid = ready_task(factory, iid, "receive_feedback").id
    notices(factory, ctx)
    with factory() as s:
        assert notify.unread_count(s, others[0]) == 1
    with transaction(factory) as s:
        runtime.claim_task(s, ctx, demo.actor("unit1"), tid)
    with factory() as s:
        assert notify.unread_count(s, others[0]) == 0


def test_due_soon_warns_the_holder_once_and_the_mail_hook_sends_each_notice_once(factory, ctx, demo, clock):
    iid = open_rectification(factory, ctx, demo)
    tid = ready_task(factory, iid, "receive_feedback").id
    with transaction(factory) as s:
        runtime.claim_task(s, ctx, demo.actor("unit1"), tid)
    _, warned, _ = notices(factory, ctx)
    assert warned == 0  # far from its deadline
    clock.advance(timedelta(days=40))
    _, warned, mailed = notices(factory, ctx)
    assert warned >= 1 and mailed >= 1
    assert [n.task_id for n in _notes(factory, "unit1", kind=NotificationKind.DUE_SOON)] == [tid]
    assert notices(factory, ctx) == (0, 0, 0)  # warned once, mailed once
    sent = [m for m in ctx.mailer.sent if m.to_username == "unit1"]
    assert any("即将到期" in m.subject for m in sent)


def test_people_read_and_clear_only_their_own_notifications(factory, ctx, demo, clock):
    iid = open_rectification(factory, ctx, demo)
    ready_task(factory, iid, "receive_feedback")
    notices(factory, ctx)
    mine = _notes(factory, "unit1")[0]
    with pytest.raises(Exception) as caught, transaction(factory) as s:
        notify.mark_read(s, demo.actor("unit2"), mine.id, clock.now())
    assert getattr(caught.value, "status", None) == 404
    with transaction(factory) as s:
        notify.mark_read(s, demo.actor("unit1"), mine.id, clock.now())
    with factory() as s:
        assert notify.unread_count(s, demo.actor("unit1")) == 0
