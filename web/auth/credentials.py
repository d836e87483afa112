"""Checking a password and recording the attempt — shared by the login page and the API token.

The argon2 check is slow on purpose (tens of milliseconds), so it runs on a read-only session:
on SQLite it would otherwise hold the write lock, and every writer would queue behind each login.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from engine import audit
from engine.accounts import authenticate
from engine.errors import AuthenticationFailed
from models import User

from ..db import ctx, sessions, writing


def verify_login(username: str, password: str, via: str) -> User:
    """The active user with these credentials; a failed attempt is audited and raised."""
    with sessions(read_only=True)() as session:
        try:
            return authenticate(session, username, password)
        except AuthenticationFailed:
            with writing() as audit_session:
                audit.record(audit_session, audit.SYSTEM_STREAM,
                             [audit.EventDraft("login_failed", {"username": username, "via": via})],
                             at=ctx().clock.now(), actor_id=None, actor_name=username[:64])
            raise


def record_login(session: Session, user: User, via: str) -> None:
    audit.record(session, audit.SYSTEM_STREAM, [audit.EventDraft("login", {"username": user.username, "via": via})],
                 at=ctx().clock.now(), actor_id=user.id, actor_name=user.username)
