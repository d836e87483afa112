"""Generated PDF reports: set in real Chinese glyphs (checked on a rendered page), stored, audited, scoped."""

from __future__ import annotations

from datetime import timedelta

import pypdfium2 as pdfium
import pytest
from sqlalchemy import select, update

from engine import reports
from engine.db import transaction
from engine.errors import NotFound, NotPermitted, ServiceUnavailable
from models import AuditEvent, RectificationItem, ReportDocument
from tests.helpers import add_user, open_clue, open_rectification


def _generate(factory, ctx, demo, kind=reports.BULLETIN, username="office1"):
    with transaction(factory) as session:
        document = reports.generate(session, demo.actor(username) if isinstance(username, str) else username, kind,
                                    at=ctx.clock.now(), attachments_dir=ctx.attachments_dir)
        return document.id, reports.report_path(document, ctx.attachments_dir)


def _text(path) -> str:
    pdf = pdfium.PdfDocument(str(path))
    return "".join(pdf[i].get_textpage().get_text_range() for i in range(len(pdf)))


def _glyph_images(path, wanted: str) -> dict[str, bytes]:
    """Render page 1 and cut out each wanted character where the PDF's text layer says it is drawn."""
    page = pdfium.PdfDocument(str(path))[0]
    scale = 3
    image = page.render(scale=scale).to_pil().convert("L")
    height = image.height
    text = page.get_textpage()
    found: dict[str, bytes] = {}
    for index in range(text.count_chars()):
        char = text.get_text_range(index, 1)
        if char in wanted and char not in found:
            left, bottom, right, top = text.get_charbox(index)
            box = (int(left * scale), int(height - top * scale),
                   int(right * scale) + 1, int(height - bottom * scale) + 1)
            found[char] = image.crop(box).resize((24, 24)).tobytes()
    return found


def test_bulletin_is_set_in_chinese_glyphs_not_boxes(factory, ctx, demo):
    instance_id = open_rectification(factory, ctx, demo, unit="U-HEALTH", problems=2)
    with transaction(factory) as session:
        session.execute(update(RectificationItem).where(RectificationItem.instance_id == instance_id)
                        .values(due_at=ctx.clock.now() - timedelta(days=7), responsible_leader="吴某"))

    _id, path = _generate(factory, ctx, demo)

    text = _text(path)
    assert "巡察整改督查通报" in text and "逾期未完成整改事项" in text and "吴某" in text
    glyphs = _glyph_images(path, "督查通报整改")
    assert set(glyphs) == set("督查通报整改")
    # A font without these glyphs draws the same empty box for each: distinct characters must look distinct,
    # and each must have ink.
    assert len(set(glyphs.values())) == len(glyphs)
    assert all(min(g) < 128 for g in glyphs.values())


def test_the_bulletin_carries_no_clue_figures_and_the_leading_group_report_does(factory, ctx, demo):
    open_rectification(factory, ctx, demo, problems=1)
    open_clue(factory, ctx, demo, number="XS-R-1", summary="反映某科长收受财物。")

    _b, bulletin = _generate(factory, ctx, demo, reports.BULLETIN)
    _r, report = _generate(factory, ctx, demo, reports.LEADING_GROUP)

    assert "问题线索" not in _text(bulletin)
    report_text = _text(report)
    assert "问题线索处置情况" in report_text and "内部资料" in report_text and "四种形态" in report_text
    assert "XS-R-1" not in report_text and "收受财物" not in report_text  # counted, never listed


def test_generating_stores_the_pdf_numbers_the_issue_and_audits_it(factory, ctx, demo):
    first_id, first_path = _generate(factory, ctx, demo)
    second_id, _second = _generate(factory, ctx, demo)

    with factory() as session:
        first, second = session.get(ReportDocument, first_id), session.get(ReportDocument, second_id)
        assert first.params["issue_no"] == 1 and second.params["issue_no"] == 2
        assert "第1期" in first.title and "第2期" in second.title
        assert first_path.read_bytes().startswith(b"%PDF") and first.size == first_path.stat().st_size
        events = session.execute(select(AuditEvent).where(AuditEvent.event_type == "report_generated")).scalars().all()
        assert [e.actor_name for e in events] == ["office1", "office1"]


def test_only_the_office_generates_and_readers_are_held_to_their_scope(factory, ctx, demo):
    for username in ("leader1", "unit1", "zzb1"):
        with pytest.raises(NotPermitted):
            _generate(factory, ctx, demo, username=username)
    report_id, _path = _generate(factory, ctx, demo)
    county_office = add_user(factory, "county_rep", "COUNTY-A-OFFICE", [("office", "COUNTY-A")])

    with factory() as session:
        assert reports.get_report(session, demo.actor("leader1"), report_id).id == report_id
        with pytest.raises(NotFound):
            reports.get_report(session, county_office, report_id)
        assert reports.list_reports(session, county_office) == ([], 0)
        with pytest.raises(NotPermitted):
            reports.list_reports(session, demo.actor("unit1"))


def test_without_a_chinese_font_the_report_is_refused_not_printed_in_boxes(monkeypatch):
    monkeypatch.setenv("XUNCHA_FONT_MISSING", "/nonexistent/font.ttc")
    with pytest.raises(ServiceUnavailable) as refused:
        reports._register("XunchaMissingFace", "XUNCHA_FONT_MISSING", ())
    assert "中文字体" in refused.value.message_zh
