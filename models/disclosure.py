"""What leaves the system: publications on the public page, generated reports, ledger reconciliations."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Date, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import Base, UTCDateTime, utcnow
from .org import Organisation


class PublicationKind:
    ANNOUNCEMENT = "announcement"  # 巡察公告: a round is entering units, with contact channels
    RECTIFICATION = "rectification"  # 整改公开: a unit's published rectification result


class Publication(Base):
    """Text the office has explicitly published for the public page. Only these rows are public;
    withdrawing keeps the row (nothing is deleted) and hides it."""

    __tablename__ = "publication"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(16), index=True)
    scope_org_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"))  # the publishing office (city/county)
    round_id: Mapped[int | None] = mapped_column(ForeignKey("inspection_round.id"))
    inspection_id: Mapped[int | None] = mapped_column(ForeignKey("inspection.id"))
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("organisation.id"))
    instance_id: Mapped[int | None] = mapped_column(ForeignKey("process_instance.id"))
    title: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text, default="")
    period_start: Mapped[date | None] = mapped_column(Date)
    period_end: Mapped[date | None] = mapped_column(Date)
    contact_phone: Mapped[str | None] = mapped_column(String(64))
    contact_mailbox: Mapped[str | None] = mapped_column(String(200))
    contact_address: Mapped[str | None] = mapped_column(String(300))
    published_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    published_by_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    withdrawn_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    withdrawn_by_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    withdraw_reason: Mapped[str | None] = mapped_column(String(500))

    unit: Mapped[Organisation | None] = relationship(foreign_keys=[unit_id])


class ReportDocument(Base):
    """A generated report (督查通报, report to the leading group): the PDF is kept in the file store by
    checksum so that what was issued can be shown again exactly."""

    __tablename__ = "report_document"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(32), index=True)
    title: Mapped[str] = mapped_column(String(300))
    scope_org_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"))
    period_start: Mapped[date | None] = mapped_column(Date)
    period_end: Mapped[date | None] = mapped_column(Date)
    params: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    sha256: Mapped[str] = mapped_column(String(64))
    storage_key: Mapped[str] = mapped_column(String(255))
    size: Mapped[int] = mapped_column(BigInteger)
    generated_by_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    generated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class LedgerReconciliation(Base):
    """定期对账: the office, the group and the unit agree the unit's 整改台账 as of ``reconciled_at``.
    ``snapshot`` keeps each item's reconciled fields, so the next view can show what changed since."""

    __tablename__ = "ledger_reconciliation"

    id: Mapped[int] = mapped_column(primary_key=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"), index=True)
    inspection_id: Mapped[int | None] = mapped_column(ForeignKey("inspection.id"))
    reconciled_by_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    reconciled_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    note: Mapped[str | None] = mapped_column(String(500))
    snapshot: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
