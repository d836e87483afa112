"""Working days on the Chinese calendar: statutory holidays and 调休 make-up working days."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

from engine.calendar import add_working_days, deadline_after, is_working_day, working_days_between


def test_national_day_week_is_not_working_and_its_make_up_saturday_is():
    assert not is_working_day(date(2026, 10, 1))
    assert not is_working_day(date(2026, 10, 7))
    assert is_working_day(date(2026, 10, 10))  # Saturday, 调休 make-up day
    assert not is_working_day(date(2026, 10, 11))


def test_adding_working_days_skips_the_spring_festival():
    # 2026 Spring Festival holiday: 15–23 February; 14 and 28 February are make-up Saturdays.
    assert is_working_day(date(2026, 2, 14))
    assert add_working_days(date(2026, 2, 13), 1) == date(2026, 2, 14)
    assert add_working_days(date(2026, 2, 14), 1) == date(2026, 2, 24)
    assert working_days_between(date(2026, 2, 13), date(2026, 2, 24)) == 2


def test_years_the_calendar_does_not_know_fall_back_to_weekdays():
    assert is_working_day(date(2031, 1, 6)) and not is_working_day(date(2031, 1, 4))


def test_deadlines_end_at_the_end_of_the_beijing_working_day():
    # Holiday 1–7 October; 8, 9 and the make-up Saturday 10 October are the three working days.
    start = datetime(2026, 9, 30, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
    due = deadline_after(start, 3)
    local = due.astimezone(ZoneInfo("Asia/Shanghai"))
    assert local.date() == date(2026, 10, 10) and (local.hour, local.minute) == (23, 59)
