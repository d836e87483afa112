"""The reader's language on pages: zh_CN, or English for people who chose it (``User.locale``).

Messages people act on — form errors, the error banner, flash messages — come in both languages
(every XunchaError carries a zh_CN and an English message); labels from form schemas and most page
text stay Chinese. ``web.errors.locale`` decides which language a request reads.
"""

from __future__ import annotations

from typing import Any

from flask import Flask

from .errors import locale


def english() -> bool:
    return locale().startswith("en")


def t(zh: str, en: str) -> str:
    """The text in the reader's language."""
    return en if english() else zh


def install(app: Flask) -> None:
    """``t(zh, en)`` and ``ui_locale`` in every template."""
    app.add_template_global(t, "t")

    @app.context_processor
    def _locale() -> dict[str, Any]:
        return {"ui_locale": locale()}
