"""The reader's language: zh_CN, or English for people who chose it (``User.locale``).

Page text is written in Chinese and marked with gettext (``_('中文')`` in templates and web code):
the Chinese is the msgid, so zh_CN needs no catalogue, and English comes from
``web/translations/en/LC_MESSAGES/messages.po``. ``web.errors.locale`` decides which language a request
reads. Pairs that are data rather than page text — every XunchaError's zh_CN and English message, the
(zh, en) label tables of ``engine`` — are picked with ``t(zh, en)``. docs/i18n.md says where the line is.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from flask import Flask
from flask_babel import Babel, gettext

from .errors import locale

TRANSLATIONS = Path(__file__).parent / "translations"


def english() -> bool:
    return locale().startswith("en")


def t(zh: str, en: str) -> str:
    """One of a (zh, en) pair that is data — an error's two messages, an engine label — in the reader's language."""
    return en if english() else zh


def N_(msgid: str) -> str:
    """Marks a msgid in a module-level table; the page translates it when it shows it."""
    return msgid


# Chinese words stored as data and shown as they are: round stages, kinds and methods, unit sectors and
# report kinds (engine.planning, models.RoundKind, models.ReportKind). Listed here so extraction gives
# them an English entry; tests/web/test_translations.py checks the list still matches the engine's.
STORED_WORDS = (
    N_("准备"), N_("进驻"), N_("报告"), N_("反馈"), N_("移交"), N_("整改"), N_("立卷归档"),
    N_("常规"), N_("专项"), N_("机动式"), N_("回头看"), N_("延伸"),
    N_("板块轮动"), N_("同类同步"), N_("上下联动"), N_("一托N"),
    N_("市委工作部门"), N_("人大政协"), N_("市政府组成部门"), N_("法院检察院"), N_("群团"), N_("企事业单位"),
    N_("问题线索报告"), N_("谈话情况报告"), N_("巡察报告"),
)


def word(value: str | None) -> str | None:
    """A msgid held in a variable — a stored word or a table's ``N_()`` label — in the reader's language.

    Unlike ``_(value)`` in a template it never %-formats, and empty values and text without a catalogue
    entry pass through as they are.
    """
    return gettext(value) if value else value


def compile_catalogues(target: Path, source: Path = TRANSLATIONS) -> None:
    """Writes each catalogue's .mo under ``target`` (the instance folder) when missing or older than its .po.

    The .po is the only file in git; compiling at start means a fresh clone, the tests and an image with a
    read-only source tree need no build step. The write is atomic: several workers may start at once.
    """
    for po_path in source.glob("*/LC_MESSAGES/*.po"):
        mo_path = target / po_path.relative_to(source).with_suffix(".mo")
        if mo_path.exists() and mo_path.stat().st_mtime >= po_path.stat().st_mtime:
            continue
        with po_path.open("rb") as po_file:
            catalog = read_po(po_file)
        mo_path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=mo_path.parent, suffix=".tmp", delete=False) as mo_file:
            write_mo(mo_file, catalog)
        os.replace(mo_file.name, mo_path)


def install(app: Flask) -> None:
    """Flask-Babel with the request's language, and ``t`` and ``ui_locale`` in every template."""
    compiled = Path(app.instance_path) / "translations"
    compile_catalogues(compiled)
    Babel(app, locale_selector=locale, default_locale="zh_CN", default_translation_directories=str(compiled))
    app.add_template_global(t, "t")
    app.add_template_filter(word, "word")

    @app.context_processor
    def _locale() -> dict[str, Any]:
        return {"ui_locale": locale()}
