"""What page routes share when the engine refuses a form post."""

from __future__ import annotations

from flask import flash, redirect
from werkzeug.wrappers import Response

from engine.errors import XunchaError

from .db import db
from .i18n import t


def refused(error: XunchaError, back: str, detail: str = "") -> Response:
    """Undo the request's writes and say why on the page the reader goes ``back`` to, ``detail`` appended.

    A row the reader may not see (404) is raised again: it gets the error page, as a GET of it would,
    rather than a message that would tell it exists."""
    db().rollback()
    if error.status == 404:
        raise error
    flash(t(error.message_zh, error.message_en) + detail, "error")
    return redirect(back)
