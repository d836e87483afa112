"""The business calendar over the API: a year's exception days for anyone logged in, and the office's
edits (engine.calendar). An edit is seen by this process at once and by the others within seconds."""

from __future__ import annotations

from typing import Any

from flask import g, request
from werkzeug.wrappers import Response

from engine import calendar
from models import CalendarDay

from ..db import ctx, db, sessions
from .auth import require_permission
from .params import json_body
from .serializers import iso


def _day(row: CalendarDay) -> dict[str, Any]:
    return {"date": row.day.isoformat(), "working": row.working, "note": row.note, "source": row.source,
            "updated_at": iso(row.updated_at)}


def get_calendar() -> dict[str, Any]:
    """``?year=`` (default: this year, Beijing time): whether its schedule is known, and its days that
    differ from the week (every other day: Monday to Friday working, weekends off)."""
    today = ctx().clock.now().astimezone(calendar.LOCAL_TZ).date()
    raw = request.args.get("year", "").strip()
    year = calendar.check_year(raw) if raw else today.year
    view = calendar.year_view(db(), year, today)
    return {"year": year, "known": view.known is not None,
            "source": view.known.source if view.known else None,
            "loaded_at": iso(view.known.loaded_at) if view.known else None,
            "in_package": view.in_package, "missing_year": view.missing_next,
            "days": [_day(d) for d in view.days]}


def _saved() -> None:
    db().commit()
    calendar.refresh(sessions(read_only=True), max_age=0)


def put_day(date: str) -> tuple[dict[str, Any], int]:
    """201 when the day is new to the calendar, 200 when an entry changed (or was already so)."""
    require_permission("calendar", "edit")
    day = calendar.parse_day(date)
    body = json_body()
    row, created = calendar.set_day(db(), ctx(), g.actor, day, body.get("working"), body.get("note"))
    result = _day(row)
    _saved()
    return result, 201 if created else 200


def delete_day(date: str) -> Response:
    require_permission("calendar", "edit")
    calendar.remove_day(db(), ctx(), g.actor, calendar.parse_day(date))
    _saved()
    return Response(status=204)
