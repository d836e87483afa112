"""The term plan (届), its rounds (轮) and the inspections of units within a round."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Boolean, Date, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import Base, UTCDateTime, utcnow
from .org import Organisation


class TermPlan(Base):
    __tablename__ = "term_plan"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    org_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"))  # the office that owns it
    start_year: Mapped[int] = mapped_column(Integer)
    end_year: Mapped[int] = mapped_column(Integer)

    units: Mapped[list[TermPlanUnit]] = relationship(back_populates="plan")


class TermPlanUnit(Base):
    """A unit the term must cover, with the year it is planned for."""

    __tablename__ = "term_plan_unit"
    __table_args__ = (UniqueConstraint("plan_id", "unit_id", name="uq_term_plan_unit"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("term_plan.id"))
    unit_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"))
    planned_year: Mapped[int | None] = mapped_column(Integer)

    plan: Mapped[TermPlan] = relationship(back_populates="units")
    unit: Mapped[Organisation] = relationship()


class RoundKind:
    REGULAR = "常规"
    THEMATIC = "专项"
    ADHOC = "机动式"
    REVISIT = "回头看"
    EXTENSION = "延伸"


class Round(Base):
    __tablename__ = "inspection_round"
    __table_args__ = (UniqueConstraint("plan_id", "year", "number", name="uq_round_number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("term_plan.id"))
    org_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"))  # city or county office scope
    year: Mapped[int] = mapped_column(Integer)
    number: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(16), default=RoundKind.REGULAR)
    method: Mapped[str | None] = mapped_column(String(32))
    starts_on: Mapped[date | None] = mapped_column(Date)
    ends_on: Mapped[date | None] = mapped_column(Date)
    stage: Mapped[str] = mapped_column(String(16), default="准备")

    plan: Mapped[TermPlan] = relationship()
    org: Mapped[Organisation] = relationship()
    inspections: Mapped[list[Inspection]] = relationship(back_populates="round")


class Inspection(Base):
    """One inspected unit within a round, visited by one inspection team."""

    __tablename__ = "inspection"
    __table_args__ = (UniqueConstraint("round_id", "unit_id", name="uq_inspection_round_unit"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    round_id: Mapped[int] = mapped_column(ForeignKey("inspection_round.id"))
    unit_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"))
    team_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"))  # the 巡察组
    feedback_on: Mapped[date | None] = mapped_column(Date)
    announced: Mapped[bool] = mapped_column(Boolean, default=False)
    contact_phone: Mapped[str | None] = mapped_column(String(64))
    contact_mailbox: Mapped[str | None] = mapped_column(String(200))
    contact_address: Mapped[str | None] = mapped_column(String(300))
    revisit_of_id: Mapped[int | None] = mapped_column(ForeignKey("inspection.id"))  # 回头看 of an earlier inspection

    round: Mapped[Round] = relationship(back_populates="inspections")
    unit: Mapped[Organisation] = relationship(foreign_keys=[unit_id])
    team: Mapped[Organisation] = relationship(foreign_keys=[team_id])
    reports: Mapped[list[InspectionReport]] = relationship(back_populates="inspection")


class ReportKind:
    """三位一体: the three outputs of every inspection."""

    CLUES = "问题线索报告"
    INTERVIEWS = "谈话情况报告"
    INSPECTION = "巡察报告"
    ALL = (CLUES, INTERVIEWS, INSPECTION)


class InspectionReport(Base):
    """One of an inspection's three reports, recorded by its group; clues come from the 问题线索报告,
    feedback problems from the 巡察报告. ``revision`` guards against two members overwriting each other."""

    __tablename__ = "inspection_report"
    __table_args__ = (UniqueConstraint("inspection_id", "kind", name="uq_inspection_report_kind"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    inspection_id: Mapped[int] = mapped_column(ForeignKey("inspection.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    title: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text, default="")
    signed_by: Mapped[str | None] = mapped_column(String(100))  # the group leader (组长) who signed it off
    signed_on: Mapped[date | None] = mapped_column(Date)
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    revision: Mapped[int] = mapped_column(Integer, default=1)

    inspection: Mapped[Inspection] = relationship(back_populates="reports")

    __mapper_args__ = {"version_id_col": revision}
