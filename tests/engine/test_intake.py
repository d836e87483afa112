"""Intake of an inspection's three outputs: the reports, and clues and feedback problems entered in bulk."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from engine import intake, ledgers
from engine.db import transaction
from engine.errors import Conflict, NotFound, NotPermitted, RowsInvalid, StaleState
from models import AuditEvent, Clue, Finding, ProcessInstance, RectificationItem, ReportKind
from tests.helpers import add_user, ready_task

CLUE_ROW = {"number": "XS-IN-001", "person_name": "张某；李某", "person_post": "科长；副科长",
            "person_id_number": "110101199001011234；", "summary": "反映违规收受礼金。", "category": "廉洁纪律",
            "cadre_authority": "市管", "receiving_body": "市纪委监委"}
FINDING_ROWS = [{"description": "落实意识形态工作责任制不到位。", "category": "党的领导", "target": "责任制落实到位"},
                {"description": "干部档案管理不规范。", "category": "选人用人", "source": "立行立改"}]


def _edu(demo):  # type: ignore[no-untyped-def]
    return demo.inspections["U-EDU"].id


def test_group_records_a_report_and_a_stale_revision_is_refused(factory, ctx, demo):  # type: ignore[no-untyped-def]
    now = ctx.clock.now()
    with transaction(factory) as s:
        report = intake.save_report(s, demo.actor("group1"), _edu(demo), ReportKind.CLUES, title="问题线索报告",
                                    body="共发现线索 2 件。", signed_by="李强", signed_on="2026-11-20",
                                    revision=None, now=now)
        first = report.revision
    with transaction(factory) as s:
        report = intake.save_report(s, demo.actor("office1"), _edu(demo), ReportKind.CLUES,
                                    title="问题线索报告（修订）", body="共发现线索 3 件。", signed_by="李强",
                                    signed_on=None, revision=first, now=now)
        assert report.revision == first + 1
    with pytest.raises(StaleState), transaction(factory) as s:
        intake.save_report(s, demo.actor("group1"), _edu(demo), ReportKind.CLUES, title="旧版本", body="",
                           signed_by=None, signed_on=None, revision=first, now=now)
    with factory() as s:
        reports = intake.reports_of(s, demo.actor("leader1"), _edu(demo))
        assert reports[ReportKind.CLUES] is not None and reports[ReportKind.CLUES].title == "问题线索报告（修订）"
        assert reports[ReportKind.INSPECTION] is None
        events = [json.loads(e.payload) for e in s.execute(select(AuditEvent).where(
            AuditEvent.event_type == "inspection_report_saved").order_by(AuditEvent.seq)).scalars()]
        assert events[1]["changes"]["title"] == ["问题线索报告", "问题线索报告（修订）"]


def test_the_unit_and_other_groups_cannot_see_or_record_the_reports(factory, ctx, demo):  # type: ignore[no-untyped-def]
    add_user(factory, "group2", "TEAM2", "inspection_group")
    with factory() as s:
        for username in ("unit1", "jw1", "group2"):
            actor = ledgers_actor(s, username)
            with pytest.raises(NotFound):
                intake.reports_of(s, actor, _edu(demo))
    with pytest.raises(NotPermitted), transaction(factory) as s:
        intake.save_report(s, demo.actor("leader1"), _edu(demo), ReportKind.CLUES, title="x", body="",
                           signed_by=None, signed_on=None, revision=None, now=ctx.clock.now())


def ledgers_actor(session, username):  # type: ignore[no-untyped-def]
    from engine.actors import load_actor
    return load_actor(session, username)


def test_bulk_clues_each_start_a_confidential_case_hidden_from_the_unit(factory, ctx, demo):  # type: ignore[no-untyped-def]
    second = {**CLUE_ROW, "number": "XS-IN-002", "person_name": "王某", "person_post": "处长",
              "person_id_number": "", "receiving_body": "ZZB"}
    with transaction(factory) as s:
        intake.save_report(s, demo.actor("group1"), _edu(demo), ReportKind.CLUES, title="问题线索报告", body="",
                           signed_by="李强", signed_on=None, revision=None, now=ctx.clock.now())
    with transaction(factory) as s:
        clues = intake.record_clues(s, ctx, demo.actor("group1"), _edu(demo), [CLUE_ROW, {}, second])
        ids = [c.id for c in clues]
    with factory() as s:
        first = s.get(Clue, ids[0])
        assert first is not None and first.cadre_authority == "市管" and first.report_id is not None
        assert first.persons_concerned == [{"name": "张某", "post": "科长", "id_number": "110101199001011234"},
                                           {"name": "李某", "post": "副科长"}]
        assert s.get(Clue, ids[1]).receiving_org.code == "ZZB"  # type: ignore[union-attr]
        instance_id = first.instance_id or 0
        seen_by_unit = ledgers.clue_ledger(s, demo.actor("unit1"))
        assert seen_by_unit.total == 0
        assert ledgers.clue_ledger(s, demo.actor("group1")).total == 2
        with pytest.raises(NotFound):
            ledgers.visible_row(s, demo.actor("unit1"), Clue, ids[0])
    assert ready_task(factory, instance_id, "handover")


def test_a_bad_clue_row_creates_nothing_and_names_row_and_column(factory, ctx, demo):  # type: ignore[no-untyped-def]
    bad = {**CLUE_ROW, "number": "XS-IN-009", "receiving_body": "不存在的单位", "summary": ""}
    with pytest.raises(RowsInvalid) as refused, transaction(factory) as s:
        intake.record_clues(s, ctx, demo.actor("office1"), _edu(demo), [CLUE_ROW, bad, CLUE_ROW])
    rows = refused.value.details["rows"]
    assert {(r["row"], r["column"]) for r in rows} == {(2, "反映的主要问题"), (2, "移交对象"), (3, "线索编号")}
    assert all(r["message_zh"] and r["message_en"] for r in rows)
    with factory() as s:
        assert s.execute(select(func.count()).select_from(Clue)).scalar_one() == 0
        assert s.execute(select(func.count()).select_from(ProcessInstance)).scalar_one() == 0


def test_bulk_findings_open_one_rectification_with_an_item_each(factory, ctx, demo):  # type: ignore[no-untyped-def]
    with transaction(factory) as s:
        instance_id = intake.record_findings(s, ctx, demo.actor("group1"), _edu(demo), FINDING_ROWS)
    with factory() as s:
        items = list(s.execute(select(RectificationItem).order_by(RectificationItem.id)).scalars())
        assert [(i.number, i.instance_id, i.target) for i in items] == [
            ("U-EDU-01", instance_id, "责任制落实到位"), ("U-EDU-02", instance_id, None)]
        assert [f.source for f in s.execute(select(Finding).order_by(Finding.id)).scalars()] == ["反馈问题", "立行立改"]
        assert ledgers.rectification_ledger(s, demo.actor("unit1"), demo.orgs["U-EDU"].id).total == 2
        with pytest.raises(NotFound):
            ledgers.rectification_ledger(s, demo.actor("unit2"), demo.orgs["U-EDU"].id)
    assert ready_task(factory, instance_id, "receive_feedback")
    with pytest.raises(Conflict), transaction(factory) as s:
        intake.record_findings(s, ctx, demo.actor("office1"), _edu(demo), FINDING_ROWS)


def test_bad_finding_rows_create_nothing(factory, ctx, demo):  # type: ignore[no-untyped-def]
    rows = [*FINDING_ROWS, {"description": "", "target": "只有目标"}, {"description": "x", "category": "未知类别"}]
    with pytest.raises(RowsInvalid) as refused, transaction(factory) as s:
        intake.record_findings(s, ctx, demo.actor("office1"), _edu(demo), rows)
    assert [(r["row"], r["column"]) for r in refused.value.details["rows"]] == [(3, "问题描述"), (4, "问题类别")]
    with factory() as s:
        assert s.execute(select(func.count()).select_from(Finding)).scalar_one() == 0


def test_the_unit_cannot_enter_findings_for_its_own_inspection(factory, ctx, demo):  # type: ignore[no-untyped-def]
    with pytest.raises(NotFound), transaction(factory) as s:
        intake.record_findings(s, ctx, demo.actor("unit1"), _edu(demo), FINDING_ROWS)


def test_clue_ledger_columns_fill_as_the_steps_complete(factory, ctx, demo):  # type: ignore[no-untyped-def]
    from tests.helpers import act, open_clue
    iid = open_clue(factory, ctx, demo)
    act(factory, ctx, "office1", iid, "handover", {"handover_list": "清单 1 份", "handover_note": "请签收"})
    act(factory, ctx, "jw1", iid, "acknowledge", {"ack_decision": "签收"})
    act(factory, ctx, "jw1", iid, "dispose", {"disposition_method": "初步核实", "disposition_opinion": "核实。"})
    act(factory, ctx, "jw1", iid, "progress_report", {"progress_text": "已调取资料。", "handling_finished": True})
    act(factory, ctx, "jw1", iid, "result_feedback", {"four_forms": "第一种形态", "result_summary": "予以谈话提醒。"})
    with factory() as s:
        (row,) = ledgers.clue_rows(s, ledgers.clue_ledger(s, demo.actor("office1")).items)
    assert row["acknowledged_date"] == row["progress_date"] == "2026-11-25"
    assert (row["disposition_method"], row["four_forms"], row["result_summary"]) == ("初步核实", "第一种形态",
                                                                                    "予以谈话提醒。")
    assert row["receiving_body"] == "市纪委监委" and row["person_names"] == "张某某"
