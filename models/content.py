"""Things people attach to a case: comments and evidence files (佐证材料)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import Base, UTCDateTime, utcnow
from .org import User


class Attachment(Base):
    """A file stored outside the database (``storage_key`` under the upload folder), by checksum.

    Nothing is deleted: a file uploaded by mistake is withdrawn (``removed_at``), which hides it from
    downloads while the row, the stored file and the audit trail keep it.
    """

    __tablename__ = "attachment"

    id: Mapped[int] = mapped_column(primary_key=True)
    instance_id: Mapped[int] = mapped_column(ForeignKey("process_instance.id"), index=True)
    task_guid: Mapped[str | None] = mapped_column(String(36))
    filename: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(128))
    size: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    storage_key: Mapped[str] = mapped_column(String(255))
    uploaded_by_id: Mapped[int] = mapped_column(ForeignKey("app_user.id"))
    uploaded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    removed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    removed_by_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    removal_reason: Mapped[str | None] = mapped_column(String(500))

    uploaded_by: Mapped[User] = relationship(foreign_keys=[uploaded_by_id])
    removed_by: Mapped[User | None] = relationship(foreign_keys=[removed_by_id])


class Comment(Base):
    __tablename__ = "comment"

    id: Mapped[int] = mapped_column(primary_key=True)
    instance_id: Mapped[int] = mapped_column(ForeignKey("process_instance.id"), index=True)
    task_guid: Mapped[str | None] = mapped_column(String(36))
    author_id: Mapped[int] = mapped_column(ForeignKey("app_user.id"))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    author: Mapped[User] = relationship()
