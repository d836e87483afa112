"""User and organisation pickers: what a case's picker offers is exactly what submitting accepts."""

from __future__ import annotations

import pytest
from sqlalchemy import update

from engine import runtime
from engine.db import transaction
from engine.errors import FormInvalid
from engine.forms import Form, validate
from engine.pickers import CaseChoices, ancestor_paths
from models import ClueStatus, ProcessInstance, User
from tests.helpers import act, add_user, clue_of, open_clue, ready_task

HANDLER = {"group": "receiving_body"}


def _usernames(factory, iid, hints):  # type: ignore[no-untyped-def]
    with factory() as s:
        return [c.value for c in CaseChoices(s, s.get(ProcessInstance, iid)).options("user", hints)]


def _acknowledging(factory, ctx, demo, **clue):  # type: ignore[no-untyped-def]
    iid = open_clue(factory, ctx, demo, **clue)
    act(factory, ctx, "office1", iid, "handover", {"handover_list": "清单"})
    tid = ready_task(factory, iid, "acknowledge").id
    with transaction(factory) as s:
        runtime.claim_task(s, ctx, demo.actor("jw1"), tid)
    return iid, tid


def test_ancestor_paths_are_the_scopes_that_cover_an_organisation() -> None:
    assert ancestor_paths("/1/4/17/") == ["/1/", "/1/4/", "/1/4/17/"]


def test_a_role_picker_offers_the_holders_of_that_role_over_the_bound_organisation(factory, ctx, demo):
    add_user(factory, "jw2", "JW", [("receiving_body", "JW")], display_name="纪委监委 钱二")
    add_user(factory, "jw-clerk", "JW", "discipline")  # works there, but not as a handler
    to_jw = open_clue(factory, ctx, demo, receiving="JW", number="XS-P-1")
    to_zzb = open_clue(factory, ctx, demo, receiving="ZZB", number="XS-P-2")
    assert _usernames(factory, to_jw, HANDLER) == ["jw1", "jw2"]
    assert _usernames(factory, to_zzb, HANDLER) == ["zzb1"]


def test_the_recused_and_the_inactive_are_never_offered(factory, ctx, demo):
    add_user(factory, "jw-related", "JW", [("receiving_body", "JW")], id_number="110101198001010011")
    gone = add_user(factory, "jw-gone", "JW", [("receiving_body", "JW")])
    with transaction(factory) as s:
        s.execute(update(User).where(User.id == gone.user_id).values(active=False))
    iid = open_clue(factory, ctx, demo, persons=[{"name": "张某", "post": "科长", "id_number": "110101198001010011"}])
    assert _usernames(factory, iid, HANDLER) == ["jw1"]
    with factory() as s:
        choices = CaseChoices(s, s.get(ProcessInstance, iid))
        assert choices.exists("user", "jw-related") and not choices.exists("user", "jw-gone")


def test_without_a_group_the_picker_offers_whoever_works_the_case_and_may_see_it(factory, ctx, demo):
    iid = open_clue(factory, ctx, demo, unit="U-EDU", receiving="JW")
    # bound: the receiving body (jw1), the inspection group (group1), the unit (unit1: recused, never sees a clue)
    assert _usernames(factory, iid, {}) == ["group1", "jw1"]


def test_an_organisation_picker_offers_the_case_scope_of_the_kinds_asked(factory, ctx, demo):
    iid = open_clue(factory, ctx, demo)
    with factory() as s:
        choices = CaseChoices(s, s.get(ProcessInstance, iid))
        receiving = [(c.value, c.label) for c in choices.options("org", {"kinds": ["receiving_body"]})]
        everything = {c.value for c in choices.options("org", {})}
        assert receiving == [("JW", "市纪委监委"), ("ZZB", "市委组织部")]
        assert {"CITY", "JW", "U-EDU", "COUNTY-A-TOWN"} <= everything
        assert choices.exists("org", "U-EDU") and not choices.exists("org", "NOWHERE")


def test_submitting_a_person_who_is_not_offered_is_refused_per_field(factory, ctx, demo):
    iid, tid = _acknowledging(factory, ctx, demo, receiving="JW")
    jw = demo.actor("jw1")
    for handler, zh, en in (("zzb1", "zzb1 不在本案可选的人员之中。",
                             "zzb1 is not among the people you may choose for this case."),
                            ("nobody", "用户 nobody 不存在。", "User nobody does not exist.")):
        with pytest.raises(FormInvalid) as caught, transaction(factory) as s:
            runtime.complete_task(s, ctx, jw, tid, {"ack_decision": "签收", "ack_handler": handler})
        assert caught.value.details["fields"] == {"ack_handler": {"message_zh": zh, "message_en": en}}
    with transaction(factory) as s:
        runtime.complete_task(s, ctx, jw, tid, {"ack_decision": "签收", "ack_handler": "jw1"})
    assert clue_of(factory, iid).status == ClueStatus.ACKNOWLEDGED


def test_pickers_in_table_rows_are_checked_cell_by_cell(factory, ctx, demo):
    form = Form("t", {"type": "object", "properties": {"copies": {"type": "array", "items": {
        "type": "object", "properties": {"org": {"type": "string"}, "note": {"type": "string"}}}}}},
        {"copies": {"items": {"org": {"ui:widget": "org", "ui:options": {"kinds": ["receiving_body"]}}}}})
    iid = open_clue(factory, ctx, demo)
    with factory() as s:
        choices = CaseChoices(s, s.get(ProcessInstance, iid))
        data = {"copies": [{"org": "ZZB", "note": "抄送"}, {"org": "U-EDU"}, {"org": "NOWHERE"}]}
        with pytest.raises(FormInvalid) as caught:
            validate(form, data, choices)
        assert caught.value.details["fields"] == {
            "copies.1.org": {"message_zh": "不能在此选择单位 U-EDU。",
                             "message_en": "Organisation U-EDU cannot be chosen here."},
            "copies.2.org": {"message_zh": "单位 NOWHERE 不存在。",
                             "message_en": "Organisation NOWHERE does not exist."}}
        assert validate(form, {"copies": [{"org": "JW"}]}, choices) == {"copies": [{"org": "JW"}]}
