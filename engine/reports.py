"""Generated reports: the periodic 督查通报 and the report to the leading group, as PDF.

Both are set in Chinese TrueType fonts (a Song face for the text, a Hei face for headings, as official
documents use 宋体/黑体). Where no such font is installed we refuse with a clear 503 rather than print
empty boxes. Each PDF is kept in the file store by checksum with a ``ReportDocument`` row, so what was
issued can be shown again exactly; generating one is an audited event.

The 督查通报 circulates among units, so it carries rectification figures only; clue figures (counts
by stage, receiving body and 四种形态 — never a clue itself) go only into the report to the leading
group, which is marked 内部资料.
"""

from __future__ import annotations

import io
import os
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

from reportlab.lib import colors
from reportlab.lib.enums import TA_CENTER
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFError, TTFont
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from models import Organisation, ReportDocument

from . import audit, filestore
from .actors import Actor
from .calendar import LOCAL_TZ
from .errors import InvalidInput, NotFound, NotPermitted, ServiceUnavailable
from .permissions import orgs_within, scopes
from .statistics import Figures, figures, oversight_paths

BULLETIN = "bulletin"  # 督查通报
LEADING_GROUP = "leading_group_report"  # 向领导小组报告
KINDS = {BULLETIN: ("巡察整改督查通报", "Rectification supervision bulletin"),
         LEADING_GROUP: ("巡察工作情况报告", "Report to the leading group")}
MAX_PDF_BYTES = 50 * 1024 * 1024

# TrueType faces with CJK glyphs, in order of preference (Debian packages fonts-arphic-uming and
# fonts-wqy-zenhei; `make install` installs both). reportlab cannot embed CFF-outline OpenType such as
# Noto CJK, so those are not listed. XUNCHA_FONT_SONG / XUNCHA_FONT_HEI point elsewhere.
SONG_CANDIDATES = ("/usr/share/fonts/truetype/arphic/uming.ttc", "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
                   "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc")
HEI_CANDIDATES = ("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc", "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
                  "/usr/share/fonts/truetype/arphic/uming.ttc")
SONG, HEI = "XunchaSong", "XunchaHei"


def _register(name: str, env: str, candidates: Sequence[str]) -> None:
    if name in pdfmetrics.getRegisteredFontNames():
        return
    paths = [os.environ[env]] if os.environ.get(env) else list(candidates)
    for path in paths:
        if Path(path).is_file():
            try:
                pdfmetrics.registerFont(TTFont(name, path, subfontIndex=0))
                return
            except TTFError:
                continue
    raise ServiceUnavailable(
        "服务器未安装中文字体，无法生成报告（需要 fonts-arphic-uming 或 fonts-wqy-zenhei）。",
        "No Chinese font is installed on the server, so reports cannot be generated "
        "(install fonts-arphic-uming or fonts-wqy-zenhei).", {"looked_in": paths})


def ensure_fonts() -> None:
    _register(SONG, "XUNCHA_FONT_SONG", SONG_CANDIDATES)
    _register(HEI, "XUNCHA_FONT_HEI", HEI_CANDIDATES)


@dataclass(frozen=True)
class Styles:
    title: ParagraphStyle
    subtitle: ParagraphStyle
    heading: ParagraphStyle
    body: ParagraphStyle
    cell: ParagraphStyle
    head_cell: ParagraphStyle


def _styles() -> Styles:
    body = ParagraphStyle("body", fontName=SONG, fontSize=12, leading=20, wordWrap="CJK", firstLineIndent=24)
    return Styles(
        title=ParagraphStyle("title", fontName=HEI, fontSize=20, leading=30, alignment=TA_CENTER,
                             textColor=colors.HexColor("#b00000")),
        subtitle=ParagraphStyle("subtitle", fontName=SONG, fontSize=12, leading=18, alignment=TA_CENTER),
        heading=ParagraphStyle("heading", fontName=HEI, fontSize=14, leading=24, spaceBefore=10, spaceAfter=4),
        body=body,
        cell=ParagraphStyle("cell", fontName=SONG, fontSize=9, leading=12, wordWrap="CJK"),
        head_cell=ParagraphStyle("head", fontName=HEI, fontSize=9, leading=12, wordWrap="CJK", alignment=TA_CENTER))


def _table(styles: Styles, header: list[str], rows: list[list[Any]], widths: list[float]) -> Table:
    data = [[Paragraph(h, styles.head_cell) for h in header]]
    data += [[Paragraph(_escape(str(v)), styles.cell) for v in row] for row in rows]
    table = Table(data, colWidths=[w * mm for w in widths], repeatRows=1)
    table.setStyle(TableStyle([
        ("GRID", (0, 0), (-1, -1), 0.5, colors.black),
        ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#eeeeee")),
        ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
    ]))
    return table


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _percent(value: float) -> str:
    return f"{value * 100:.1f}%"


def _day(moment: datetime) -> str:
    return moment.astimezone(LOCAL_TZ).strftime("%Y-%m-%d")


def _rectification_sections(styles: Styles, data: Figures, scope_name: str, first: int) -> list[Any]:
    numerals = "一二三四五六七八九十"
    late_units = {i.unit_name for i in data.overdue_items}
    story: list[Any] = [
        Paragraph(f"{numerals[first]}、总体情况", styles.heading),
        Paragraph(_escape(
            f"截至{data.as_of.astimezone(LOCAL_TZ):%Y年%m月%d日}，{scope_name}共有整改事项{data.items_total}项，"
            f"已销号{data.items_struck_off}项，整改完成率{_percent(data.rate)}；逾期未完成{len(data.overdue_items)}项，"
            f"涉及{len(late_units)}个单位。"), styles.body),
        Paragraph(f"{numerals[first + 1]}、逾期未完成整改事项", styles.heading),
    ]
    if data.overdue_items:
        rows = [[n, i.unit_name, i.county, i.number, i.problem[:80], _day(i.due_at), i.working_days_overdue,
                 i.responsible_leader or "—"] for n, i in enumerate(data.overdue_items, 1)]
        header = ["序号", "单位", "县区", "编号", "问题描述", "完成时限", "逾期（工作日）", "责任领导"]
        story.append(_table(styles, header, rows, [10, 28, 16, 18, 52, 20, 16, 20]))
    else:
        story.append(Paragraph("无逾期未完成的整改事项。", styles.body))
    story.append(Paragraph(f"{numerals[first + 2]}、各单位整改完成率", styles.heading))
    rows = [[u.unit_name, u.county, u.total, u.struck_off, u.overdue, _percent(u.rate)] for u in data.units]
    story.append(_table(styles, ["单位", "县区", "事项数", "已销号", "逾期", "完成率"], rows or [["—"] * 6],
                        [50, 26, 22, 22, 22, 24]))
    if len(data.by_county()) > 1:
        story.append(Paragraph("按县区汇总：", styles.body))
        rows = [[county, items, done, late, _percent(done / items if items else 0)]
                for county, items, done, late in data.by_county()]
        story.append(_table(styles, ["县区", "事项数", "已销号", "逾期", "完成率"], rows, [50, 30, 30, 30, 30]))
    return story


def _leading_group_sections(styles: Styles, data: Figures) -> list[Any]:
    clues = data.clues
    story: list[Any] = [
        Paragraph("四、问题线索处置情况", styles.heading),
        Paragraph(_escape(f"共移交问题线索{clues.total}件，逾期未办结{clues.overdue}件。"), styles.body),
    ]
    for caption, counts in (("按“四种形态”", clues.by_four_forms), ("按承办单位", clues.by_receiving_body),
                            ("按办理阶段", clues.by_stage), ("按处置方式", clues.by_disposition)):
        story.append(Paragraph(caption + "：", styles.body))
        rows = [[label, count] for label, count in counts.items()] or [["—", 0]]
        story.append(_table(styles, ["类别", "件数"], rows, [90, 30]))
    story.append(Paragraph("五、巡察全覆盖进度", styles.heading))
    covered = sum(y.inspected for y in data.coverage)
    story.append(Paragraph(_escape(f"本届规划巡察单位{data.units_in_plan}个，已巡察{covered}个。"), styles.body))
    rows = [[y.year, y.planned, y.inspected] for y in data.coverage] or [["—", 0, 0]]
    story.append(_table(styles, ["年度", "计划巡察单位", "已巡察单位"], rows, [40, 40, 40]))
    return story


def render_pdf(kind: str, data: Figures, *, scope_name: str, issue_no: int, issued_on: date) -> bytes:
    """The PDF bytes of a report; pure (no database), so it can be tested and previewed alone."""
    ensure_fonts()
    styles = _styles()
    title_zh = KINDS[kind][0]
    story: list[Any] = []
    if kind == LEADING_GROUP:
        story.append(Paragraph("内部资料　注意保密", ParagraphStyle("secret", fontName=HEI, fontSize=10)))
    story += [Paragraph(_escape(title_zh), styles.title),
              Paragraph(_escape(f"{issued_on.year}年第{issue_no}期　{scope_name}　{issued_on:%Y年%m月%d日}"),
                        styles.subtitle), Spacer(1, 6 * mm)]
    story += _rectification_sections(styles, data, scope_name, 0)
    if kind == LEADING_GROUP:
        story += _leading_group_sections(styles, data)

    def footer(canvas: Any, doc: Any) -> None:
        canvas.saveState()
        canvas.setFont(SONG, 9)
        canvas.drawCentredString(A4[0] / 2, 10 * mm, f"— {doc.page} —")
        canvas.restoreState()

    buffer = io.BytesIO()
    document = SimpleDocTemplate(buffer, pagesize=A4, leftMargin=18 * mm, rightMargin=18 * mm, topMargin=20 * mm,
                                 bottomMargin=18 * mm, title=title_zh, author=scope_name, creator="Xuncha")
    document.build(story, onFirstPage=footer, onLaterPages=footer)
    return buffer.getvalue()


def _scope_org(session: Session, actor: Actor) -> Organisation:
    """The office the report is issued for: the actor's (narrowest) office scope."""
    paths = scopes(actor, "report", "generate")
    if not paths:
        raise NotPermitted("只有巡察办可以生成报告。", "Only the inspection office can generate reports.")
    org_id = int(max(paths, key=len).strip("/").split("/")[-1])
    org = session.get(Organisation, org_id)
    if org is None:
        raise NotFound("组织不存在。", "The organisation does not exist.")
    return org


def generate(session: Session, actor: Actor, kind: str, *, at: datetime, attachments_dir: Path) -> ReportDocument:
    """Compute the figures, render the PDF, store it and its row, and audit the issue."""
    if kind not in KINDS:
        raise InvalidInput("报告类型无效。", "Unknown report kind.", {"kind": kind, "allowed": list(KINDS)})
    org = _scope_org(session, actor)
    data = figures(session, actor, at)
    issued_on = at.astimezone(LOCAL_TZ).date()
    earlier = session.execute(select(func.count()).select_from(ReportDocument).where(
        ReportDocument.kind == kind, ReportDocument.scope_org_id == org.id,
        ReportDocument.period_end >= date(issued_on.year, 1, 1))).scalar_one()
    pdf = render_pdf(kind, data, scope_name=org.name, issue_no=earlier + 1, issued_on=issued_on)
    stored = filestore.store(attachments_dir, f"{kind}.pdf", io.BytesIO(pdf), MAX_PDF_BYTES)
    document = ReportDocument(
        kind=kind, title=f"{KINDS[kind][0]}（{issued_on.year}年第{earlier + 1}期）", scope_org_id=org.id,
        period_start=date(issued_on.year, 1, 1), period_end=issued_on,
        params={"issue_no": earlier + 1, "items": data.items_total, "overdue": len(data.overdue_items),
                "clues": data.clues.total if kind == LEADING_GROUP else None},
        sha256=stored.sha256, storage_key=stored.storage_key, size=stored.size, generated_by_id=actor.user_id,
        generated_at=at)
    session.add(document)
    session.flush()
    audit.record(session, audit.SYSTEM_STREAM, [audit.EventDraft("report_generated", {
        "report_id": document.id, "kind": kind, "title": document.title, "sha256": stored.sha256,
        "scope_org_id": org.id})], at=at, actor_id=actor.user_id, actor_name=actor.username)
    return document


def _readable(actor: Actor, session: Session, document: ReportDocument) -> bool:
    org = session.get(Organisation, document.scope_org_id)
    paths = oversight_paths(actor)
    return org is not None and any(org.path.startswith(p) for p in paths)


def list_reports(session: Session, actor: Actor, *, page: int = 1, per_page: int = 20
                 ) -> tuple[list[ReportDocument], int]:
    """Reports issued within the actor's oversight scope, newest first, with the total."""
    paths = oversight_paths(actor)
    condition = orgs_within(paths)
    base = select(ReportDocument).join(Organisation, Organisation.id == ReportDocument.scope_org_id).where(condition)
    total = session.execute(select(func.count()).select_from(base.subquery())).scalar_one()
    rows = session.execute(base.order_by(ReportDocument.generated_at.desc(), ReportDocument.id.desc())
                           .offset((page - 1) * per_page).limit(per_page)).scalars().all()
    return list(rows), total


def get_report(session: Session, actor: Actor, report_id: int) -> ReportDocument:
    document = session.get(ReportDocument, report_id)
    if document is None or not _readable(actor, session, document):
        raise NotFound("报告不存在或无权查看。", "The report does not exist or is not visible to you.")
    return document


def report_path(document: ReportDocument, attachments_dir: Path) -> Path:
    return filestore.path_of(attachments_dir, document.storage_key)
