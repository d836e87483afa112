"""工作日历 pages (office only): a year's month grids, adding, changing and removing a day with a note,
taking a year's schedule from the package, and saying a hand-entered year is complete."""

from __future__ import annotations

import calendar as month_calendar
from datetime import date
from typing import Any

from flask import Blueprint, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from werkzeug.wrappers import Response

from engine import calendar
from engine.errors import FormInvalid, InvalidInput, NotFound

from ..auth.routes import permission_required
from ..db import ctx, db, sessions
from ..i18n import N_, english

bp = Blueprint("calendar", __name__, template_folder="templates")
WEEKDAY_NAMES = (N_("周一"), N_("周二"), N_("周三"), N_("周四"), N_("周五"), N_("周六"), N_("周日"))


def today() -> date:
    return ctx().clock.now().astimezone(calendar.LOCAL_TZ).date()


def _months(year: int) -> list[list[list[date | None]]]:
    """Each month as weeks of seven days (Monday first), None outside the month."""
    grid = month_calendar.Calendar(firstweekday=0)
    return [[[d if d.month == month else None for d in week] for week in grid.monthdatescalendar(year, month)]
            for month in range(1, 13)]


def _page(year: int, status: int = 200, *, form: dict[str, Any] | None = None,
          errors: dict[str, str] | None = None) -> tuple[str, int]:
    view = calendar.year_view(db(), year, today())
    names = [_(name) for name in WEEKDAY_NAMES]
    return render_template("calendar/year.html", view=view, year=year, months=_months(year), by_day=view.by_day(),
                           today=today(), form=form or {}, errors=errors or {}, weekday_names=names), status


def _field_messages(error: FormInvalid) -> dict[str, str]:
    fields = error.details.get("fields", {})
    return {name: m["message_en" if english() else "message_zh"] for name, m in fields.items()}


def _saved(year: int, message: str) -> Response:
    """After a change: this process sees it at once (other processes within a few seconds)."""
    db().commit()
    calendar.refresh(sessions(read_only=True), max_age=0)
    flash(message, "success")
    return redirect(url_for("calendar.index", year=year))


@bp.route("/calendar")
@permission_required("calendar", "edit")
def index() -> tuple[str, int]:
    raw = request.args.get("year")
    return _page(today().year if raw in (None, "") else calendar.check_year(raw))


@bp.post("/calendar/days")
@permission_required("calendar", "edit")
def set_day() -> Response | tuple[str, int]:
    form = {k: request.form.get(k, "").strip() for k in ("day", "working", "note")}
    try:
        day = calendar.parse_day(form["day"])
    except InvalidInput as exc:
        return _page(calendar.check_year(request.form.get("year") or today().year), 422, form=form,
                     errors={"day": exc.message_en if english() else exc.message_zh})
    working = {"1": True, "0": False}.get(form["working"])
    try:
        row, created = calendar.set_day(db(), ctx(), g.actor, day, working, form["note"])
    except FormInvalid as exc:
        db().rollback()
        return _page(day.year, 422, form=form, errors=_field_messages(exc))
    done = {(True, True): _("已登记 %(day)s 为工作日（%(note)s）。", day=day.isoformat(), note=row.note),
            (True, False): _("已登记 %(day)s 为休息日（%(note)s）。", day=day.isoformat(), note=row.note),
            (False, True): _("已改为 %(day)s 为工作日（%(note)s）。", day=day.isoformat(), note=row.note),
            (False, False): _("已改为 %(day)s 为休息日（%(note)s）。", day=day.isoformat(), note=row.note)}
    return _saved(day.year, done[created, row.working])


@bp.route("/calendar/days/<day>/remove")
@permission_required("calendar", "edit")
def confirm_remove(day: str) -> str:
    """Removing asks first (a page of its own, so it works without scripts too)."""
    parsed = calendar.parse_day(day)
    row = calendar.year_view(db(), parsed.year, today()).by_day().get(parsed)
    if row is None:
        raise NotFound(f"{parsed.isoformat()} 没有登记的例外。", f"{parsed.isoformat()} has no calendar entry.",
                       {"date": parsed.isoformat()})
    return render_template("calendar/remove.html", row=row, day=parsed)


@bp.post("/calendar/days/<day>/remove")
@permission_required("calendar", "edit")
def remove_day(day: str) -> Response:
    parsed = calendar.parse_day(day)
    row = calendar.remove_day(db(), ctx(), g.actor, parsed)
    return _saved(parsed.year, _("已删除 %(day)s 的登记（%(note)s），该日按星期算。", day=parsed.isoformat(),
                                 note=row.note))


@bp.post("/calendar/<int:year>/load")
@permission_required("calendar", "edit")
def load_year(year: int) -> Response:
    result = calendar.load_year(db(), ctx(), g.actor, calendar.check_year(year))
    kept = len(result.kept)
    return _saved(year, _("已按程序包载入 %(year)s 年安排：新增 %(added)s 天，更正 %(changed)s 天，"
                          "删除 %(removed)s 天；保留办公室登记的 %(kept)s 天。", year=year, added=len(result.added),
                          changed=len(result.changed), removed=len(result.removed), kept=kept))


@bp.post("/calendar/<int:year>/confirm")
@permission_required("calendar", "edit")
def confirm_year(year: int) -> Response:
    calendar.confirm_year(db(), ctx(), g.actor, calendar.check_year(year))
    return _saved(year, _("已确认 %(year)s 年安排录入完毕。", year=year))
