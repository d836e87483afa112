"""The business calendar (工作日历): the days whose working status differs from an ordinary week —
statutory holidays falling on weekdays and 调休 make-up working days on weekends — and which years
have a known schedule. Seeded from the ``chinese-calendar`` package; the office edits it."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Boolean, Date, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, UTCDateTime, utcnow


class CalendarSource:
    PACKAGE = "chinese_calendar"  # seeded from the package
    OFFICE = "office"  # entered or changed by the office


class CalendarDay(Base):
    """A day that is not what its weekday says: a holiday on a weekday, a working weekend day."""

    __tablename__ = "calendar_day"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    working: Mapped[bool] = mapped_column(Boolean)
    note: Mapped[str] = mapped_column(String(100), default="")  # e.g. 春节, 国庆节调休
    source: Mapped[str] = mapped_column(String(16), default=CalendarSource.OFFICE)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))


class CalendarYear(Base):
    """A year whose holiday schedule is in the table (the State Council publishes it each winter)."""

    __tablename__ = "calendar_year"

    year: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    source: Mapped[str] = mapped_column(String(16), default=CalendarSource.OFFICE)
    loaded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
