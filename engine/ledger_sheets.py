"""The ledgers in Excel, in the layout offices already use: export the 整改台账 (with its three lists)
and the 问题线索台账, and import the 整改台账 back from such a sheet.

Export: a title row, merged two-level headers (黑体), body in 仿宋_GB2312 with wrapped text and thin
borders, frozen headers, A4 landscape fitted to the page width with the header rows repeated on
every printed page. Import reads the same layout (title rows and blank rows are skipped, the header
row is found by its 序号 cell), matches rows to items by 序号, checks every row first and changes
nothing if any row is bad. A preview (``plan_import``) says what would change; ``apply_import``
re-plans against the ledger as it is then and refuses if it changed since the preview.
"""

from __future__ import annotations

import hashlib
import io
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any, BinaryIO

from openpyxl import Workbook, load_workbook
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.utils import get_column_letter
from openpyxl.utils.exceptions import InvalidFileException
from openpyxl.worksheet.worksheet import Worksheet
from sqlalchemy import select
from sqlalchemy.orm import Session

from models import Finding, ItemStatus, ProcessInstance, RectificationItem

from . import audit, filestore
from .actors import Actor
from .audit import EventDraft, canonical_json
from .calendar import END_OF_DAY, LOCAL_TZ
from .errors import FileRefused, NotFound, StaleState, TooLarge, UnsupportedType
from .ledgers import (
    CATEGORIES,
    CLUE_LEDGER_FIELDS,
    FIELD_BY_KEY,
    ITEM_COLUMNS,
    LEDGER_FIELDS,
    LISTS,
    SOURCES,
    LedgerField,
    RowProblems,
    all_visible_items,
    apply_item_changes,
    check_value,
    editable_fields,
    item_rows,
    ledger_unit,
    may_add_items,
)
from .taskaccess import lock_instance

XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
MAX_SHEET_BYTES = 5 * 1024 * 1024
MAX_SHEET_ROWS = 5000
BODY_FONT = "仿宋_GB2312"
HEADER_FONT = "黑体"
TITLE_FONT = "宋体"
# The two-level header of the full ledger: (group title, its columns); a group of one column spans both rows.
HEADER_GROUPS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("序号", ("number",)),
    ("问题情况", ("source", "category", "problem")),
    ("整改任务", ("target", "measures")),
    ("责任落实", ("responsible_leader", "responsible_department", "cooperating_departments", "responsible_person")),
    ("整改落实", ("due_date", "rectification_type", "progress", "evidence", "completion", "rules_established")),
    ("审核意见", ("review_opinion",)),
    ("销号", ("struck_off_date", "struck_off_by")),
)
READ_ONLY_CHECKED = {"source": ("问题来源由巡察反馈确定，不能在台账中修改。",
                                "The source is set by the inspection."),
                     "category": ("问题类别由巡察反馈确定，不能在台账中修改。",
                                  "The category is set by the inspection."),
                     "problem": ("问题描述由巡察反馈确定，不能在台账中修改。",
                                 "The problem text is set by the inspection and cannot be changed in the ledger."),
                     "due_date": ("完成时限由整改方案确定，调整须申请延期。",
                                  "The due date comes from the plan; changing it needs an extension request.")}

_THIN = Side(style="thin", color="000000")
_BORDER = Border(left=_THIN, right=_THIN, top=_THIN, bottom=_THIN)
_HEADER_FILL = PatternFill("solid", fgColor="D9D9D9")
_CENTER = Alignment(horizontal="center", vertical="center", wrap_text=True)
_LEFT = Alignment(horizontal="left", vertical="center", wrap_text=True)


# -- export ----------------------------------------------------------------------------------------------

def _title(ws: Worksheet, text: str, subtitle: str, width: int) -> None:
    ws.merge_cells(start_row=1, start_column=1, end_row=1, end_column=width)
    ws.cell(1, 1, text).font = Font(name=TITLE_FONT, size=18, bold=True)
    ws.cell(1, 1).alignment = _CENTER
    ws.row_dimensions[1].height = 36
    ws.merge_cells(start_row=2, start_column=1, end_row=2, end_column=width)
    ws.cell(2, 1, subtitle).font = Font(name=BODY_FONT, size=11)
    ws.cell(2, 1).alignment = Alignment(horizontal="left", vertical="center")


def _header_cell(ws: Worksheet, row: int, column: int, text: str | None) -> None:
    """A header cell; ``None`` styles a cell covered by a merge (its value belongs to the merge's first)."""
    cell = ws.cell(row, column) if text is None else ws.cell(row, column, text)
    cell.font = Font(name=HEADER_FONT, size=11, bold=True)
    cell.alignment, cell.border, cell.fill = _CENTER, _BORDER, _HEADER_FILL


def _body(ws: Worksheet, first_row: int, fields: Sequence[LedgerField], rows: Sequence[dict[str, Any]]) -> None:
    for r, values in enumerate(rows, start=first_row):
        for c, spec in enumerate(fields, start=1):
            value: Any = values.get(spec.key, "")
            if spec.key.endswith("_date") and value:
                value = date.fromisoformat(value)
            cell = ws.cell(r, c, value if value != "" else None)
            cell.font = Font(name=BODY_FONT, size=11)
            cell.border = _BORDER
            cell.alignment = _CENTER if spec.width <= 12 else _LEFT
            if isinstance(value, date):
                cell.number_format = "yyyy-mm-dd"
    for c, spec in enumerate(fields, start=1):
        ws.column_dimensions[get_column_letter(c)].width = spec.width + 2


def _print_setup(ws: Worksheet, header_rows: str, freeze: str) -> None:
    ws.freeze_panes = freeze
    ws.print_title_rows = header_rows
    ws.page_setup.paperSize = ws.PAPERSIZE_A4
    ws.page_setup.orientation = ws.ORIENTATION_LANDSCAPE
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = 0
    ws.sheet_properties.pageSetUpPr.fitToPage = True
    ws.page_margins.left = ws.page_margins.right = 0.5
    ws.page_margins.top = ws.page_margins.bottom = 0.6
    ws.print_options.horizontalCentered = True
    ws.oddFooter.center.text = "第 &P 页，共 &N 页"


def _subtitle(unit_name: str, exported_at: datetime) -> str:
    return f"填报单位：{unit_name}        导出时间：{exported_at.astimezone(LOCAL_TZ):%Y年%m月%d日 %H:%M}"


def rectification_workbook(unit_name: str, rows: Sequence[dict[str, Any]], exported_at: datetime) -> bytes:
    """The unit's 整改台账 (all columns, two-level header) and its three lists, one sheet each."""
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.title = "整改台账"
    _title(ws, f"{unit_name}巡察整改台账", _subtitle(unit_name, exported_at), len(LEDGER_FIELDS))
    column = 1
    for group, keys in HEADER_GROUPS:
        if len(keys) == 1 and FIELD_BY_KEY[keys[0]].zh == group:
            ws.merge_cells(start_row=3, start_column=column, end_row=4, end_column=column)
            _header_cell(ws, 3, column, group)
            _header_cell(ws, 4, column, None)
        else:
            ws.merge_cells(start_row=3, start_column=column, end_row=3, end_column=column + len(keys) - 1)
            for offset, key in enumerate(keys):
                _header_cell(ws, 3, column + offset, group if offset == 0 else None)
                _header_cell(ws, 4, column + offset, FIELD_BY_KEY[key].zh)
        column += len(keys)
    _body(ws, 5, LEDGER_FIELDS, rows)
    _print_setup(ws, "3:4", "B5")
    for title_zh, _title_en, keys in LISTS.values():
        sheet = wb.create_sheet(title_zh)
        fields = [FIELD_BY_KEY[k] for k in keys]
        _title(sheet, f"{unit_name}巡察整改{title_zh}", _subtitle(unit_name, exported_at), len(fields))
        for c, spec in enumerate(fields, start=1):
            _header_cell(sheet, 3, c, spec.zh)
        _body(sheet, 4, fields, rows)
        _print_setup(sheet, "3:3", "B4")
    return _save(wb)


def clue_workbook(scope_name: str, rows: Sequence[dict[str, Any]], exported_at: datetime) -> bytes:
    """The 问题线索台账 as the caller may see it."""
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.title = "问题线索台账"
    _title(ws, "巡察发现问题线索台账", _subtitle(scope_name, exported_at), len(CLUE_LEDGER_FIELDS))
    for c, spec in enumerate(CLUE_LEDGER_FIELDS, start=1):
        _header_cell(ws, 3, c, spec.zh)
    _body(ws, 4, CLUE_LEDGER_FIELDS, rows)
    _print_setup(ws, "3:3", "C4")
    return _save(wb)


def _save(wb: Workbook) -> bytes:
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


# -- reading a sheet -------------------------------------------------------------------------------------

@dataclass
class SheetRow:
    excel_row: int
    cells: dict[str, str]  # ledger field key → text as in the sheet


def check_upload(filename: str | None, content_type: str | None) -> None:
    """Only .xlsx is taken (415 otherwise, saying so); the content is checked when stored."""
    name = (filename or "").strip()
    if not name.lower().endswith(".xlsx"):
        raise UnsupportedType("只能导入 .xlsx 格式的 Excel 文件（.xls 或 WPS 表格请先另存为 .xlsx）。",
                              "Only .xlsx Excel files can be imported (save .xls or WPS sheets as .xlsx first).",
                              {"filename": name, "allowed": [".xlsx"]})
    if content_type and content_type not in (XLSX_TYPE, "application/octet-stream", "application/zip"):
        raise UnsupportedType(f"文件类型 {content_type} 不是 Excel (.xlsx)。",
                              f"The file type {content_type} is not an Excel (.xlsx) file.",
                              {"content_type": content_type, "allowed": [XLSX_TYPE]})


def store_sheet(directory: Path, filename: str | None, content_type: str | None, stream: BinaryIO) -> str:
    """Keep an uploaded sheet by its sha256 (the preview's confirmation names it); returns the sha256."""
    check_upload(filename, content_type)
    stored = filestore.store(directory, filename, stream, MAX_SHEET_BYTES)
    return stored.sha256


def sheet_path(directory: Path, sha256: str) -> Path:
    path = filestore.path_of(directory, filestore.storage_key(sha256))
    if not path.is_file():
        raise NotFound("导入的表格已不存在，请重新上传。", "The uploaded sheet is gone; upload it again.")
    return path


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return " ".join(str(value).split()) if "\n" not in str(value) else str(value).strip()


def _open(path: Path) -> Workbook:
    # Stored sheets are named by checksum, without an extension, which openpyxl would refuse by name.
    return load_workbook(io.BytesIO(path.read_bytes()), read_only=True, data_only=True)


def read_sheet(path: Path) -> list[SheetRow]:
    """The data rows of the 整改台账 sheet, by ledger field; malformed files are refused (422)."""
    refused = FileRefused("文件不是可读取的 Excel (.xlsx) 表格。", "The file is not a readable Excel (.xlsx) sheet.",
                          {"filename": path.name})
    try:
        wb = _open(path)
    except (zipfile.BadZipFile, InvalidFileException, KeyError, ValueError, OSError, TypeError):
        raise refused from None
    try:
        ws = wb["整改台账"] if "整改台账" in wb.sheetnames else wb.worksheets[0]
        if (ws.max_row or 0) > MAX_SHEET_ROWS:
            raise TooLarge(f"表格超过 {MAX_SHEET_ROWS} 行，请分批导入。",
                           f"The sheet has more than {MAX_SHEET_ROWS} rows; import it in parts.",
                           {"max_rows": MAX_SHEET_ROWS})
        grid = [[_text(v) for v in row] for row in ws.iter_rows(values_only=True)]
    finally:
        wb.close()
    by_name = {f.zh: f.key for f in LEDGER_FIELDS}
    header_at = next((i for i, row in enumerate(grid[:20]) if "序号" in row), None)
    if header_at is None:
        raise FileRefused("表格中找不到表头（“序号”一列）。请使用本系统导出的台账格式。",
                          "No header row (a '序号' column) was found. Use the layout this system exports.")
    top = grid[header_at]
    below = grid[header_at + 1] if header_at + 1 < len(grid) else []
    two_levels = any(cell in by_name and cell not in top for cell in below)
    columns: dict[int, str] = {}
    for c, name in enumerate(top):
        lower = below[c] if two_levels and c < len(below) else ""
        key = by_name.get(lower) or by_name.get(name)
        if key:
            columns[c] = key
    if "problem" not in columns.values():
        raise FileRefused("表头缺少“问题描述”一列。", "The header has no '问题描述' column.")
    first_data = header_at + (2 if two_levels else 1)
    rows = []
    for offset, raw in enumerate(grid[first_data:], start=first_data + 1):
        cells = {key: raw[c] if c < len(raw) else "" for c, key in columns.items()}
        if any(cells.values()):
            rows.append(SheetRow(offset, cells))
    return rows


# -- planning and applying an import ---------------------------------------------------------------------

@dataclass
class ImportPlan:
    unit_id: int
    basis: str  # a digest of the ledger the plan was made against
    updates: list[tuple[RectificationItem, dict[str, list[Any]]]] = field(default_factory=list)
    creates: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"unit_id": self.unit_id, "basis": self.basis,
                "updates": [{"id": item.id, "number": item.number,
                             "changes": {FIELD_BY_KEY[k].zh: v for k, v in changes.items()}}
                            for item, changes in self.updates],
                "creates": [{"number": c["number"], "problem": c["problem"], "row": c["row"]} for c in self.creates]}


def _parse_day(value: str) -> date | None:
    cleaned = value.replace("/", "-").replace(".", "-").replace("年", "-").replace("月", "-").rstrip("日").strip()
    try:
        year, month, day = (int(part) for part in cleaned.split("-"))
        return date(year, month, day)
    except ValueError:
        return None


def _running_case(session: Session, actor: Actor, items: Sequence[RectificationItem]) -> ProcessInstance | None:
    """The unit's newest rectification case, where lines added to its ledger belong."""
    ids = sorted({i.instance_id for i in items if i.instance_id}, reverse=True)
    return session.get(ProcessInstance, ids[0]) if ids else None


def plan_import(session: Session, actor: Actor, unit_id: int, rows: Sequence[SheetRow]) -> ImportPlan:
    """What importing these rows would change; every bad row raises RowsInvalid (nothing changes)."""
    ledger_unit(session, actor, unit_id)
    items = all_visible_items(session, actor, unit_id)
    current = {r["id"]: r for r in item_rows(session, items)}
    by_number: dict[str, list[RectificationItem]] = {}
    for item in items:
        by_number.setdefault(item.number, []).append(item)
    instances = {i.id: i for i in session.execute(select(ProcessInstance).where(
        ProcessInstance.id.in_({i.instance_id for i in items}))).scalars()} if items else {}
    case = _running_case(session, actor, items)
    problems = RowProblems()
    plan = ImportPlan(unit_id, _basis(current))
    seen: set[str] = set()
    if not rows:
        problems.add(0, "", "表格中没有数据行。", "The sheet has no data rows.")
    for row in rows:
        number = row.cells.get("number", "")
        if not number:
            problems.add(row.excel_row, "序号", "“序号”必填。", "'序号' is required.")
            continue
        if number in seen:
            problems.add(row.excel_row, "序号", f"序号 {number} 在表中重复。", f"No. {number} is repeated.")
            continue
        seen.add(number)
        matches = by_number.get(number, [])
        if len(matches) > 1:
            problems.add(row.excel_row, "序号", f"序号 {number} 在台账中对应多条事项，无法确定。",
                         f"No. {number} matches several ledger items.")
        elif matches:
            item = matches[0]
            changes = _row_changes(actor, row, item, current[item.id], instances[item.instance_id or 0], problems)
            if changes:
                plan.updates.append((item, changes))
        else:
            created = _row_create(actor, row, number, case, problems)
            if created:
                plan.creates.append(created)
    problems.raise_if_any()
    return plan


def _row_changes(actor: Actor, row: SheetRow, item: RectificationItem, shown: dict[str, Any],
                 instance: ProcessInstance, problems: RowProblems) -> dict[str, list[Any]]:
    allowed = editable_fields(actor, item, instance)
    changes: dict[str, list[Any]] = {}
    for key, value in row.cells.items():
        spec = FIELD_BY_KEY[key]
        if key in READ_ONLY_CHECKED:
            if value and _same(key, value, shown[key]) is False:
                zh, en = READ_ONLY_CHECKED[key]
                problems.add(row.excel_row, spec.zh, zh, en)
            continue
        if key not in ITEM_COLUMNS or value == " ".join(str(shown[key]).split()) or value == shown[key]:
            continue
        if item.status == ItemStatus.STRUCK_OFF:
            problems.add(row.excel_row, spec.zh, f"序号 {item.number} 已销号，不能修改。",
                         f"No. {item.number} has been struck off and cannot be changed.")
        elif key not in allowed:
            problems.add(row.excel_row, spec.zh, f"您不能修改“{spec.zh}”。", f"You may not change '{spec.en}'.")
        elif reason := check_value(spec, value):
            problems.add(row.excel_row, spec.zh, *reason)
        else:
            changes[key] = [getattr(item, key), value or None]
    return changes


def _same(key: str, value: str, shown: str) -> bool:
    if key == "due_date":
        day = _parse_day(value)
        return day is not None and day.isoformat() == shown
    return " ".join(value.split()) == " ".join(str(shown).split())


def _row_create(actor: Actor, row: SheetRow, number: str, case: ProcessInstance | None,
                problems: RowProblems) -> dict[str, Any] | None:
    if case is None or not may_add_items(actor, case):
        problems.add(row.excel_row, "序号", f"台账中没有序号 {number}；只有巡察办或巡察组可以新增事项。",
                     f"No. {number} is not on the ledger; only the inspection office or group may add items.")
        return None
    cells = row.cells
    if not cells.get("problem"):
        problems.add(row.excel_row, "问题描述", "新增事项须填写“问题描述”。", "A new item needs its problem text.")
    source, category = cells.get("source") or SOURCES[0], cells.get("category") or CATEGORIES[-1]
    for key, value in (("source", source), ("category", category)):
        if reason := check_value(FIELD_BY_KEY[key], value):
            problems.add(row.excel_row, FIELD_BY_KEY[key].zh, *reason)
    due = None
    if cells.get("due_date"):
        due = _parse_day(cells["due_date"])
        if due is None:
            problems.add(row.excel_row, "完成时限", f"日期无效：{cells['due_date']}（应为 2026-12-31 这样的日期）。",
                         f"Invalid date: {cells['due_date']} (expected e.g. 2026-12-31).")
    values = {}
    for key in ITEM_COLUMNS & set(cells):
        if cells[key]:
            if reason := check_value(FIELD_BY_KEY[key], cells[key]):
                problems.add(row.excel_row, FIELD_BY_KEY[key].zh, *reason)
            values[key] = cells[key]
    return {"row": row.excel_row, "number": number, "problem": cells.get("problem", ""), "source": source,
            "category": category, "due": due, "values": values, "instance_id": case.id}


def _basis(current: dict[int, dict[str, Any]]) -> str:
    return hashlib.sha256(canonical_json(sorted(current.items())).encode()).hexdigest()


def apply_import(session: Session, actor: Actor, unit_id: int, rows: Sequence[SheetRow], basis: str,
                 now: datetime) -> ImportPlan:
    """Import the rows as previewed: refused (409) if the ledger changed since the preview."""
    plan = plan_import(session, actor, unit_id, rows)
    if plan.basis != basis:
        raise StaleState("预览之后台账已有变动，请重新预览后再确认导入。",
                         "The ledger changed after the preview; preview the import again before confirming.")
    for item, changes in sorted(plan.updates, key=lambda pair: (pair[0].instance_id or 0, pair[0].id)):
        instance = lock_instance(session, item.instance_id or 0)
        apply_item_changes(session, actor, instance, item, {k: after for k, (_b, after) in changes.items()}, now,
                           via="import")
    for created in plan.creates:
        _add_item(session, actor, created, unit_id, now)
    return plan


def _add_item(session: Session, actor: Actor, created: dict[str, Any], unit_id: int, now: datetime) -> None:
    instance = lock_instance(session, created["instance_id"])
    inspection_id = session.execute(select(Finding.inspection_id).join(
        RectificationItem, RectificationItem.finding_id == Finding.id)
        .where(RectificationItem.instance_id == instance.id).limit(1)).scalar_one()
    finding = Finding(inspection_id=inspection_id, number=created["number"], source=created["source"],
                      category=created["category"], description=created["problem"], created_at=now)
    session.add(finding)
    session.flush()
    due = datetime.combine(created["due"], END_OF_DAY, tzinfo=LOCAL_TZ) if created["due"] else None
    item = RectificationItem(finding_id=finding.id, unit_id=unit_id, number=created["number"],
                             problem=created["problem"], status=ItemStatus.PENDING, due_at=due, created_at=now,
                             instance_id=instance.id, **created["values"])
    session.add(item)
    session.flush()
    audit.record_case(session, instance, [EventDraft("ledger_item_added", {
        "entity": "rectification_item", "id": item.id, "via": "import", "number": item.number,
        "problem": item.problem, "values": {**created["values"], "due_date": created["due"]}}, instance.id)],
        at=now, actor_id=actor.user_id, actor_name=actor.username)


def read_table(path: Path, headers: dict[str, str]) -> list[dict[str, str]]:
    """Rows of a plain table (the intake grid filled in Excel): the first row holding one of ``headers``
    (header text → key) is the header; title rows above it and blank rows are skipped."""
    try:
        wb = _open(path)
    except (zipfile.BadZipFile, InvalidFileException, KeyError, ValueError, OSError, TypeError):
        raise FileRefused("文件不是可读取的 Excel (.xlsx) 表格。", "The file is not a readable Excel (.xlsx) sheet.",
                          {"filename": path.name}) from None
    try:
        ws = wb.worksheets[0]
        if (ws.max_row or 0) > MAX_SHEET_ROWS:
            raise TooLarge(f"表格超过 {MAX_SHEET_ROWS} 行。", f"The sheet has more than {MAX_SHEET_ROWS} rows.",
                           {"max_rows": MAX_SHEET_ROWS})
        grid = [[_text(v) for v in row] for row in ws.iter_rows(values_only=True)]
    finally:
        wb.close()
    header_at = next((i for i, row in enumerate(grid[:20]) if any(cell in headers for cell in row)), None)
    if header_at is None:
        raise FileRefused(f"表格中找不到表头（应包含：{'、'.join(headers)}）。",
                          f"No header row was found (expected: {', '.join(headers)}).")
    columns = {c: headers[name] for c, name in enumerate(grid[header_at]) if name in headers}
    rows = []
    for raw in grid[header_at + 1:]:
        row = {key: raw[c] if c < len(raw) else "" for c, key in columns.items()}
        if any(row.values()):
            rows.append(row)
    return rows
