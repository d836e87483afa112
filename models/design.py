"""What supervisors edit before and around deployment: diagram drafts, stored forms, which version
new cases start on, and bulk migrations of running cases between versions."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import Base, UTCDateTime, utcnow
from .org import User
from .process import ProcessDefinition


class DefinitionDraft(Base):
    """A supervisor's unsaved work on one process: one draft per process key and author. Saving
    checks ``revision`` so that a second tab cannot silently overwrite the first."""

    __tablename__ = "definition_draft"
    __table_args__ = (UniqueConstraint("key", "author_id", name="uq_definition_draft_key_author"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(128), index=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    bpmn_xml: Mapped[str] = mapped_column(Text)
    based_on_id: Mapped[int | None] = mapped_column(ForeignKey("process_definition.id"))
    author_id: Mapped[int] = mapped_column(ForeignKey("app_user.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    revision: Mapped[int] = mapped_column(Integer, default=1)

    based_on: Mapped[ProcessDefinition | None] = relationship()
    author: Mapped[User] = relationship()

    __mapper_args__ = {"version_id_col": revision}


class ProcessRelease(Base):
    """The version new cases of ``key`` start on (标记为当前版本). No row: the newest version."""

    __tablename__ = "process_release"

    key: Mapped[str] = mapped_column(String(128), primary_key=True)
    definition_id: Mapped[int] = mapped_column(ForeignKey("process_definition.id"))
    released_by_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    released_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    definition: Mapped[ProcessDefinition] = relationship()


class FormVersion(Base):
    """A task form written in the browser's form editor. Immutable once stored: saving an edit makes
    the next version, and a diagram names one version (``name@version``), so a case's form never
    changes under it."""

    __tablename__ = "form_version"
    __table_args__ = (UniqueConstraint("name", "version", name="uq_form_version_name_version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), index=True)
    version: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(String(200), default="")
    schema: Mapped[dict[str, Any]] = mapped_column(JSON)
    ui_schema: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    comment: Mapped[str | None] = mapped_column(String(500))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    @property
    def key(self) -> str:
        return f"{self.name}@{self.version}"


class MigrationRun(Base):
    """A dry run or a bulk move of running cases from one version to another, with its report:
    ``report`` lists, per instance, whether it could move and why not, and what happened."""

    __tablename__ = "migration_run"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(128), index=True)
    from_definition_id: Mapped[int] = mapped_column(ForeignKey("process_definition.id"))
    to_definition_id: Mapped[int] = mapped_column(ForeignKey("process_definition.id"))
    dry_run: Mapped[bool] = mapped_column(Boolean, default=True)
    status: Mapped[str] = mapped_column(String(16), default="running")  # running, finished, failed
    started_by_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    total: Mapped[int] = mapped_column(Integer, default=0)
    movable: Mapped[int] = mapped_column(Integer, default=0)
    moved: Mapped[int] = mapped_column(Integer, default=0)
    failed: Mapped[int] = mapped_column(Integer, default=0)
    report: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)

    from_definition: Mapped[ProcessDefinition] = relationship(foreign_keys=[from_definition_id])
    to_definition: Mapped[ProcessDefinition] = relationship(foreign_keys=[to_definition_id])
    started_by: Mapped[User | None] = relationship()
