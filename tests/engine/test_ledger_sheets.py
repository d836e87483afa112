"""The 整改台账 in Excel: the official layout on export, and import back with preview, row errors and no
half-imports."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select

from engine import ledger_sheets, ledgers
from engine.db import transaction
from engine.errors import FileRefused, NotPermitted, RowsInvalid, StaleState, UnsupportedType
from models import AuditEvent, Finding, ItemStatus, RectificationItem
from tests.helpers import RECTIFIED, open_rectification, strike_off_items

HEADER_ROW = 4  # the lower header row of the full ledger; data from row 5


def _export(factory, demo, username="office1"):  # type: ignore[no-untyped-def]
    with factory() as s:
        unit = demo.orgs["U-EDU"]
        rows = ledgers.item_rows(s, ledgers.all_visible_items(s, demo.actor(username), unit.id))
        from datetime import UTC, datetime
        return ledger_sheets.rectification_workbook(unit.name, rows, datetime(2026, 11, 25, tzinfo=UTC))


def _column(ws, name):  # type: ignore[no-untyped-def]
    for cell in ws[HEADER_ROW]:
        if cell.value == name:
            return cell.column
    for cell in ws[HEADER_ROW - 1]:
        if cell.value == name:
            return cell.column
    raise AssertionError(name)


def _write(tmp_path: Path, data: bytes) -> Path:
    path = tmp_path / "ledger.xlsx"
    path.write_bytes(data)
    return path


def _edited(tmp_path, data, edits):  # type: ignore[no-untyped-def]
    """Change cells of the exported sheet: {(excel row, column header): value}."""
    wb = load_workbook(io.BytesIO(data))
    ws = wb["整改台账"]
    for (row, header), value in edits.items():
        ws.cell(row, _column(ws, header), value)
    out = io.BytesIO()
    wb.save(out)
    return _write(tmp_path, out.getvalue())


def test_export_has_the_official_layout(factory, ctx, demo):  # type: ignore[no-untyped-def]
    open_rectification(factory, ctx, demo)
    wb = load_workbook(io.BytesIO(_export(factory, demo)))
    assert wb.sheetnames == ["整改台账", "问题清单", "任务清单", "责任清单"]
    ws = wb["整改台账"]
    assert ws["A1"].value == "市教育局巡察整改台账" and ws["A1"].font.name == "宋体"
    merged = {str(r) for r in ws.merged_cells.ranges}
    assert "A3:A4" in merged and "B3:D3" in merged  # 序号 spans both header rows; 问题情况 groups three columns
    assert [ws.cell(4, c).value for c in range(2, 5)] == ["问题来源", "问题类别", "问题描述"]
    assert ws.cell(3, 1).font.name == "黑体" and ws.cell(5, 4).font.name == "仿宋_GB2312"
    assert ws.cell(5, 4).alignment.wrap_text and ws.cell(5, 4).border.left.style == "thin"
    assert ws.cell(5, 1).value == "U-EDU-01" and ws.cell(6, 4).value == "干部档案管理不规范。"
    assert ws.freeze_panes == "B5" and ws.print_title_rows == "$3:$4"
    assert ws.page_setup.orientation == "landscape" and int(ws.page_setup.paperSize) == 9  # A4
    assert ws.page_setup.fitToWidth == 1 and ws.sheet_properties.pageSetUpPr.fitToPage
    assert ws.column_dimensions["D"].width > ws.column_dimensions["A"].width
    tasks = wb["任务清单"]
    assert [c.value for c in tasks[3]][:4] == ["序号", "问题描述", "整改措施", "完成时限"]


def test_round_trip_edits_land_and_are_audited(factory, ctx, demo, tmp_path):  # type: ignore[no-untyped-def]
    instance_id = open_rectification(factory, ctx, demo)
    path = _edited(tmp_path, _export(factory, demo, "unit1"), {
        (5, "整改措施"): "修订意识形态工作责任制实施细则。", (5, "整改进展"): "已完成制度修订",
        (6, "责任人"): "周某", (6, "整改类型"): "限期整改"})
    rows = ledger_sheets.read_sheet(path)
    unit1, unit_id = demo.actor("unit1"), demo.orgs["U-EDU"].id
    with factory() as s:
        plan = ledger_sheets.plan_import(s, unit1, unit_id, rows)
        preview = plan.as_dict()
    assert [(u["number"], sorted(u["changes"])) for u in preview["updates"]] == [
        ("U-EDU-01", ["整改措施", "整改进展"]), ("U-EDU-02", ["整改类型", "责任人"])]
    assert preview["creates"] == []
    with transaction(factory) as s:
        ledger_sheets.apply_import(s, unit1, unit_id, rows, preview["basis"], ctx.clock.now())
    with factory() as s:
        first, second = s.execute(select(RectificationItem).order_by(RectificationItem.id)).scalars()
        assert first.measures == "修订意识形态工作责任制实施细则。" and first.progress == "已完成制度修订"
        assert second.responsible_person == "周某" and second.rectification_type == "限期整改"
        events = s.execute(select(AuditEvent).where(AuditEvent.instance_id == instance_id,
                                                    AuditEvent.event_type == "case_updated")).scalars().all()
        assert any('"via":"import"' in e.payload and "周某" in e.payload for e in events)


def test_one_bad_row_imports_nothing(factory, ctx, demo, tmp_path):  # type: ignore[no-untyped-def]
    open_rectification(factory, ctx, demo)
    path = _edited(tmp_path, _export(factory, demo, "unit1"), {
        (5, "整改措施"): "会被丢弃的修改", (6, "整改类型"): "马上整改", (6, "问题描述"): "改写的问题"})
    rows = ledger_sheets.read_sheet(path)
    with pytest.raises(RowsInvalid) as refused, transaction(factory) as s:
        ledger_sheets.apply_import(s, demo.actor("unit1"), demo.orgs["U-EDU"].id, rows, "any", ctx.clock.now())
    assert {(r["row"], r["column"]) for r in refused.value.details["rows"]} == {(6, "整改类型"), (6, "问题描述")}
    with factory() as s:
        assert s.execute(select(func.count()).select_from(RectificationItem)
                         .where(RectificationItem.measures.is_not(None))).scalar_one() == 0


def test_title_and_blank_rows_are_tolerated_and_office_adds_new_items(factory, ctx, demo, tmp_path):  # type: ignore[no-untyped-def]
    open_rectification(factory, ctx, demo)
    wb = load_workbook(io.BytesIO(_export(factory, demo)))
    ws = wb["整改台账"]
    ws.insert_rows(7, 2)  # blank rows after the items
    ws.cell(9, 1, "U-EDU-03")
    ws.cell(9, _column(ws, "问题描述"), "公务接待超标准。")
    ws.cell(9, _column(ws, "问题来源"), "移交事项")
    ws.cell(9, _column(ws, "完成时限"), "2027/03/31")
    out = io.BytesIO()
    wb.save(out)
    rows = ledger_sheets.read_sheet(_write(tmp_path, out.getvalue()))
    assert [r.excel_row for r in rows] == [5, 6, 9]
    unit_id = demo.orgs["U-EDU"].id
    with pytest.raises(RowsInvalid) as refused, factory() as s:
        ledger_sheets.plan_import(s, demo.actor("unit1"), unit_id, rows)  # the unit may not add problems
    assert refused.value.details["rows"][0]["row"] == 9
    with factory() as s:
        basis = ledger_sheets.plan_import(s, demo.actor("office1"), unit_id, rows).basis
    with transaction(factory) as s:
        plan = ledger_sheets.apply_import(s, demo.actor("office1"), unit_id, rows, basis, ctx.clock.now())
        assert [c["number"] for c in plan.creates] == ["U-EDU-03"]
    with factory() as s:
        item = s.execute(select(RectificationItem).where(RectificationItem.number == "U-EDU-03")).scalar_one()
        assert item.status == ItemStatus.PENDING and item.instance_id is not None
        assert ledgers.local_date(item.due_at) == "2027-03-31"
        finding = s.get(Finding, item.finding_id)
        assert finding is not None and finding.source == "移交事项"


def test_a_struck_off_item_cannot_be_changed_by_import(factory, ctx, demo, tmp_path):  # type: ignore[no-untyped-def]
    instance_id = open_rectification(factory, ctx, demo, problems=1)
    strike_off_items(factory, ctx, instance_id)
    data = _export(factory, demo, "unit1")
    ws = load_workbook(io.BytesIO(data))["整改台账"]
    assert ws.cell(5, _column(ws, "销号日期")).value is not None
    assert ws.cell(5, _column(ws, "整改进展")).value == RECTIFIED["item_progress"]  # filled as the step completed
    rows = ledger_sheets.read_sheet(_write(tmp_path, data))
    with factory() as s:  # unchanged rows of a struck-off item are fine
        assert ledger_sheets.plan_import(s, demo.actor("unit1"), demo.orgs["U-EDU"].id, rows).updates == []
    rows = ledger_sheets.read_sheet(_edited(tmp_path, data, {(5, "整改进展"): "再补充"}))
    with pytest.raises(RowsInvalid) as refused, factory() as s:
        ledger_sheets.plan_import(s, demo.actor("unit1"), demo.orgs["U-EDU"].id, rows)
    assert "已销号" in refused.value.details["rows"][0]["message_zh"]


def test_ledger_changed_after_preview_is_stale(factory, ctx, demo, tmp_path):  # type: ignore[no-untyped-def]
    open_rectification(factory, ctx, demo)
    unit1, unit_id = demo.actor("unit1"), demo.orgs["U-EDU"].id
    rows = ledger_sheets.read_sheet(_edited(tmp_path, _export(factory, demo, "unit1"), {(5, "整改措施"): "甲"}))
    with factory() as s:
        basis = ledger_sheets.plan_import(s, unit1, unit_id, rows).basis
        item_id = s.execute(select(RectificationItem.id).where(RectificationItem.number == "U-EDU-02")).scalar_one()
    with transaction(factory) as s:
        ledgers.update_item(s, unit1, item_id, {"progress": "别人先改了"}, ctx.clock.now())
    with pytest.raises(StaleState), transaction(factory) as s:
        ledger_sheets.apply_import(s, unit1, unit_id, rows, basis, ctx.clock.now())


def test_the_unit_may_not_write_the_review_opinion(factory, ctx, demo, tmp_path):  # type: ignore[no-untyped-def]
    open_rectification(factory, ctx, demo)
    rows = ledger_sheets.read_sheet(_edited(tmp_path, _export(factory, demo, "unit1"), {(5, "审核意见"): "同意"}))
    with pytest.raises(RowsInvalid), factory() as s:
        ledger_sheets.plan_import(s, demo.actor("unit1"), demo.orgs["U-EDU"].id, rows)
    with factory() as s:
        plan = ledger_sheets.plan_import(s, demo.actor("group1"), demo.orgs["U-EDU"].id, rows)
        assert [list(u["changes"]) for u in plan.as_dict()["updates"]] == [["审核意见"]]
    with pytest.raises(NotPermitted), transaction(factory) as s:
        item_id = s.execute(select(RectificationItem.id).limit(1)).scalar_one()
        ledgers.update_item(s, demo.actor("unit1"), item_id, {"review_opinion": "同意"}, ctx.clock.now())


def test_only_readable_xlsx_files_are_taken(tmp_path):  # type: ignore[no-untyped-def]
    with pytest.raises(UnsupportedType):
        ledger_sheets.check_upload("台账.csv", "text/csv")
    with pytest.raises(UnsupportedType):
        ledger_sheets.check_upload("台账.xlsx", "text/html")
    ledger_sheets.check_upload("台账.xlsx", ledger_sheets.XLSX_TYPE)
    with pytest.raises(FileRefused):
        ledger_sheets.store_sheet(tmp_path, "台账.xlsx", None, io.BytesIO(b"not a zip at all"))
    with pytest.raises(FileRefused):
        ledger_sheets.read_sheet(_write(tmp_path, b"PK\x03\x04 broken"))
