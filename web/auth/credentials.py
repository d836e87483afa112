"""Checking a password and recording the attempt — shared by the login page and the API token.

The argon2 check is slow on purpose (tens of milliseconds), so it runs on a read-only session:
on SQLite it would otherwise hold the write lock, and every writer would queue behind each login.
Before it, ``engine.login_guard`` refuses a locked name or a throttled address without checking.
"""

from __future__ import annotations

from datetime import timedelta

from flask import current_app, request
from sqlalchemy.orm import Session

from engine import audit, login_guard
from engine.accounts import authenticate
from engine.errors import AuthenticationFailed
from models import User

from ..db import ctx, sessions, writing


def login_policy() -> login_guard.LoginPolicy:
    config = current_app.config
    return login_guard.LoginPolicy(
        account_failures=int(config["LOGIN_ACCOUNT_FAILURES"]), ip_failures=int(config["LOGIN_IP_FAILURES"]),
        window=timedelta(seconds=int(config["LOGIN_WINDOW_SECONDS"])),
        lock=timedelta(seconds=int(config["LOGIN_LOCK_SECONDS"])))


def verify_login(username: str, password: str, via: str) -> User:
    """The active user with these credentials; a failed or refused attempt is audited and raised
    (``AuthenticationFailed``, or ``TooManyAttempts`` while the name is locked or the address throttled)."""
    attempt = login_guard.Attempt(username, request.remote_addr or "unknown", via)
    policy, now = login_policy(), ctx().clock.now()
    with sessions(read_only=True)() as session:
        refusal = login_guard.check(session, attempt, now, policy)
        if refusal is None:
            try:
                return authenticate(session, username, password)
            except AuthenticationFailed:
                with writing() as audit_session:
                    login_guard.record_failure(audit_session, attempt, now, policy)
                raise
    with writing() as audit_session:
        login_guard.record_refusal(audit_session, attempt, now)
    raise refusal


def record_login(session: Session, user: User, via: str) -> None:
    audit.record(session, audit.SYSTEM_STREAM, [audit.EventDraft("login", {
        "username": user.username, "via": via, "ip": request.remote_addr or "unknown"})],
        at=ctx().clock.now(), actor_id=user.id, actor_name=user.username)
