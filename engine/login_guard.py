"""Login throttling: too many wrong passwords for one account name, or from one address, and logging in
stops for a while.

The attempts are counted from the audit trail's own events on the system stream (``login`` and
``login_failed``, written for every attempt anyway): they are in the database, so the count holds
across gunicorn workers and restarts, and they are tamper-evident; there is no counter table to keep
in step with them. A lock applies to the *name typed*, whether or not such an account exists, and the
refusal reads the same either way, so it tells nothing about which accounts exist.

Rules (``LoginPolicy``): ``account_failures`` wrong passwords for one name within ``window`` lock that
name for ``lock`` (a successful login starts the count again); ``ip_failures`` wrong passwords from one
address within ``window`` refuse further attempts from it until the oldest of them leaves the window.
While refused, the password is not even checked; the refusal is audited as ``login_refused`` (which
does not count as a failure, so a lock ends on time however often someone knocks).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from models import AuditEvent

from . import audit
from .errors import TooManyAttempts

NAME_LENGTH = 64  # audit_event.actor_name, where the name typed is recorded


@dataclass(frozen=True)
class LoginPolicy:
    account_failures: int = 5
    ip_failures: int = 20
    window: timedelta = timedelta(minutes=15)
    lock: timedelta = timedelta(minutes=15)


@dataclass(frozen=True)
class Attempt:
    """Who tried to log in: the name typed, from which address, through what (``web`` or ``api``)."""

    username: str
    ip: str
    via: str

    @property
    def name(self) -> str:
        return self.username[:NAME_LENGTH]

    def payload(self, **extra: Any) -> dict[str, Any]:
        return {"username": self.name, "ip": self.ip, "via": self.via, **extra}


def _ip_pattern(ip: str) -> str:
    # Payloads are canonical JSON (sorted keys, no spaces); an address holds no LIKE wildcards but escape anyway.
    escaped = ip.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_").replace('"', "")
    return f'%"ip":"{escaped}"%'


def account_locked_until(session: Session, username: str, now: datetime, policy: LoginPolicy) -> datetime | None:
    """When the lock on this name ends, if it is locked now."""
    lookback = now - policy.window - policy.lock
    rows = session.execute(
        select(AuditEvent.event_type, AuditEvent.at)
        .where(AuditEvent.stream == audit.SYSTEM_STREAM, AuditEvent.actor_name == username[:NAME_LENGTH],
               AuditEvent.event_type.in_(("login", "login_failed")), AuditEvent.at > lookback)
        .order_by(AuditEvent.at, AuditEvent.id)).all()
    failures: list[datetime] = []
    until: datetime | None = None
    for event_type, at in rows:
        if until is not None and at < until:
            continue  # racing attempts that slipped in as the lock began do not start another
        if event_type == "login":
            failures = []
            continue
        failures = [f for f in failures if f > at - policy.window] + [at]
        if len(failures) >= policy.account_failures:
            until, failures = at + policy.lock, []
    return until if until is not None and until > now else None


def address_throttled_until(session: Session, ip: str, now: datetime, policy: LoginPolicy) -> datetime | None:
    """When this address may try again, if it has failed too often within the window."""
    times = session.execute(
        select(AuditEvent.at)
        .where(AuditEvent.stream == audit.SYSTEM_STREAM, AuditEvent.event_type == "login_failed",
               AuditEvent.at > now - policy.window, AuditEvent.payload.like(_ip_pattern(ip), escape="\\"))
        .order_by(AuditEvent.at)).scalars().all()
    if len(times) < policy.ip_failures:
        return None
    return times[len(times) - policy.ip_failures] + policy.window


def _refusal(until: datetime, now: datetime) -> TooManyAttempts:
    seconds = max(1, int((until - now).total_seconds() + 0.999))
    minutes = max(1, (seconds + 59) // 60)
    return TooManyAttempts(f"登录失败次数过多，请 {minutes} 分钟后再试。",
                           f"Too many failed logins; try again in {minutes} minute(s).",
                           {"retry_after_seconds": seconds})


def check(session: Session, attempt: Attempt, now: datetime, policy: LoginPolicy) -> TooManyAttempts | None:
    """The refusal to raise if this attempt may not even be checked (name locked or address throttled)."""
    until = max((u for u in (account_locked_until(session, attempt.username, now, policy),
                             address_throttled_until(session, attempt.ip, now, policy)) if u is not None),
                default=None)
    return _refusal(until, now) if until is not None else None


def record_refusal(session: Session, attempt: Attempt, now: datetime) -> None:
    audit.record(session, audit.SYSTEM_STREAM, [audit.EventDraft("login_refused", attempt.payload())],
                 at=now, actor_id=None, actor_name=attempt.name)


def record_failure(session: Session, attempt: Attempt, now: datetime, policy: LoginPolicy) -> bool:
    """Audit a wrong password; if it locks the name, audit ``account_locked`` too. True if it did."""
    audit.record(session, audit.SYSTEM_STREAM, [audit.EventDraft("login_failed", attempt.payload())],
                 at=now, actor_id=None, actor_name=attempt.name)
    until = account_locked_until(session, attempt.username, now, policy)
    if until is None or until != now + policy.lock:
        return False
    audit.record(session, audit.SYSTEM_STREAM, [audit.EventDraft("account_locked", attempt.payload(
        until=until.isoformat(), failures=policy.account_failures))],
        at=now, actor_id=None, actor_name=attempt.name)
    return True
