"""Process definitions, running instances and the projections queues read (human tasks, timers)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import Base, UTCDateTime, utcnow
from .org import User


class ProcessDefinition(Base):
    """One deployed version of a BPMN process; the XML is kept verbatim, identified by its sha256."""

    __tablename__ = "process_definition"
    __table_args__ = (UniqueConstraint("key", "version", name="uq_process_definition_key_version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(128), index=True)
    name: Mapped[str] = mapped_column(String(200))
    version: Mapped[int] = mapped_column(Integer)
    bpmn_xml: Mapped[str] = mapped_column(Text, deferred=True)  # read only to parse or show the diagram
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    comment: Mapped[str | None] = mapped_column(String(500))
    deployed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    deployed_by_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))

    deployed_by: Mapped[User | None] = relationship()


class InstanceStatus:
    RUNNING = "running"
    COMPLETED = "completed"
    CANCELLED = "cancelled"
    SUSPENDED = "suspended"
    ERROR = "error"


class ProcessInstance(Base):
    """A running case. ``state`` is SpiffWorkflow's serialization *without* the spec, which is
    restored from the pinned definition (cached by hash). ``version`` guards against lost updates."""

    __tablename__ = "process_instance"

    id: Mapped[int] = mapped_column(primary_key=True)
    definition_id: Mapped[int] = mapped_column(ForeignKey("process_definition.id"), index=True)
    process_key: Mapped[str] = mapped_column(String(128), index=True)
    status: Mapped[str] = mapped_column(String(16), default=InstanceStatus.RUNNING, index=True)
    state: Mapped[str] = mapped_column(Text)
    version: Mapped[int] = mapped_column(Integer, default=1)
    title: Mapped[str] = mapped_column(String(300), default="")
    reference: Mapped[str | None] = mapped_column(String(64), index=True)  # case number shown to people
    case_kind: Mapped[str | None] = mapped_column(String(32))  # "clue", "rectification" or None
    confidential: Mapped[bool] = mapped_column(default=False)
    scope_org_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"))  # the owning office's scope
    bindings: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # group key → org path ("_scope": owner)
    recused_user_ids: Mapped[list[int]] = mapped_column(JSON, default=list)
    unit_path: Mapped[str | None] = mapped_column(String(512))  # the inspected unit (filters by unit/county)
    round_id: Mapped[int | None] = mapped_column(ForeignKey("inspection_round.id"))
    started_by_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
    suspended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # 中止/挂起: clocks stopped since
    suspend_reason: Mapped[str | None] = mapped_column(String(500))
    audit_seq: Mapped[int] = mapped_column(Integer, default=0)  # the case stream's last link (engine.audit)
    audit_hash: Mapped[str] = mapped_column(String(64), default="0" * 64)

    definition: Mapped[ProcessDefinition] = relationship()

    __mapper_args__ = {"version_id_col": version}


class Recusal(Base):
    """回避: this user may neither see nor take anything of this case. Mirrors
    ``ProcessInstance.recused_user_ids`` (the row check) so that queue queries can exclude in SQL."""

    __tablename__ = "recusal"

    instance_id: Mapped[int] = mapped_column(ForeignKey("process_instance.id"), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id"), primary_key=True, index=True)


class TaskStatus:
    READY = "ready"
    COMPLETED = "completed"
    CANCELLED = "cancelled"


class DelegationState:
    """Camunda's model: a delegated task is PENDING with the delegate until they resolve it; it then
    comes back to its owner (RESOLVED), who reviews and completes it."""

    PENDING = "pending"
    RESOLVED = "resolved"


class HumanTask(Base):
    """Projection of a user task: one row from when it becomes ready until it is completed or
    cancelled (rows are kept as history). What queues, counts and dashboards query."""

    __tablename__ = "human_task"

    id: Mapped[int] = mapped_column(primary_key=True)
    instance_id: Mapped[int] = mapped_column(ForeignKey("process_instance.id"))
    task_guid: Mapped[str] = mapped_column(String(36), unique=True)
    bpmn_id: Mapped[str] = mapped_column(String(128))
    name: Mapped[str] = mapped_column(String(300))
    process_key: Mapped[str] = mapped_column(String(128))
    title: Mapped[str] = mapped_column(String(300), default="")
    reference: Mapped[str | None] = mapped_column(String(64))
    lane: Mapped[str | None] = mapped_column(String(128))
    candidate_group: Mapped[str | None] = mapped_column(String(64))
    candidate_org_id: Mapped[int | None] = mapped_column(ForeignKey("organisation.id"))
    candidate_org_path: Mapped[str | None] = mapped_column(String(512))
    candidate_user_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    scope_path: Mapped[str] = mapped_column(String(512), default="")  # the owning office's scope
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    status: Mapped[str] = mapped_column(String(16), default=TaskStatus.READY)
    form_key: Mapped[str | None] = mapped_column(String(200))
    priority: Mapped[int] = mapped_column(Integer, default=50)
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    completed_by_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    revision: Mapped[int] = mapped_column(Integer, default=1)  # bumps on claim/assign: stale forms lose
    unit_path: Mapped[str | None] = mapped_column(String(512))  # copied from the instance for queue filters
    round_id: Mapped[int | None] = mapped_column(Integer)
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))  # the delegator, while delegated
    delegation: Mapped[str | None] = mapped_column(String(16))  # DelegationState
    warned_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # the due-soon notice went out
    offered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # its candidates were told (engine.notify)
    original_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # before any 延期 or suspension moved it

    instance: Mapped[ProcessInstance] = relationship()
    assignee: Mapped[User | None] = relationship(foreign_keys=[assignee_id])
    owner: Mapped[User | None] = relationship(foreign_keys=[owner_id])


Index("ix_human_task_instance_status", HumanTask.instance_id, HumanTask.status)
Index("ix_human_task_assignee_status", HumanTask.assignee_id, HumanTask.status, HumanTask.due_at)
Index("ix_human_task_completed_by", HumanTask.completed_by_id, HumanTask.completed_at)
Index("ix_human_task_scope", HumanTask.status, HumanTask.scope_path)

# The queues' indexes (migration 0005; figures in docs/performance.md). Partial: only open tasks (a
# tenth of the table, and what every queue but 已办 reads); the queries compare status with a literal
# so that both databases can prove the predicate. On PostgreSQL the path columns use pattern ops (a
# LIKE 'prefix%' range in any collation) and the indexes carry scope_path and instance_id, so counts
# under an oversight scope, minus 回避, are index-only. Trigram (pg_trgm) indexes for the search on
# case number and title exist on PostgreSQL only and are created by the migration.
READY_ONLY = text("status = 'ready'")
NOT_OFFERED = text("offered_at IS NULL")
OFFERED_ONLY = text("status = 'ready' AND assignee_id IS NULL")
SCOPE_AND_CASE = ["scope_path", "instance_id"]
Index("ix_human_task_ready_due", HumanTask.due_at, HumanTask.id, sqlite_where=READY_ONLY,
      postgresql_where=READY_ONLY, postgresql_include=SCOPE_AND_CASE)
Index("ix_human_task_ready_priority", HumanTask.priority.desc(), HumanTask.due_at, HumanTask.id,
      sqlite_where=READY_ONLY, postgresql_where=READY_ONLY, postgresql_include=SCOPE_AND_CASE)
Index("ix_human_task_ready_created", HumanTask.created_at, HumanTask.id, sqlite_where=READY_ONLY,
      postgresql_where=READY_ONLY, postgresql_include=SCOPE_AND_CASE)
Index("ix_human_task_ready_scope", HumanTask.scope_path, sqlite_where=READY_ONLY, postgresql_where=READY_ONLY,
      postgresql_ops={"scope_path": "varchar_pattern_ops"}, postgresql_include=["instance_id"])
Index("ix_human_task_ready_unit", HumanTask.unit_path, HumanTask.due_at, sqlite_where=READY_ONLY,
      postgresql_where=READY_ONLY, postgresql_ops={"unit_path": "varchar_pattern_ops"},
      postgresql_include=SCOPE_AND_CASE)
Index("ix_human_task_ready_round", HumanTask.round_id, HumanTask.due_at, sqlite_where=READY_ONLY,
      postgresql_where=READY_ONLY, postgresql_include=SCOPE_AND_CASE)
Index("ix_human_task_offered_group", HumanTask.candidate_group, HumanTask.candidate_org_path,
      sqlite_where=OFFERED_ONLY, postgresql_where=OFFERED_ONLY,
      postgresql_ops={"candidate_org_path": "varchar_pattern_ops"}, postgresql_include=["instance_id", "due_at"])
Index("ix_human_task_offered_user", HumanTask.candidate_user_id, sqlite_where=OFFERED_ONLY,
      postgresql_where=OFFERED_ONLY)
# New tasks whose candidates the scheduler has yet to tell (engine.notify.offer_new_tasks): tiny.
Index("ix_human_task_not_offered", HumanTask.id, sqlite_where=NOT_OFFERED, postgresql_where=NOT_OFFERED)


class ExtensionStatus:
    PENDING = "pending"
    APPROVED = "approved"
    REFUSED = "refused"
    WITHDRAWN = "withdrawn"


class ExtensionRequest(Base):
    """延期: a handler asks for more time on a task (or a rectification item / clue stage); the
    approver decides. On approval the deadline and the pending timers move; the original deadline
    stays on the row it belongs to (``original_due_at``)."""

    __tablename__ = "extension_request"

    id: Mapped[int] = mapped_column(primary_key=True)
    instance_id: Mapped[int] = mapped_column(ForeignKey("process_instance.id"), index=True)
    task_id: Mapped[int | None] = mapped_column(ForeignKey("human_task.id"))
    item_id: Mapped[int | None] = mapped_column(ForeignKey("rectification_item.id"))
    requested_by_id: Mapped[int] = mapped_column(ForeignKey("app_user.id"))
    reason: Mapped[str] = mapped_column(Text)
    current_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # the deadline when asked
    requested_due_at: Mapped[datetime] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(16), default=ExtensionStatus.PENDING, index=True)
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    decision_note: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class TimerStatus:
    WAITING = "waiting"
    FIRED = "fired"
    CANCELLED = "cancelled"
    FAILED = "failed"  # its step raised; the error is on the instance (last_error)


class Timer(Base):
    """Projection of a waiting BPMN timer event; the scheduler's durable source of truth."""

    __tablename__ = "timer"
    __table_args__ = (UniqueConstraint("task_guid", "due_at", name="uq_timer_task_due"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    instance_id: Mapped[int] = mapped_column(ForeignKey("process_instance.id"), index=True)
    task_guid: Mapped[str] = mapped_column(String(36))
    bpmn_id: Mapped[str] = mapped_column(String(128))
    due_at: Mapped[datetime] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(16), default=TimerStatus.WAITING)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    fired_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


Index("ix_timer_status_due", Timer.status, Timer.due_at)


class TaskDraft(Base):
    """Form data a person saved without completing; one per task and person."""

    __tablename__ = "task_draft"

    task_id: Mapped[int] = mapped_column(ForeignKey("human_task.id"), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id"), primary_key=True)
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    saved_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class SavedFilter(Base):
    """A named queue filter (queue + query parameters) a person keeps for themselves."""

    __tablename__ = "saved_filter"
    __table_args__ = (UniqueConstraint("user_id", "name", name="uq_saved_filter_user_name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    queue: Mapped[str] = mapped_column(String(16))
    params: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class NotificationKind:
    OFFERED = "offered"  # a task was offered to one of my groups
    ASSIGNED = "assigned"  # a task was assigned or delegated to me
    RETURNED = "returned"  # a task came back to me (退回, or a delegate resolved it)
    DUE_SOON = "due_soon"  # a task of mine is about to be late
    ESCALATED = "escalated"  # 提醒 / 督办 / 通报 raised by an escalation timer
    EXTENSION = "extension"  # a 延期 request to decide, or the decision on mine


class Notification(Base):
    """An in-app notice for one person (the bell); e-mail goes through engine.notify's hook."""

    __tablename__ = "notification"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id"))
    kind: Mapped[str] = mapped_column(String(16))
    instance_id: Mapped[int | None] = mapped_column(ForeignKey("process_instance.id"))
    task_id: Mapped[int | None] = mapped_column(ForeignKey("human_task.id"))
    message: Mapped[str] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    mailed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # the e-mail hook's outbox mark


Index("ix_notification_user_unread", Notification.user_id, Notification.read_at, Notification.id)
Index("ix_notification_task", Notification.task_id)
