"""The findings an inspection produces: clues (问题线索), feedback problems and rectification items."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import Base, UTCDateTime, utcnow
from .org import Organisation
from .planning import Inspection


class ClueStatus:
    HANDING_OVER = "handing_over"  # 移交中
    RETURNED = "returned"  # 被退回
    ACKNOWLEDGED = "acknowledged"  # 已签收
    IN_PROGRESS = "in_progress"  # 处置中
    RESULT_REPORTED = "result_reported"  # 结果已反馈
    CLOSED = "closed"  # 办结/销号
    WITHDRAWN = "withdrawn"  # 已撤销


class Clue(Base):
    """A 问题线索: highly confidential, never visible to the inspected unit."""

    __tablename__ = "clue"

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(64), unique=True)
    inspection_id: Mapped[int] = mapped_column(ForeignKey("inspection.id"), index=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"))  # the inspected unit concerned
    receiving_org_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"), index=True)
    persons_concerned: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    summary: Mapped[str] = mapped_column(Text)
    category: Mapped[str | None] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(32), default=ClueStatus.HANDING_OVER, index=True)
    disposition_method: Mapped[str | None] = mapped_column(String(32))
    four_forms: Mapped[str | None] = mapped_column(String(32))
    # 问题线索台账 columns beyond the workflow's own: 干部管理权限, 签收日期, 进展反馈日期, 处置结果, 备注
    cadre_authority: Mapped[str | None] = mapped_column(String(32))
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_progress_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    result_summary: Mapped[str | None] = mapped_column(Text)
    remarks: Mapped[str | None] = mapped_column(String(500))
    report_id: Mapped[int | None] = mapped_column(ForeignKey("inspection_report.id"))  # the 问题线索报告
    handed_over_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    original_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # before 延期 or suspension
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    instance_id: Mapped[int | None] = mapped_column(ForeignKey("process_instance.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    inspection: Mapped[Inspection] = relationship()
    unit: Mapped[Organisation] = relationship(foreign_keys=[unit_id])
    receiving_org: Mapped[Organisation] = relationship(foreign_keys=[receiving_org_id])


class Finding(Base):
    """A 反馈问题: a problem in the unit's work, fed back for rectification."""

    __tablename__ = "finding"

    id: Mapped[int] = mapped_column(primary_key=True)
    inspection_id: Mapped[int] = mapped_column(ForeignKey("inspection.id"), index=True)
    number: Mapped[str] = mapped_column(String(64))
    source: Mapped[str] = mapped_column(String(16), default="反馈问题")  # 反馈问题 / 立行立改 / 移交事项
    category: Mapped[str] = mapped_column(String(32), default="其他")
    description: Mapped[str] = mapped_column(Text)
    report_id: Mapped[int | None] = mapped_column(ForeignKey("inspection_report.id"))  # the 巡察报告
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    inspection: Mapped[Inspection] = relationship()
    items: Mapped[list[RectificationItem]] = relationship(back_populates="finding")


class ItemStatus:
    PENDING = "pending"  # 待制定方案
    IN_PROGRESS = "in_progress"  # 整改中
    SUBMITTED = "submitted"  # 待核查
    REJECTED = "rejected"  # 核查驳回
    VERIFIED = "verified"  # 核查通过, 待销号
    STRUCK_OFF = "struck_off"  # 已销号


class RectificationItem(Base):
    """One line of the unit's 整改台账."""

    __tablename__ = "rectification_item"

    id: Mapped[int] = mapped_column(primary_key=True)
    finding_id: Mapped[int] = mapped_column(ForeignKey("finding.id"), index=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"), index=True)
    number: Mapped[str] = mapped_column(String(64))
    problem: Mapped[str] = mapped_column(Text)
    target: Mapped[str | None] = mapped_column(Text)  # 整改目标
    measures: Mapped[str | None] = mapped_column(Text)
    cooperating_departments: Mapped[str | None] = mapped_column(String(200))  # 配合部门
    progress: Mapped[str | None] = mapped_column(Text)  # 整改进展
    rules_established: Mapped[str | None] = mapped_column(Text)  # 建章立制
    review_opinion: Mapped[str | None] = mapped_column(Text)  # 审核意见
    origin_item_id: Mapped[int | None] = mapped_column(ForeignKey("rectification_item.id"))  # 回头看: reopened from
    responsible_leader: Mapped[str | None] = mapped_column(String(100))
    responsible_department: Mapped[str | None] = mapped_column(String(200))
    responsible_person: Mapped[str | None] = mapped_column(String(100))
    rectification_type: Mapped[str | None] = mapped_column(String(16))
    completion: Mapped[str | None] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(32), default=ItemStatus.PENDING, index=True)
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    original_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # before 延期 or suspension
    struck_off_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    struck_off_by_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    instance_id: Mapped[int | None] = mapped_column(ForeignKey("process_instance.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    finding: Mapped[Finding] = relationship(back_populates="items")
    unit: Mapped[Organisation] = relationship()


Index("ix_rectification_item_unit_status", RectificationItem.unit_id, RectificationItem.status)
