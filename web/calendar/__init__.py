"""工作日历: the office's page for the business calendar, and keeping each process's copy of it fresh."""

from __future__ import annotations

import logging

from flask import Flask
from sqlalchemy import inspect

from engine import calendar

from .. import db

log = logging.getLogger(__name__)


def install(app: Flask) -> None:
    """Load the calendar when the app starts (if the database is migrated), and before each request
    re-read it once it is more than a few seconds old, so an edit made in another worker or process
    is seen soon (engine.calendar explains the choice)."""
    factory = db.sessions(app, read_only=True)
    if inspect(app.extensions["xuncha.engine"]).has_table("calendar_day"):
        calendar.refresh(factory, max_age=0)
    else:
        log.warning("business calendar not loaded: database not migrated yet; run `xuncha db upgrade`")

    @app.before_request
    def _fresh_calendar() -> None:
        calendar.refresh(factory)
