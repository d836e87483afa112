"""Comments and evidence attachments: what is accepted and stored where, who may read and write, and
that every change (and every download of a clue's file) is in the case's audit trail."""

from __future__ import annotations

import hashlib
import io
import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from engine import audit, content, runtime
from engine.db import transaction
from engine.definitions import deploy
from engine.errors import Conflict, FileRefused, FormInvalid, NotFound, NotPermitted, TooLarge
from models import Attachment, Comment
from tests.evidence_files import ALLOWED, PDF, PNG, REFUSED, zip_bomb
from tests.helpers import act, add_user, approve_plan, open_clue, open_rectification, ready_task, simple_bpmn

ID_NUMBER = "110101197001011234"


def _store(factory, ctx, actor, iid, name="整改报告.pdf", data=PDF, task_id=None) -> Attachment:  # type: ignore[no-untyped-def]
    with transaction(factory) as s:
        return content.store_attachment(s, ctx, actor, iid, name, io.BytesIO(data), task_id=task_id)


def _events(factory, iid: int, event_type: str) -> list[dict[str, Any]]:  # type: ignore[no-untyped-def]
    with factory() as s:
        return [json.loads(e.payload) | {"_actor": e.actor_name} for e in audit.stream_events(s, iid)
                if e.event_type == event_type]


def _rows(factory, model) -> int:  # type: ignore[no-untyped-def]
    with factory() as s:
        return int(s.execute(select(func.count()).select_from(model)).scalar_one())


def _stored_files(ctx) -> list[Path]:  # type: ignore[no-untyped-def]
    return sorted(p for p in Path(ctx.attachments_dir).rglob("*") if p.is_file())


def _to_rectify_item(factory, ctx, demo) -> tuple[int, int]:  # type: ignore[no-untyped-def]
    """A rectification of one item at the step where the unit reports its work and evidence."""
    iid = open_rectification(factory, ctx, demo, problems=1)
    approve_plan(factory, ctx, iid)
    return iid, ready_task(factory, iid, "rectify_item").id


# -- storing ----------------------------------------------------------------------------------------------------


def test_a_file_is_stored_by_its_checksum_outside_the_database_and_audited(factory, ctx, demo):
    iid = open_clue(factory, ctx, demo)
    row = _store(factory, ctx, demo.actor("office1"), iid, name="C:/扫描件/线索材料.pdf")
    digest = hashlib.sha256(PDF).hexdigest()
    assert (row.filename, row.size, row.sha256, row.content_type) == ("线索材料.pdf", len(PDF), digest,
                                                                      "application/pdf")
    assert row.storage_key == f"{digest[:2]}/{digest[2:4]}/{digest}"
    assert (ctx.attachments_dir / row.storage_key).read_bytes() == PDF
    assert _stored_files(ctx) == [ctx.attachments_dir / row.storage_key]  # nothing left in incoming/
    [event] = _events(factory, iid, "attachment_added")
    assert event == {"attachment_id": row.id, "task_id": None, "filename": "线索材料.pdf", "content_type":
                     "application/pdf", "size": len(PDF), "sha256": digest, "_actor": "office1"}
    with factory() as s:
        assert audit.verify(s).ok


def test_the_same_content_twice_is_two_rows_and_one_stored_file(factory, ctx, demo):
    iid = open_clue(factory, ctx, demo)
    first = _store(factory, ctx, demo.actor("office1"), iid, name="a.pdf")
    second = _store(factory, ctx, demo.actor("office1"), iid, name="b.pdf")
    assert first.id != second.id and first.storage_key == second.storage_key
    assert len(_stored_files(ctx)) == 1


def test_a_file_over_the_limit_is_refused_with_413_and_leaves_no_row_and_no_file(factory, ctx, demo):
    iid = open_clue(factory, ctx, demo)
    ctx.max_upload_bytes = 1000
    with pytest.raises(TooLarge) as refused:
        _store(factory, ctx, demo.actor("office1"), iid, name="大文件.pdf", data=PDF + bytes(1000))
    assert refused.value.status == 413 and "大文件.pdf" in refused.value.message_zh
    assert refused.value.details == {"filename": "大文件.pdf", "max_bytes": 1000}
    assert _rows(factory, Attachment) == 0 and _stored_files(ctx) == []
    assert _events(factory, iid, "attachment_added") == []
    exactly = PDF + bytes(1000 - len(PDF))
    assert _store(factory, ctx, demo.actor("office1"), iid, data=exactly).size == 1000


@pytest.mark.parametrize(("name", "data", "content_type"), ALLOWED, ids=[a[0] for a in ALLOWED])
def test_allowed_types_are_stored_with_the_type_they_are_served_as(factory, ctx, demo, name, data, content_type):
    iid = open_clue(factory, ctx, demo)
    row = _store(factory, ctx, demo.actor("office1"), iid, name=name, data=data)
    assert row.content_type == content_type and row.filename == name


@pytest.mark.parametrize(("name", "data", "reason"), REFUSED, ids=[f"{r[0]}-{r[2]}" for r in REFUSED])
def test_refused_types_name_the_file_and_store_nothing(factory, ctx, demo, name, data, reason):
    iid = open_clue(factory, ctx, demo)
    with pytest.raises(FileRefused) as refused:
        _store(factory, ctx, demo.actor("office1"), iid, name=name, data=data)
    assert refused.value.status == 422 and refused.value.details["reason"] == reason
    assert name in refused.value.message_zh and name in refused.value.message_en
    assert _rows(factory, Attachment) == 0 and _stored_files(ctx) == []


def test_a_zip_bomb_is_refused_from_its_central_directory(factory, ctx, demo):
    iid = open_clue(factory, ctx, demo)
    bomb = zip_bomb(40)
    assert len(bomb) < 200_000
    with pytest.raises(FileRefused) as refused:
        _store(factory, ctx, demo.actor("office1"), iid, name="材料.zip", data=bomb)
    assert refused.value.details["reason"] == "zip_bomb" and refused.value.details["uncompressed"] == 40 * 2 ** 20
    with pytest.raises(FileRefused):  # a Word file is a zip too
        _store(factory, ctx, demo.actor("office1"), iid, name="方案.docx", data=bomb)
    assert _rows(factory, Attachment) == 0


# -- who may read and write -------------------------------------------------------------------------------------


def test_a_clues_files_and_comments_are_invisible_to_units_and_recused_people(factory, ctx, demo):
    recused = add_user(factory, "jw-recused", "JW", [("receiving_body", "JW")], id_number=ID_NUMBER)
    iid = open_clue(factory, ctx, demo, persons=[{"name": "当事人", "id_number": ID_NUMBER}])
    row = _store(factory, ctx, demo.actor("office1"), iid)
    with transaction(factory) as s:
        content.add_comment(s, ctx, demo.actor("office1"), iid, "请尽快签收。")
    for outsider in (demo.actor("unit2"), demo.actor("unit1"), recused):
        with factory() as s:
            with pytest.raises(NotFound):
                content.list_attachments(s, outsider, iid)
            with pytest.raises(NotFound):
                content.list_comments(s, outsider, iid)
            with pytest.raises(NotFound):
                content.get_attachment(s, outsider, row.id)
            with pytest.raises(NotFound):
                content.open_attachment(s, ctx, outsider, row.id)
        with pytest.raises(NotFound):
            _store(factory, ctx, outsider, iid)
        with pytest.raises(NotFound), transaction(factory) as s:
            content.add_comment(s, ctx, outsider, iid, "看看")
        with pytest.raises(NotFound), transaction(factory) as s:
            content.remove_attachment(s, ctx, outsider, row.id)
    for insider in ("office1", "group1", "jw1", "leader1"):
        with factory() as s:
            assert [a.id for a in content.list_attachments(s, demo.actor(insider), iid)] == [row.id]
            assert [c.body for c in content.list_comments(s, demo.actor(insider), iid)] == ["请尽快签收。"]
            assert content.open_attachment(s, ctx, demo.actor(insider), row.id)[1].read_bytes() == PDF


def test_writing_needs_a_task_to_work_on_or_the_office(factory, ctx, demo):
    iid = open_clue(factory, ctx, demo)
    with pytest.raises(NotPermitted):  # the group sees the clue but has nothing to do on it now
        _store(factory, ctx, demo.actor("group1"), iid)
    with pytest.raises(NotPermitted), transaction(factory) as s:
        content.add_comment(s, ctx, demo.actor("jw1"), iid, "还没轮到")
    assert _stored_files(ctx) == []  # refused before a byte was stored
    act(factory, ctx, "office1", iid, "handover", {"handover_list": "线索报告 1 份"})
    acknowledge = ready_task(factory, iid, "acknowledge").id
    row = _store(factory, ctx, demo.actor("jw1"), iid, task_id=acknowledge)  # a candidate of the open task
    assert row.task_guid == ready_task(factory, iid, "acknowledge").task_guid
    with transaction(factory) as s:
        content.add_comment(s, ctx, demo.actor("jw1"), iid, "已收到，正在核对。")


def test_a_task_of_another_case_is_not_found_and_a_finished_task_takes_nothing(factory, ctx, demo):
    iid, other = open_clue(factory, ctx, demo), open_clue(factory, ctx, demo, number="XS-T-002")
    handover = ready_task(factory, iid, "handover").id
    with pytest.raises(NotFound):
        _store(factory, ctx, demo.actor("office1"), other, task_id=handover)
    act(factory, ctx, "office1", iid, "handover", {"handover_list": "清单"})
    with pytest.raises(Conflict) as refused, transaction(factory) as s:
        content.add_comment(s, ctx, demo.actor("office1"), iid, "补充", task_id=handover)
    assert refused.value.code == "task_not_active"


def test_comments_are_kept_in_order_per_case_and_task_and_audited(factory, ctx, demo):
    iid = open_clue(factory, ctx, demo)
    handover = ready_task(factory, iid, "handover").id
    office = demo.actor("office1")
    with transaction(factory) as s:
        content.add_comment(s, ctx, office, iid, "  第一条  ")
        content.add_comment(s, ctx, office, iid, "第二条\r\n换行", task_id=handover)
    with factory() as s:
        assert [c.body for c in content.list_comments(s, office, iid)] == ["第一条", "第二条\n换行"]
        assert [c.body for c in content.list_comments(s, office, iid, task_id=handover)] == ["第二条\n换行"]
    events = _events(factory, iid, "comment_added")
    assert [(e["body"], e["task_id"], e["_actor"]) for e in events] == [
        ("第一条", None, "office1"), ("第二条\n换行", handover, "office1")]


@pytest.mark.parametrize("body", ["", "   ", "字" * (content.MAX_COMMENT_CHARS + 1)])
def test_an_empty_or_overlong_comment_is_refused_per_field(factory, ctx, demo, body):
    iid = open_clue(factory, ctx, demo)
    with pytest.raises(FormInvalid) as refused, transaction(factory) as s:
        content.add_comment(s, ctx, demo.actor("office1"), iid, body)
    assert set(refused.value.details["fields"]) == {"body"}
    assert _rows(factory, Comment) == 0


def test_nothing_is_added_to_a_finished_case(factory, ctx, demo):
    iid = open_clue(factory, ctx, demo)
    with transaction(factory) as s:
        runtime.lock_instance(s, iid).status = "completed"
    with pytest.raises(Conflict), transaction(factory) as s:
        content.add_comment(s, ctx, demo.actor("office1"), iid, "晚了")
    with pytest.raises(Conflict):
        _store(factory, ctx, demo.actor("office1"), iid)


# -- withdrawing and downloading --------------------------------------------------------------------------------


def test_the_uploader_withdraws_a_file_the_row_file_and_audit_keep_it(factory, ctx, demo):
    iid = open_clue(factory, ctx, demo)
    row = _store(factory, ctx, demo.actor("office1"), iid)
    act(factory, ctx, "office1", iid, "handover", {"handover_list": "清单"})
    mine = _store(factory, ctx, demo.actor("jw1"), iid, name="误传.png", data=PNG)
    with pytest.raises(NotPermitted), transaction(factory) as s:  # someone else's file
        content.remove_attachment(s, ctx, demo.actor("jw1"), row.id)
    with transaction(factory) as s:
        removed = content.remove_attachment(s, ctx, demo.actor("jw1"), mine.id, "传错了文件")
        assert removed.removed_by_id == demo.actor("jw1").user_id and removed.removal_reason == "传错了文件"
    with pytest.raises(Conflict), transaction(factory) as s:
        content.remove_attachment(s, ctx, demo.actor("office1"), mine.id)
    with factory() as s:
        with pytest.raises(NotFound):
            content.open_attachment(s, ctx, demo.actor("jw1"), mine.id)
        listed = {a.id: a.removed_at for a in content.list_attachments(s, demo.actor("jw1"), iid)}
        assert listed[row.id] is None and listed[mine.id] is not None
    assert (ctx.attachments_dir / mine.storage_key).is_file()
    [event] = _events(factory, iid, "attachment_removed")
    assert event["attachment_id"] == mine.id and event["sha256"] == mine.sha256 and event["_actor"] == "jw1"
    assert event["changes"]["removed_by"] == [None, "jw1"]
    assert event["changes"]["removal_reason"] == [None, "传错了文件"]
    assert event["changes"]["removed_at"][0] is None and event["changes"]["removed_at"][1]
    with transaction(factory) as s:  # the office may withdraw anyone's file
        content.remove_attachment(s, ctx, demo.actor("office1"), row.id)


def test_downloading_a_clues_file_is_audited_a_rectifications_is_not(factory, ctx, demo):
    clue = open_clue(factory, ctx, demo)
    row = _store(factory, ctx, demo.actor("office1"), clue)
    with transaction(factory) as s:
        found, path = content.open_attachment(s, ctx, demo.actor("group1"), row.id)
        assert path.read_bytes() == PDF
        assert content.download_is_audited(content.visible_instance(s, demo.actor("group1"), clue))
        content.record_download(s, ctx, demo.actor("group1"), found)
    [event] = _events(factory, clue, "attachment_downloaded")
    assert event == {"attachment_id": row.id, "filename": row.filename, "sha256": row.sha256, "_actor": "group1"}
    rect = open_rectification(factory, ctx, demo)
    with factory() as s:
        assert not content.download_is_audited(content.visible_instance(s, demo.actor("unit1"), rect))


# -- evidence fields of task forms ------------------------------------------------------------------------------


def test_an_evidence_field_takes_ids_of_this_cases_live_files_only(factory, ctx, demo):
    iid, task_id = _to_rectify_item(factory, ctx, demo)
    other = open_clue(factory, ctx, demo)
    unit = demo.actor("unit1")
    mine = _store(factory, ctx, unit, iid, task_id=task_id)
    withdrawn = _store(factory, ctx, unit, iid, name="误传.png", data=PNG, task_id=task_id)
    with transaction(factory) as s:
        content.remove_attachment(s, ctx, unit, withdrawn.id)
    elsewhere = _store(factory, ctx, demo.actor("office1"), other)
    with transaction(factory) as s:
        runtime.claim_task(s, ctx, unit, task_id)
    data = {"item_progress": "已建立制度。", "item_completion": "已完成"}
    for bad in (elsewhere.id, withdrawn.id, 999999):
        with pytest.raises(FormInvalid) as refused, transaction(factory) as s:
            runtime.complete_task(s, ctx, unit, task_id, {**data, "evidence": [mine.id, bad]})
        assert set(refused.value.details["fields"]) == {"evidence"}
        assert str(bad) in refused.value.details["fields"]["evidence"]["message_zh"]
    with pytest.raises(FormInvalid) as refused, transaction(factory) as s:
        runtime.complete_task(s, ctx, unit, task_id, {**data, "evidence": ["x"]})
    assert set(refused.value.details["fields"]) == {"evidence.0"}
    with transaction(factory) as s:
        runtime.complete_task(s, ctx, unit, task_id, {**data, "evidence": [mine.id]})
    [completed] = [e for e in _events(factory, iid, "task_completed") if e["bpmn_id"] == "rectify_item"]
    assert completed["data"]["evidence"] == [mine.id]


def test_the_generic_form_takes_a_comment_and_the_cases_files(factory, ctx, demo):
    """A task whose diagram names no form gets the generic one: 办理意见 and attachments of its own case."""
    with transaction(factory) as s:
        deploy(s, simple_bpmn("memo"), demo.actor("designer1"), ctx.forms, at=ctx.clock.now())
    office = demo.actor("office1")
    with transaction(factory) as s:
        iid = runtime.start_instance(s, ctx, office, "memo", {}, scope_path=office.roles[0].org_path).id
    task_id = ready_task(factory, iid, "handle").id
    row = _store(factory, ctx, office, iid, task_id=task_id)
    with transaction(factory) as s:
        runtime.claim_task(s, ctx, office, task_id)
    with pytest.raises(FormInvalid), transaction(factory) as s:
        runtime.complete_task(s, ctx, office, task_id, {"comment": "见附件", "attachments": [row.id + 1]})
    with transaction(factory) as s:
        runtime.complete_task(s, ctx, office, task_id, {"comment": "见附件", "attachments": [row.id]})
    [completed] = _events(factory, iid, "task_completed")
    assert completed["data"] == {"comment": "见附件", "attachments": [row.id]}
