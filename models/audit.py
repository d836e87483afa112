"""The append-only audit trail: hash-chained events per stream (a case, or the system)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, UTCDateTime


class AuditEvent(Base):
    """One event. ``hash = sha256(prev_hash + canonical JSON of the event)``; rows are never updated."""

    __tablename__ = "audit_event"
    __table_args__ = (UniqueConstraint("stream", "seq", name="uq_audit_event_stream_seq"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    stream: Mapped[str] = mapped_column(String(64))
    seq: Mapped[int] = mapped_column(Integer)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    event_type: Mapped[str] = mapped_column(String(64))
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    actor_name: Mapped[str | None] = mapped_column(String(64))
    instance_id: Mapped[int | None] = mapped_column(ForeignKey("process_instance.id"), index=True)
    payload: Mapped[str] = mapped_column(Text)  # canonical JSON, exactly what was hashed
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class AuditStreamHead(Base):
    """The last link of each stream that is not a case's (a case keeps its own on its instance row).
    Locking this row serialises writers of one stream, and comparing it with the events detects a
    deleted tail."""

    __tablename__ = "audit_stream_head"

    stream: Mapped[str] = mapped_column(String(64), primary_key=True)
    seq: Mapped[int] = mapped_column(Integer)
    hash: Mapped[str] = mapped_column(String(64))
