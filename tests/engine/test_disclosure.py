"""Publications: 巡察公告 prefilled from the inspection, 整改公开 prefilled from the approved text of the
整改公开 step; only the office publishes and withdraws (with a reason), both audited; the public listing holds
published, never withdrawn rows only."""

from __future__ import annotations

import json
from datetime import date

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from engine import disclosure
from engine.context import EngineContext
from engine.db import transaction
from engine.demo import Demo
from engine.errors import Conflict, InvalidInput, NotFound, NotPermitted
from models import AuditEvent, Inspection, PublicationKind
from tests.helpers import complete_rectification, open_rectification

ANNOUNCEMENT = PublicationKind.ANNOUNCEMENT
RECTIFICATION = PublicationKind.RECTIFICATION


def audit_of(factory: sessionmaker[Session], event_type: str) -> list[AuditEvent]:
    with factory() as s:
        return list(s.execute(select(AuditEvent).where(AuditEvent.event_type == event_type)
                              .order_by(AuditEvent.id)).scalars())


def test_announcement_is_prefilled_from_the_round_and_the_inspection(session: Session, demo: Demo) -> None:
    draft = disclosure.announcement_draft(session, demo.actor("office1"), demo.inspections["U-EDU"].id)
    assert draft.kind == ANNOUNCEMENT and "市教育局" in draft.title and "市委第一巡察组" in draft.body
    assert (draft.period_start, draft.period_end) == (date(2026, 3, 2), date(2026, 5, 29))
    assert (draft.contact_phone, draft.contact_mailbox, draft.contact_address) == (
        "0000-12345678", "某市邮政信箱 001 号", "某市人民路 1 号")


def test_office_publishes_an_announcement_once_and_withdraws_it_with_a_reason(
        factory: sessionmaker[Session], ctx: EngineContext, demo: Demo) -> None:
    office, inspection_id = demo.actor("office1"), demo.inspections["U-HEALTH"].id
    with transaction(factory) as s:
        row = disclosure.publish(s, ctx, office, kind=ANNOUNCEMENT, source_id=inspection_id,
                                 values={"contact_phone": "0000-9999999", "title": "巡察公告（修改后）"})
        publication_id = row.id
    with factory() as s:
        listed = disclosure.public_page(s)
        assert [p.id for p in listed.items] == [publication_id]
        assert listed.items[0].title == "巡察公告（修改后）" and listed.items[0].contact_phone == "0000-9999999"
        assert s.get(Inspection, inspection_id).announced  # type: ignore[union-attr]
    with transaction(factory) as s, pytest.raises(Conflict):
        disclosure.publish(s, ctx, office, kind=ANNOUNCEMENT, source_id=inspection_id, values={})
    with transaction(factory) as s, pytest.raises(InvalidInput):
        disclosure.withdraw(s, ctx, office, publication_id, "  ")
    with transaction(factory) as s:
        disclosure.withdraw(s, ctx, office, publication_id, "联系电话有误")
    with transaction(factory) as s, pytest.raises(Conflict):
        disclosure.withdraw(s, ctx, office, publication_id, "再次撤回")
    with factory() as s:
        assert disclosure.public_page(s).items == []
        assert [p.withdraw_reason for p in disclosure.office_page(s, office).items] == ["联系电话有误"]
    published, withdrawn = audit_of(factory, "publication_published"), audit_of(factory, "publication_withdrawn")
    assert published[-1].actor_name == "office1" and published[-1].stream == "system"
    assert json.loads(withdrawn[-1].payload) == {"publication_id": publication_id, "reason": "联系电话有误"}
    with transaction(factory) as s:  # after withdrawing, a corrected one may be published
        disclosure.publish(s, ctx, office, kind=ANNOUNCEMENT, source_id=inspection_id, values={})


def test_units_and_other_offices_can_neither_publish_nor_withdraw(
        factory: sessionmaker[Session], ctx: EngineContext, demo: Demo) -> None:
    inspection_id = demo.inspections["U-EDU"].id
    for who in ("unit1", "county1", "jw1"):
        with transaction(factory) as s, pytest.raises(NotFound):
            disclosure.publish(s, ctx, demo.actor(who), kind=ANNOUNCEMENT, source_id=inspection_id, values={})
    with transaction(factory) as s:
        publication_id = disclosure.publish(s, ctx, demo.actor("office1"), kind=ANNOUNCEMENT,
                                            source_id=inspection_id, values={}).id
    for who in ("unit1", "county1"):
        with transaction(factory) as s, pytest.raises(NotFound):
            disclosure.withdraw(s, ctx, demo.actor(who), publication_id, "不应允许")
    with factory() as s:
        assert disclosure.office_page(s, demo.actor("county1")).items == []
        assert disclosure.office_page(s, demo.actor("unit1")).items == []


def test_rectification_result_is_prefilled_with_the_approved_public_text_and_may_be_edited(
        factory: sessionmaker[Session], ctx: EngineContext, demo: Demo) -> None:
    instance_id = open_rectification(factory, ctx, demo, problems=("问题甲。",))
    complete_rectification(factory, ctx, instance_id, disclosure={"publish": True,
                                                                  "public_text": "市教育局已完成全部整改任务。"})
    with factory() as s:
        draft = disclosure.rectification_draft(s, demo.actor("office1"), instance_id)
        assert draft.body == "市教育局已完成全部整改任务。" and "市教育局" in draft.title
    with transaction(factory) as s:
        disclosure.publish(s, ctx, demo.actor("office1"), kind=RECTIFICATION, source_id=instance_id,
                           values={"body": "市教育局已完成全部整改任务，建立制度 3 项。"})
    with factory() as s:
        assert [p.body for p in disclosure.public_page(s, kind=RECTIFICATION).items] == [
            "市教育局已完成全部整改任务，建立制度 3 项。"]
    event = audit_of(factory, "publication_published")[-1]
    assert event.stream == f"case:{instance_id}" and event.instance_id == instance_id


def test_a_withheld_or_running_rectification_cannot_be_published(
        factory: sessionmaker[Session], ctx: EngineContext, demo: Demo) -> None:
    withheld = open_rectification(factory, ctx, demo, problems=("涉及在查案件的问题。",))
    complete_rectification(factory, ctx, withheld, disclosure={"publish": False, "exemption_note": "涉及在查案件。"})
    running = open_rectification(factory, ctx, demo, problems=("尚在整改。",))
    for instance_id in (withheld, running):
        with transaction(factory) as s, pytest.raises(Conflict):
            disclosure.publish(s, ctx, demo.actor("office1"), kind=RECTIFICATION, source_id=instance_id, values={})
    # The unit and the group see the case but may not publish (403); a county office does not see it (404).
    for who, error in (("unit1", NotPermitted), ("group1", NotPermitted), ("county1", NotFound)):
        with transaction(factory) as s, pytest.raises(error):
            disclosure.rectification_draft(s, demo.actor(who), withheld)
