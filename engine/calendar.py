"""The business calendar (工作日历): working days on the Chinese calendar, statutory holidays and 调休
make-up working days, as the office keeps them in the ``calendar_day`` / ``calendar_year`` tables.

The tables hold only exceptions (a holiday on a weekday, a working weekend day); every other day
follows its weekday. Migration 0008 seeds them from the ``chinese-calendar`` package; after that the
office edits them (web/calendar) and loads new years from the package when it learns them.

Deadlines are computed on the hot path, so :func:`is_working_day` and friends never query: they read
a process-wide :class:`Snapshot` of the tables (a dict of exceptions and the set of known years).

- :func:`load` reads the tables into the snapshot. The web app does it at start, the scheduler at
  start, the test fixtures before each test.
- :func:`refresh` re-reads them when the snapshot is older than :data:`REFRESH_SECONDS` (or was
  marked stale by an edit in this process). The web app calls it before each request, the scheduler
  from a background thread (:func:`keep_fresh`), so every gunicorn worker and scheduler process sees
  an office edit within a few seconds. The tables are small (~25 rows a year), so the whole of them
  is re-read rather than a version compared: it costs about the same round trip and cannot miss a
  removal or two edits within one timestamp.
- A process that never loaded the calendar gets :class:`CalendarNotLoaded` rather than a silent
  weekday-only or package-only answer: a deadline computed on the wrong calendar is stored on the
  task and looks right, whereas a forgotten :func:`load` fails the first test that touches it.

One process serves one database (the snapshot is per process, not per engine).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from datetime import time as clock_time
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from models import CalendarDay, CalendarSource, CalendarYear

from . import audit
from .actors import Actor
from .context import EngineContext
from .errors import FormInvalid, InvalidInput, NotFound

LOCAL_TZ = ZoneInfo("Asia/Shanghai")
END_OF_DAY = clock_time(23, 59, 59)
REFRESH_SECONDS = 5.0
MAX_NOTE = 100
FIRST_YEAR, LAST_YEAR = 1949, 2200  # dates outside are typing mistakes, not calendar entries

log = logging.getLogger(__name__)


class CalendarNotLoaded(RuntimeError):
    """A working-day question asked in a process that never called :func:`load` (a wiring mistake)."""

    def __init__(self) -> None:
        super().__init__("工作日历尚未载入：进程启动时须调用 engine.calendar.load(session)。 / The business calendar "
                         "was never loaded: call engine.calendar.load(session) when the process starts.")


@dataclass(frozen=True)
class Snapshot:
    """The calendar as read at one moment: the exception days and the years with a known schedule."""

    exceptions: Mapping[date, bool] = field(default_factory=dict)
    years: frozenset[int] = frozenset()

    def is_working_day(self, day: date) -> bool:
        working = self.exceptions.get(day)
        return day.weekday() < 5 if working is None else working


class _Cache:
    def __init__(self) -> None:
        self.snapshot: Snapshot | None = None
        self.read_at = 0.0  # time.monotonic() of the last read
        self.stale = False
        self.lock = threading.Lock()


_cache = _Cache()


def read(session: Session) -> Snapshot:
    days = session.execute(select(CalendarDay.day, CalendarDay.working)).all()
    years = session.execute(select(CalendarYear.year)).scalars()
    return Snapshot({d: bool(w) for d, w in days}, frozenset(years))


def install(snapshot: Snapshot) -> None:
    """Make ``snapshot`` the process's calendar (one assignment: readers see the old or the new one)."""
    _cache.snapshot, _cache.read_at, _cache.stale = snapshot, time.monotonic(), False


def load(session: Session) -> Snapshot:
    """Read the tables and make them the process's calendar."""
    snapshot = read(session)
    install(snapshot)
    return snapshot


def invalidate() -> None:
    """This process changed the tables: the next :func:`refresh` re-reads whatever the snapshot's age."""
    _cache.stale = True


def refresh(factory: sessionmaker[Session], max_age: float = REFRESH_SECONDS) -> bool:
    """Re-read the tables if the snapshot is older than ``max_age`` seconds, stale or missing; True
    if it read. Concurrent callers do not queue: while one thread reads, the others keep the current
    snapshot. A failed read keeps the old snapshot (and is retried after ``max_age``)."""
    if _cache.snapshot is not None and not _cache.stale and time.monotonic() - _cache.read_at < max_age:
        return False
    if not _cache.lock.acquire(blocking=_cache.snapshot is None):
        return False
    try:
        with factory() as session:
            load(session)
        return True
    except Exception:
        _cache.read_at = time.monotonic()
        log.exception("could not read the business calendar; keeping the previous one")
        return False
    finally:
        _cache.lock.release()


def keep_fresh(factory: sessionmaker[Session], every: float = REFRESH_SECONDS) -> threading.Thread:
    """A daemon thread refreshing the calendar every ``every`` seconds (for the scheduler process)."""

    def _loop() -> None:
        while True:
            time.sleep(every)
            refresh(factory, max_age=0)

    thread = threading.Thread(target=_loop, name="calendar-refresh", daemon=True)
    thread.start()
    return thread


def current() -> Snapshot:
    snapshot = _cache.snapshot
    if snapshot is None:
        raise CalendarNotLoaded()
    return snapshot


def is_working_day(day: date) -> bool:
    return current().is_working_day(day)


def add_working_days(start: date, days: int) -> date:
    """The date ``days`` working days after ``start`` (``start`` itself is not counted)."""
    if days < 0:
        raise ValueError("days must not be negative")
    snapshot = current()  # one calendar for the whole count, even if a refresh lands meanwhile
    current_day = start
    remaining = days
    while remaining:
        current_day += timedelta(days=1)
        if snapshot.is_working_day(current_day):
            remaining -= 1
    return current_day


def working_days_between(start: date, end: date) -> int:
    """Working days after ``start`` up to and including ``end`` (negative if ``end`` is earlier)."""
    if end < start:
        return -working_days_between(end, start)
    snapshot = current()
    return sum(1 for n in range(1, (end - start).days + 1) if snapshot.is_working_day(start + timedelta(days=n)))


def deadline_after(moment: datetime, working_days: int) -> datetime:
    """A deadline at the end of the working day ``working_days`` after ``moment`` (Beijing time)."""
    local = moment.astimezone(LOCAL_TZ)
    due = add_working_days(local.date(), working_days)
    return datetime.combine(due, END_OF_DAY, tzinfo=LOCAL_TZ).astimezone(moment.tzinfo)


# --- The package: where a year's schedule comes from until the office changes it ------------------

@dataclass(frozen=True)
class PackageDay:
    day: date
    working: bool
    note: str


def package_years() -> list[int]:
    """The years the installed ``chinese-calendar`` package has a schedule for."""
    from chinese_calendar.constants import holidays, workdays

    return sorted({d.year for d in holidays} | {d.year for d in workdays})


def package_days(year: int) -> list[PackageDay]:
    """The package's exceptions in ``year``: holidays on weekdays, make-up working days on weekends."""
    from chinese_calendar.constants import Holiday, holidays, workdays

    names = {h.value: h.chinese for h in Holiday}
    days = [PackageDay(d, False, names.get(name, name)) for d, name in holidays.items()
            if d.year == year and d.weekday() < 5]
    days += [PackageDay(d, True, f"{names.get(name, name)}调休") for d, name in workdays.items()
             if d.year == year and d.weekday() >= 5]
    return sorted(days, key=lambda p: p.day)


def seed_from_package(session: Session, at: datetime) -> list[int]:
    """Add every year the package knows and the tables lack (not audited: it is what a fresh database
    starts from, like migration 0008's data step). Returns the years added."""
    known = set(session.execute(select(CalendarYear.year)).scalars())
    added = [y for y in package_years() if y not in known]
    for year in added:
        present = set(session.execute(select(CalendarDay.day).where(*_in_year(year))).scalars())
        session.add_all(CalendarDay(day=p.day, working=p.working, note=p.note, source=CalendarSource.PACKAGE,
                                    updated_at=at) for p in package_days(year) if p.day not in present)
        session.add(CalendarYear(year=year, source=CalendarSource.PACKAGE, loaded_at=at))
    session.flush()
    return added


# --- What the office does (audited on the system stream) -------------------------------------------

def _in_year(year: int) -> tuple[Any, Any]:
    return CalendarDay.day >= date(year, 1, 1), CalendarDay.day <= date(year, 12, 31)


def _describe(row: CalendarDay | None) -> dict[str, Any] | None:
    if row is None:
        return None
    return {"working": row.working, "note": row.note, "source": row.source}


def _record(session: Session, ctx: EngineContext, actor: Actor | None, event_type: str,
            payload: dict[str, Any]) -> None:
    audit.record(session, audit.SYSTEM_STREAM, [audit.EventDraft(event_type, payload)], at=ctx.clock.now(),
                 actor_id=actor.user_id if actor else None, actor_name=actor.username if actor else "system")


def parse_day(raw: Any) -> date:
    """A calendar date from ``YYYY-MM-DD`` (400 otherwise)."""
    try:
        day = date.fromisoformat(raw) if isinstance(raw, str) and len(raw) == 10 else None
    except ValueError:
        day = None
    if day is None or not FIRST_YEAR <= day.year <= LAST_YEAR:
        raise InvalidInput(f"日期无效：{raw}（应为 YYYY-MM-DD）。", f"Invalid date: {raw} (expected YYYY-MM-DD).",
                           {"parameter": "date", "value": raw})
    return day


def check_year(raw: Any) -> int:
    try:
        year = int(raw)
    except (TypeError, ValueError):
        year = 0
    if not FIRST_YEAR <= year <= LAST_YEAR:
        raise InvalidInput(f"年份无效：{raw}。", f"Invalid year: {raw}.", {"parameter": "year", "value": raw})
    return year


def _field_error(name: str, zh: str, en: str) -> FormInvalid:
    return FormInvalid(zh, en, {"fields": {name: {"message_zh": zh, "message_en": en}}})


WEEKDAYS_ZH = "一二三四五六日"


def set_day(session: Session, ctx: EngineContext, actor: Actor, day: date, working: Any, note: Any
            ) -> tuple[CalendarDay, bool]:
    """Make ``day`` a working day or a day off, with a note (a local day off, a make-up day, a
    correction). Returns (row, created). What the weekday already says is not an exception (422):
    to undo one, the office removes it (:func:`remove_day`)."""
    if not isinstance(working, bool):
        raise _field_error("working", "请选择工作日或休息日。", "Choose a working day or a day off.")
    text = note.strip() if isinstance(note, str) else ""
    if not text or len(text) > MAX_NOTE:
        raise _field_error("note", f"请填写说明（1–{MAX_NOTE} 字），如“春节调休”“台风停工”。",
                           f"Give a note of 1–{MAX_NOTE} characters, e.g. 'Spring Festival make-up day'.")
    row = session.execute(select(CalendarDay).where(CalendarDay.day == day).with_for_update()).scalar_one_or_none()
    if working == (day.weekday() < 5):
        weekday = f"星期{WEEKDAYS_ZH[day.weekday()]}"
        zh_kind, en_kind = ("工作日", "a working day") if working else ("休息日", "a day off")
        zh_undo, en_undo = ("", "") if row is None else (
            f"如要撤销“{row.note}”，请删除该日的登记。", f" To undo '{row.note}', remove the day's entry.")
        raise _field_error("working", f"{day.isoformat()} 是{weekday}，本来就是{zh_kind}，无须登记。{zh_undo}",
                           f"{day.isoformat()} is a {day.strftime('%A')}, {en_kind} anyway: nothing to record."
                           + en_undo)
    if row is not None and (row.working, row.note, row.source) == (working, text, CalendarSource.OFFICE):
        return row, False  # as it is already: nothing to record
    now = ctx.clock.now()
    before = _describe(row)
    created = row is None
    if row is None:
        row = CalendarDay(day=day)
        session.add(row)
    row.working, row.note, row.source, row.updated_at, row.updated_by_id = (
        working, text, CalendarSource.OFFICE, now, actor.user_id)
    session.flush()
    _record(session, ctx, actor, "calendar_day_set", {"day": day.isoformat(), "before": before,
                                                      "after": _describe(row)})
    invalidate()
    return row, created


def remove_day(session: Session, ctx: EngineContext, actor: Actor, day: date) -> CalendarDay:
    """Remove an exception: the day follows its weekday again. 404 if the day has none."""
    row = session.execute(select(CalendarDay).where(CalendarDay.day == day).with_for_update()).scalar_one_or_none()
    if row is None:
        raise NotFound(f"{day.isoformat()} 没有登记的例外。", f"{day.isoformat()} has no calendar entry.",
                       {"date": day.isoformat()})
    before = _describe(row)
    session.delete(row)
    session.flush()
    _record(session, ctx, actor, "calendar_day_removed", {"day": day.isoformat(), "before": before, "after": None})
    invalidate()
    return row


@dataclass
class YearLoad:
    year: int
    added: list[date] = field(default_factory=list)
    changed: list[date] = field(default_factory=list)
    removed: list[date] = field(default_factory=list)
    kept: list[date] = field(default_factory=list)  # entered or changed by the office: left as they are


def load_year(session: Session, ctx: EngineContext, actor: Actor | None, year: int) -> YearLoad:
    """Take ``year``'s schedule from the package: its days are added or brought back to the package's
    values (a package day the office removed comes back: only exceptions are stored, so a removal
    leaves nothing to remember it by), package days it no longer lists go, and days the office
    entered or changed stay as the office left them. The year then counts as known."""
    if year not in package_years():
        raise NotFound(f"日历程序包尚无 {year} 年的安排，请逐日录入。",
                       f"The calendar package has no schedule for {year}; enter its days one by one.",
                       {"year": year, "package_years": package_years()})
    now = ctx.clock.now()
    rows = {r.day: r for r in session.execute(select(CalendarDay).where(*_in_year(year)).with_for_update()).scalars()}
    result = YearLoad(year)
    wanted = {p.day: p for p in package_days(year)}
    for day, row in rows.items():
        if row.source == CalendarSource.OFFICE:
            result.kept.append(day)
        elif day not in wanted:
            session.delete(row)
            result.removed.append(day)
    for day, p in wanted.items():
        existing = rows.get(day)
        if existing is None:
            session.add(CalendarDay(day=day, working=p.working, note=p.note, source=CalendarSource.PACKAGE,
                                    updated_at=now, updated_by_id=actor.user_id if actor else None))
            result.added.append(day)
        elif existing.source == CalendarSource.PACKAGE and (existing.working, existing.note) != (p.working, p.note):
            existing.working, existing.note, existing.updated_at = p.working, p.note, now
            result.changed.append(day)
    known = session.get(CalendarYear, year, with_for_update=True)
    before_year = None if known is None else {"source": known.source}
    if known is None:
        known = CalendarYear(year=year)
        session.add(known)
    known.source, known.loaded_at = CalendarSource.PACKAGE, now
    session.flush()
    _record(session, ctx, actor, "calendar_year_loaded", {
        "year": year, "before": before_year, "after": {"source": CalendarSource.PACKAGE},
        **{k: [d.isoformat() for d in getattr(result, k)] for k in ("added", "changed", "removed", "kept")}})
    invalidate()
    return result


def confirm_year(session: Session, ctx: EngineContext, actor: Actor, year: int) -> bool:
    """The office has entered ``year``'s schedule by hand: the year counts as known. False if it was."""
    if session.get(CalendarYear, year) is not None:
        return False
    session.add(CalendarYear(year=year, source=CalendarSource.OFFICE, loaded_at=ctx.clock.now()))
    session.flush()
    _record(session, ctx, actor, "calendar_year_confirmed", {"year": year, "before": None,
                                                             "after": {"source": CalendarSource.OFFICE}})
    invalidate()
    return True


# --- Reading the tables for the page and the API ---------------------------------------------------

@dataclass(frozen=True)
class YearView:
    year: int
    known: CalendarYear | None
    days: list[CalendarDay]
    missing_next: int | None  # next year, when its schedule is due (November on) and not entered yet
    in_package: bool

    def by_day(self) -> dict[date, CalendarDay]:
        return {d.day: d for d in self.days}


def missing_next_year(session: Session, today: date) -> int | None:
    """Next year, from November on, if its schedule is not in the table (the State Council publishes it
    in November or December); this year at any time if it is missing."""
    wanted = [today.year] + ([today.year + 1] if today.month >= 11 else [])
    known = set(session.execute(select(CalendarYear.year).where(CalendarYear.year.in_(wanted))).scalars())
    missing = [y for y in wanted if y not in known]
    return missing[0] if missing else None


def year_view(session: Session, year: int, today: date) -> YearView:
    days = list(session.execute(select(CalendarDay).where(*_in_year(year)).order_by(CalendarDay.day)).scalars())
    return YearView(year=year, known=session.get(CalendarYear, year), days=days,
                    missing_next=missing_next_year(session, today), in_package=year in package_years())

