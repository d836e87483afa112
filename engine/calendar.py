"""Working days on the Chinese calendar (statutory holidays and 调休 make-up working days).

Seeded from the ``chinese-calendar`` package; for years it does not know yet, plain weekdays count
as working days until the office enters that year's schedule (issue 5 moves the table into the
database so it can be edited).
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

import chinese_calendar

LOCAL_TZ = ZoneInfo("Asia/Shanghai")
END_OF_DAY = time(23, 59, 59)


@lru_cache(maxsize=8192)
def is_working_day(day: date) -> bool:
    try:
        return bool(chinese_calendar.is_workday(day))
    except NotImplementedError:
        return day.weekday() < 5


def add_working_days(start: date, days: int) -> date:
    """The date ``days`` working days after ``start`` (``start`` itself is not counted)."""
    if days < 0:
        raise ValueError("days must not be negative")
    current = start
    remaining = days
    while remaining:
        current += timedelta(days=1)
        if is_working_day(current):
            remaining -= 1
    return current


def working_days_between(start: date, end: date) -> int:
    """Working days after ``start`` up to and including ``end`` (negative if ``end`` is earlier)."""
    if end < start:
        return -working_days_between(end, start)
    return sum(1 for n in range(1, (end - start).days + 1) if is_working_day(start + timedelta(days=n)))


def deadline_after(moment: datetime, working_days: int) -> datetime:
    """A deadline at the end of the working day ``working_days`` after ``moment`` (Beijing time)."""
    local = moment.astimezone(LOCAL_TZ)
    due = add_working_days(local.date(), working_days)
    return datetime.combine(due, END_OF_DAY, tzinfo=LOCAL_TZ).astimezone(moment.tzinfo)
