"""Working days on the Chinese calendar: statutory holidays and 调休 make-up working days, kept in the
database (seeded by migration 0008), edited by the office, and read by every process from a snapshot
that follows those edits within seconds."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select, update

from engine import audit, calendar
from engine.actors import load_actor
from engine.calendar import add_working_days, deadline_after, is_working_day, working_days_between
from engine.db import make_session_factory, transaction
from engine.errors import FormInvalid, InvalidInput, NotFound
from engine.runtime import SCRIPT_ENGINE
from models import AuditEvent, CalendarDay, CalendarSource, CalendarYear

BEIJING = ZoneInfo("Asia/Shanghai")


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


def test_spring_festival_2026_day_by_day():
    working = {date(2026, 2, 1) + timedelta(days=n) for n in range(28 + 7)
               if is_working_day(date(2026, 2, 1) + timedelta(days=n))}
    february = [d.day for d in sorted(working) if d.month == 2]
    # 14 (Saturday) and 28 (Saturday) are make-up days; 16–20 and 23 are holidays on weekdays.
    assert february == [2, 3, 4, 5, 6, 9, 10, 11, 12, 13, 14, 24, 25, 26, 27, 28]
    assert not is_working_day(date(2026, 2, 15)) and not is_working_day(date(2026, 2, 21))
    # Thursday 12 February + 5 working days: 13, 14 (make-up), 24, 25, 26.
    assert add_working_days(date(2026, 2, 12), 5) == date(2026, 2, 26)
    assert working_days_between(date(2026, 2, 12), date(2026, 3, 2)) == 8
    assert working_days_between(date(2026, 3, 2), date(2026, 2, 12)) == -8


def test_mid_autumn_and_national_day_2026_with_their_make_up_days():
    assert is_working_day(date(2026, 9, 20))  # Sunday, make-up day for National Day
    assert not is_working_day(date(2026, 9, 25))  # Friday, Mid-Autumn Festival
    assert add_working_days(date(2026, 9, 24), 1) == date(2026, 9, 28)
    # Friday 18 September + 2: the make-up Sunday 20th counts, then Monday 21st.
    assert add_working_days(date(2026, 9, 18), 2) == date(2026, 9, 21)
    # Wednesday 30 September + 4: 8, 9, 10 (make-up Saturday), 12 October.
    assert add_working_days(date(2026, 9, 30), 4) == date(2026, 10, 12)
    assert working_days_between(date(2026, 9, 30), date(2026, 10, 11)) == 3


def test_years_the_calendar_does_not_know_fall_back_to_weekdays():
    assert is_working_day(date(2031, 1, 6)) and not is_working_day(date(2031, 1, 4))


def test_deadlines_end_at_the_end_of_the_beijing_working_day():
    # Holiday 1–7 October; 8, 9 and the make-up Saturday 10 October are the three working days.
    start = datetime(2026, 9, 30, 10, 0, tzinfo=BEIJING)
    due = deadline_after(start, 3)
    local = due.astimezone(BEIJING)
    assert local.date() == date(2026, 10, 10) and (local.hour, local.minute) == (23, 59)


def test_bpmn_expressions_have_the_calendar_functions():
    env = SCRIPT_ENGINE.environment
    assert env.evaluate("is_working_day(d)", {"d": date(2026, 2, 28)}) is True
    assert env.evaluate("add_working_days(d, 1)", {"d": date(2026, 2, 14)}) == date(2026, 2, 24)
    assert env.evaluate("working_days_between(a, b)", {"a": date(2026, 2, 13), "b": date(2026, 2, 24)}) == 2
    due = env.evaluate("deadline_after(m, 1)", {"m": datetime(2026, 10, 9, 9, 0, tzinfo=BEIJING)})
    assert due.astimezone(BEIJING).date() == date(2026, 10, 10)


def test_a_process_that_never_loaded_the_calendar_fails_loudly():
    calendar._cache.snapshot = None  # as in a fresh process; the autouse fixture restores it for the next test
    with pytest.raises(calendar.CalendarNotLoaded):
        deadline_after(datetime(2026, 11, 25, 9, 0, tzinfo=BEIJING), 3)
    with pytest.raises(calendar.CalendarNotLoaded):
        is_working_day(date(2026, 11, 25))


def test_a_fresh_database_holds_the_package_schedule_as_exceptions_only(factory):
    with factory() as session:
        rows = session.execute(select(CalendarDay)).scalars().all()
        years = set(session.execute(select(CalendarYear.year)).scalars())
    assert years == set(calendar.package_years()) and 2026 in years
    assert rows and all(r.working == (r.day.weekday() >= 5) for r in rows)  # never what the weekday says
    assert all(r.source == CalendarSource.PACKAGE for r in rows)
    expected = {(p.day, p.working, p.note) for y in calendar.package_years() for p in calendar.package_days(y)}
    assert {(r.day, r.working, r.note) for r in rows} == expected
    notes = {r.day: r.note for r in rows}
    assert notes[date(2026, 2, 16)] == "春节" and notes[date(2026, 2, 14)] == "春节调休"
    assert notes[date(2026, 10, 10)] == "国庆节调休"


def test_a_local_day_off_moves_deadlines_computed_after_it_and_is_audited(factory, ctx, demo):
    reader = make_session_factory(factory.kw["bind"], read_only=True)
    calendar.refresh(reader, max_age=0)
    start = datetime(2026, 11, 25, 9, 0, tzinfo=BEIJING)  # Wednesday
    before = deadline_after(start, 3)
    assert before.astimezone(BEIJING).date() == date(2026, 11, 30)
    with transaction(factory) as session:
        office = load_actor(session, "office1")
        row, created = calendar.set_day(session, ctx, office, date(2026, 11, 27), False, " 台风停工 ")
        assert created and row.note == "台风停工" and row.source == CalendarSource.OFFICE
    assert calendar.refresh(reader)  # an edit in this process makes the next refresh read at once
    assert deadline_after(start, 3).astimezone(BEIJING).date() == date(2026, 12, 1)
    assert before.astimezone(BEIJING).date() == date(2026, 11, 30)  # a deadline already set stays as it was
    with factory() as session:
        (event,) = session.execute(select(AuditEvent).where(AuditEvent.event_type == "calendar_day_set")).scalars()
        assert event.stream == audit.SYSTEM_STREAM and event.actor_name == "office1"
        assert json.loads(event.payload) == {"day": "2026-11-27", "before": None,
                                             "after": {"working": False, "note": "台风停工", "source": "office"}}
        assert audit.verify(session).ok


def test_changing_and_removing_a_package_day_records_before_and_after(factory, ctx, demo):
    with transaction(factory) as session:
        office = load_actor(session, "office1")
        _row, created = calendar.set_day(session, ctx, office, date(2026, 2, 28), True, "春节调休（本市）")
        assert not created
        calendar.remove_day(session, ctx, office, date(2026, 2, 14))
    calendar.refresh(make_session_factory(factory.kw["bind"], read_only=True))
    assert not is_working_day(date(2026, 2, 14)) and is_working_day(date(2026, 2, 28))
    with factory() as session:
        events = session.execute(select(AuditEvent).where(AuditEvent.stream == audit.SYSTEM_STREAM,
                                                          AuditEvent.event_type.like("calendar_%"))
                                 .order_by(AuditEvent.seq)).scalars().all()
    payloads = [(e.event_type, json.loads(e.payload)) for e in events]
    assert payloads == [
        ("calendar_day_set", {"day": "2026-02-28",
                              "before": {"working": True, "note": "春节调休", "source": "chinese_calendar"},
                              "after": {"working": True, "note": "春节调休（本市）", "source": "office"}}),
        ("calendar_day_removed", {"day": "2026-02-14",
                                  "before": {"working": True, "note": "春节调休", "source": "chinese_calendar"},
                                  "after": None})]


def test_the_office_cannot_record_what_the_weekday_already_says_nor_a_day_without_a_note(factory, ctx, demo):
    with transaction(factory) as session:
        office = load_actor(session, "office1")
        with pytest.raises(FormInvalid) as weekday:
            calendar.set_day(session, ctx, office, date(2026, 11, 25), True, "加班")
        assert "working" in weekday.value.details["fields"] and "星期三" in weekday.value.message_zh
        with pytest.raises(FormInvalid) as undo:
            calendar.set_day(session, ctx, office, date(2026, 2, 14), False, "取消调休")  # a Saturday
        assert "删除" in undo.value.message_zh
        with pytest.raises(FormInvalid) as no_note:
            calendar.set_day(session, ctx, office, date(2026, 12, 1), False, "  ")
        assert "note" in no_note.value.details["fields"]
        with pytest.raises(FormInvalid):
            calendar.set_day(session, ctx, office, date(2026, 12, 1), "false", "停电")
        with pytest.raises(NotFound):
            calendar.remove_day(session, ctx, office, date(2026, 12, 1))
        for bad in ("2026-02-30", "20261201", "", None):
            with pytest.raises(InvalidInput):
                calendar.parse_day(bad)
        assert session.execute(select(AuditEvent).where(AuditEvent.event_type.like("calendar_%"))).first() is None


def test_loading_a_year_from_the_package_restores_its_days_and_keeps_the_offices(factory, ctx, demo):
    with transaction(factory) as session:
        office = load_actor(session, "office1")
        calendar.remove_day(session, ctx, office, date(2026, 10, 1))
        calendar.set_day(session, ctx, office, date(2026, 10, 10), True, "国庆节调休（本市）")
        calendar.set_day(session, ctx, office, date(2026, 12, 1), False, "台风停工")
        session.execute(update(CalendarDay).where(CalendarDay.day == date(2026, 5, 1)).values(note="旧说明"))
        session.add(CalendarDay(day=date(2026, 3, 3), working=False, note="程序包旧版", source=CalendarSource.PACKAGE,
                                updated_at=ctx.clock.now()))
    with transaction(factory) as session:
        result = calendar.load_year(session, ctx, load_actor(session, "office1"), 2026)
    assert result.added == [date(2026, 10, 1)] and result.changed == [date(2026, 5, 1)]
    assert result.removed == [date(2026, 3, 3)]
    assert result.kept == [date(2026, 10, 10), date(2026, 12, 1)]
    with factory() as session:
        snapshot = calendar.read(session)
        event = session.execute(select(AuditEvent).where(AuditEvent.event_type == "calendar_year_loaded")
                                ).scalar_one()
    assert not snapshot.is_working_day(date(2026, 10, 1)) and snapshot.is_working_day(date(2026, 3, 3))
    assert not snapshot.is_working_day(date(2026, 12, 1))
    with factory() as session:
        assert session.get(CalendarDay, date(2026, 10, 10)).note == "国庆节调休（本市）"
    assert json.loads(event.payload)["kept"] == ["2026-10-10", "2026-12-01"]
    with transaction(factory) as session, pytest.raises(NotFound):
        calendar.load_year(session, ctx, None, 2031)


def test_next_years_schedule_is_reported_missing_until_entered(factory, ctx, demo):
    with factory() as session:
        assert calendar.missing_next_year(session, date(2026, 10, 31)) is None  # not due before November
        assert calendar.missing_next_year(session, date(2026, 11, 25)) == 2027
    with transaction(factory) as session:
        office = load_actor(session, "office1")
        calendar.set_day(session, ctx, office, date(2027, 2, 8), False, "春节")  # entering 2027 by hand
        assert calendar.missing_next_year(session, date(2026, 11, 25)) == 2027
        assert calendar.confirm_year(session, ctx, office, 2027)
        assert not calendar.confirm_year(session, ctx, office, 2027)
    with factory() as session:
        assert calendar.missing_next_year(session, date(2026, 11, 25)) is None
        assert calendar.read(session).years >= {2026, 2027}
    calendar.refresh(make_session_factory(factory.kw["bind"], read_only=True))
    assert not is_working_day(date(2027, 2, 8))  # a Monday, off


def test_a_refresh_within_the_interval_does_not_read_and_an_unannounced_change_waits_for_it(factory):
    reader = make_session_factory(factory.kw["bind"], read_only=True)
    assert calendar.refresh(reader, max_age=0)
    with transaction(factory) as session:  # as another process would: this process is not told
        session.add(CalendarDay(day=date(2026, 12, 2), working=False, note="停电", source=CalendarSource.OFFICE,
                                updated_at=datetime(2026, 11, 25, tzinfo=BEIJING)))
    assert not calendar.refresh(reader, max_age=60)
    assert is_working_day(date(2026, 12, 2))
    assert calendar.refresh(reader, max_age=0)
    assert not is_working_day(date(2026, 12, 2))


OTHER_PROCESS = textwrap.dedent("""
    import sys, time
    from datetime import datetime
    from zoneinfo import ZoneInfo
    from engine import calendar
    from engine.db import make_engine, make_session_factory

    reader = make_session_factory(make_engine(sys.argv[1]), read_only=True)
    start = datetime(2026, 11, 25, 9, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
    calendar.refresh(reader)  # the process starts: first load
    print(calendar.deadline_after(start, 3).date().isoformat(), flush=True)
    sys.stdin.readline()  # the office edits meanwhile
    began = time.monotonic()
    while time.monotonic() - began < 20:
        calendar.refresh(reader, max_age=float(sys.argv[2]))  # as each request or scheduler tick does
        due = calendar.deadline_after(start, 3).date().isoformat()
        if due != "2026-11-30":
            break
        time.sleep(0.05)
    print(due, round(time.monotonic() - began, 2), flush=True)
""")


def test_another_process_sees_an_office_edit_within_its_refresh_interval(db_url, factory, ctx, demo):
    interval = 1.0
    other = subprocess.Popen([sys.executable, "-c", OTHER_PROCESS, db_url, str(interval)], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert other.stdout is not None and other.stdin is not None
        first = other.stdout.readline().strip()
        assert first == "2026-11-30", other.stderr.read() if other.stderr else ""
        with transaction(factory) as session:
            calendar.set_day(session, ctx, load_actor(session, "office1"), date(2026, 11, 27), False, "台风停工")
        other.stdin.write("go\n")
        other.stdin.flush()
        due, waited = other.stdout.readline().split()
        assert due == "2026-12-01"
        assert float(waited) <= interval + 1.0
    finally:
        other.kill()
        other.wait(timeout=10)

