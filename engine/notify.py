"""In-app notifications (the bell) and the e-mail hook.

A notification is a row written in the same transaction as the change it reports, so a rolled-back
step notifies nobody. E-mail is an outbox: the scheduler hands unsent rows to a ``Mailer`` after they
are committed and marks them sent (at least once: a crash between sending and marking re-sends).
The default mailer only logs; a deployment plugs in SMTP or the government messaging gateway.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, and_, exists, func, insert, literal, select, update
from sqlalchemy.orm import Session, sessionmaker

from models import Group, HumanTask, Membership, Notification, NotificationKind, Organisation, Recusal, TaskStatus, User

from .actors import Actor
from .calendar import LOCAL_TZ
from .clock import Clock
from .deadlines import yellow_from
from .errors import NotFound
from .mail import Mail, Mailer
from .paging import Page

KIND_LABELS = {
    NotificationKind.OFFERED: ("新的组待办", "New task for your group"),
    NotificationKind.ASSIGNED: ("分派给您的任务", "Task assigned to you"),
    NotificationKind.RETURNED: ("退回给您的任务", "Task returned to you"),
    NotificationKind.DUE_SOON: ("即将到期", "Due soon"),
    NotificationKind.ESCALATED: ("督办提醒", "Escalation"),
    NotificationKind.EXTENSION: ("延期与中止", "Extension or suspension"),
}
MAX_MESSAGE = 500
_NOTIFICATIONS = cast(Table, Notification.__table__)


def _text(message: str) -> str:
    return message if len(message) <= MAX_MESSAGE else message[: MAX_MESSAGE - 1] + "…"


def task_label(task: HumanTask | Any) -> str:
    return f"{task.reference} {task.name}" if task.reference else str(task.name)


def notify_user(session: Session, user_id: int, kind: str, task: HumanTask | Any, message: str, now: datetime) -> None:
    session.connection().execute(insert(_NOTIFICATIONS).values(
        user_id=user_id, kind=kind, instance_id=task.instance_id, task_id=task.id, message=_text(message),
        created_at=now))


def candidates(group_key: str, org_path: str) -> Any:
    """Users holding ``group_key`` over the organisation at ``org_path`` (the SQL twin of
    ``Actor.role_covers``), active ones only."""
    return (select(Membership.user_id).join(Group, Group.id == Membership.group_id)
            .join(Organisation, Organisation.id == Membership.org_id)
            .join(User, User.id == Membership.user_id)
            .where(Group.key == group_key, User.active.is_(True),
                   literal(org_path).startswith(Organisation.path)))


def candidate_ids(session: Session, task: HumanTask) -> list[int]:
    """The active people a task is offered to — the one user it names, or its group over the bound
    organisation — less those recused from its case. What offers, the assign/delegate pickers and
    escalations to the task's ``holder`` all start from."""
    if task.candidate_user_id is not None:
        query = select(User.id).where(User.id == task.candidate_user_id, User.active.is_(True))
    elif task.candidate_group and task.candidate_org_path:
        query = candidates(task.candidate_group, task.candidate_org_path)
    else:
        return []
    query = query.where(~exists().where(Recusal.instance_id == task.instance_id, Recusal.user_id == User.id))
    return sorted(set(session.execute(query).scalars()))


def offer(session: Session, task: HumanTask, now: datetime, *, kind: str = NotificationKind.OFFERED,
          message: str | None = None) -> None:
    """Tell everyone a task is offered to (``candidate_ids``), in one statement."""
    rows = [{"user_id": user_id, "kind": kind, "instance_id": task.instance_id, "task_id": task.id,
             "message": _text(message or task_label(task)), "created_at": now}
            for user_id in candidate_ids(session, task)]
    if rows:
        session.connection().execute(insert(_NOTIFICATIONS), rows)


def offer_new_tasks(session: Session, now: datetime, limit: int = 500) -> int:
    """Tell the candidates of tasks created since the last sweep (the scheduler's tick). Fanning a
    task out to a whole group inside the step that creates it would put one more write on every
    completion; here it costs the step nothing and reaches people within a tick. Tasks already
    taken or finished meanwhile are marked without telling anyone. Returns how many were offered."""
    tasks = list(session.execute(
        select(HumanTask).where(HumanTask.offered_at.is_(None)).order_by(HumanTask.id).limit(limit)
        .with_for_update(skip_locked=True)).scalars())
    offered = 0
    for task in tasks:
        if task.status == TaskStatus.READY and task.assignee_id is None:
            offer(session, task, now)
            offered += 1
        task.offered_at = now
    session.flush()
    return offered


def warn_due_soon(session: Session, now: datetime, limit: int = 500) -> int:
    """Tell the holder (or, while nobody holds it, the candidates) of each open task entering its
    yellow period; each task is warned once (``warned_at``). Returns how many tasks were warned."""
    horizon = yellow_from(now)
    tasks = list(session.execute(
        select(HumanTask).where(HumanTask.status == TaskStatus.READY, HumanTask.warned_at.is_(None),
                                HumanTask.due_at.is_not(None), HumanTask.due_at <= horizon)
        .order_by(HumanTask.due_at).limit(limit).with_for_update(skip_locked=True)).scalars())
    for task in tasks:
        due = task.due_at.astimezone(LOCAL_TZ) if task.due_at is not None else None
        message = f"{task_label(task)}：{due:%Y-%m-%d} 到期"
        if task.assignee_id is not None:
            notify_user(session, task.assignee_id, NotificationKind.DUE_SOON, task, message, now)
        else:
            offer(session, task, now, kind=NotificationKind.DUE_SOON, message=message)
        task.warned_at = now
    session.flush()
    return len(tasks)


# ---- reading and marking (the bell) -------------------------------------------------------------

def unread_count(session: Session, actor: Actor) -> int:
    return int(session.execute(select(func.count()).select_from(Notification).where(
        Notification.user_id == actor.user_id, Notification.read_at.is_(None))).scalar_one())


def list_for(session: Session, actor: Actor, *, unread_only: bool = False, page: int = 1, per_page: int = 20
             ) -> Page[Notification]:
    condition = Notification.user_id == actor.user_id
    if unread_only:
        condition = and_(condition, Notification.read_at.is_(None))
    total = int(session.execute(select(func.count()).select_from(Notification).where(condition)).scalar_one())
    items = list(session.execute(select(Notification).where(condition).order_by(Notification.id.desc())
                                 .limit(per_page).offset((page - 1) * per_page)).scalars())
    return Page(items, total, page, per_page)


def mark_read(session: Session, actor: Actor, notification_id: int, now: datetime) -> Notification:
    """Mark one of the actor's notifications read; another person's is "not found"."""
    row = session.get(Notification, notification_id)
    if row is None or row.user_id != actor.user_id:
        raise NotFound("通知不存在。", "The notification does not exist.")
    if row.read_at is None:
        row.read_at = now
    return row


def mark_all_read(session: Session, actor: Actor, now: datetime) -> int:
    result = session.execute(update(Notification).where(
        Notification.user_id == actor.user_id, Notification.read_at.is_(None)).values(read_at=now))
    return int(getattr(result, "rowcount", 0) or 0)


# ---- e-mail hook --------------------------------------------------------------------------------

def dispatch_mail(factory: sessionmaker[Session], mailer: Mailer, clock: Clock, limit: int = 200) -> int:
    """Hand committed, unsent notifications to the mailer and mark them sent, one batch per call.
    Rows are claimed with SKIP LOCKED, so several schedulers never send the same row twice."""
    with factory() as session, session.begin():
        rows = list(session.execute(
            select(Notification, User).join(User, User.id == Notification.user_id)
            .where(Notification.mailed_at.is_(None)).order_by(Notification.id).limit(limit)
            .with_for_update(of=Notification, skip_locked=True)).all())
        now = clock.now()
        for notification, user in rows:
            zh, _ = KIND_LABELS.get(notification.kind, (notification.kind, notification.kind))
            mailer.send(Mail(user.username, user.email, f"【巡察整改督办】{zh}", notification.message))
            notification.mailed_at = now
    return len(rows)


def withdraw_offers(session: Session, task_id: int, now: datetime) -> None:
    """Once someone holds a task, its offers are no longer news to the rest of the group."""
    session.connection().execute(update(_NOTIFICATIONS).where(
        _NOTIFICATIONS.c.task_id == task_id, _NOTIFICATIONS.c.kind == NotificationKind.OFFERED,
        _NOTIFICATIONS.c.read_at.is_(None)).values(read_at=now))
