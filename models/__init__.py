"""SQLAlchemy 2.0 models of Xuncha, and nothing else (no Flask, no engine)."""

from .audit import AuditEvent, AuditStreamHead
from .base import Base, UTCDateTime, utcnow
from .calendar import CalendarDay, CalendarSource, CalendarYear
from .cases import Clue, ClueStatus, Finding, ItemStatus, RectificationItem
from .content import Attachment, Comment
from .design import DefinitionDraft, FormVersion, MigrationRun, ProcessRelease
from .disclosure import LedgerReconciliation, Publication, PublicationKind, ReportDocument
from .idempotency import IdempotencyRecord
from .org import ApiToken, Group, Membership, Organisation, OrgKind, User
from .planning import Inspection, InspectionReport, ReportKind, Round, RoundKind, TermPlan, TermPlanUnit
from .process import (
    DelegationState,
    ExtensionRequest,
    ExtensionStatus,
    HumanTask,
    InstanceStatus,
    Notification,
    NotificationKind,
    ProcessDefinition,
    ProcessInstance,
    Recusal,
    SavedFilter,
    TaskDraft,
    TaskStatus,
    Timer,
    TimerStatus,
)

__all__ = [
    "ApiToken",
    "Attachment",
    "AuditEvent",
    "AuditStreamHead",
    "Base",
    "CalendarDay",
    "CalendarSource",
    "CalendarYear",
    "Clue",
    "ClueStatus",
    "Comment",
    "DefinitionDraft",
    "DelegationState",
    "ExtensionRequest",
    "ExtensionStatus",
    "Finding",
    "FormVersion",
    "Group",
    "HumanTask",
    "IdempotencyRecord",
    "Inspection",
    "InspectionReport",
    "InstanceStatus",
    "ItemStatus",
    "LedgerReconciliation",
    "Membership",
    "MigrationRun",
    "Notification",
    "NotificationKind",
    "OrgKind",
    "Organisation",
    "ProcessDefinition",
    "ProcessInstance",
    "ProcessRelease",
    "Publication",
    "PublicationKind",
    "RectificationItem",
    "Recusal",
    "ReportDocument",
    "ReportKind",
    "Round",
    "RoundKind",
    "SavedFilter",
    "TaskDraft",
    "TaskStatus",
    "TermPlan",
    "TermPlanUnit",
    "Timer",
    "TimerStatus",
    "UTCDateTime",
    "User",
    "utcnow",
]
