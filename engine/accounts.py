"""Passwords (argon2) and API tokens (random, stored as sha256, revocable)."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from models import ApiToken, User

from . import audit
from .actors import Actor, actor_for
from .errors import AuthenticationFailed, InvalidInput

_HASHER = PasswordHasher()
LOCALES = ("zh_CN", "en")  # the languages messages come in (every XunchaError has both)
TOKEN_LIFETIME = timedelta(hours=12)
# Verifying against this keeps the time of a login with an unknown name like that of a wrong password.
_DUMMY_HASH = _HASHER.hash("not-a-real-password")


def hash_password(password: str) -> str:
    return _HASHER.hash(password)


def _bad_credentials() -> AuthenticationFailed:
    return AuthenticationFailed("用户名或密码错误。", "Wrong user name or password.")


def authenticate(session: Session, username: str, password: str) -> User:
    user = session.execute(select(User).where(User.username == username)).scalar_one_or_none()
    try:
        _HASHER.verify(user.password_hash if user else _DUMMY_HASH, password)
    except (VerificationError, InvalidHashError):
        raise _bad_credentials() from None
    if user is None or not user.active:
        raise _bad_credentials()
    return user


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def issue_token(session: Session, user: User, now: datetime) -> tuple[str, ApiToken]:
    token = secrets.token_urlsafe(32)
    row = ApiToken(user_id=user.id, token_sha256=_digest(token), created_at=now, expires_at=now + TOKEN_LIFETIME)
    session.add(row)
    return token, row


def actor_for_token(session: Session, token: str, now: datetime) -> Actor:
    row = session.execute(select(ApiToken).where(ApiToken.token_sha256 == _digest(token))).scalar_one_or_none()
    if row is None or row.revoked_at is not None or row.expires_at <= now or not row.user.active:
        raise AuthenticationFailed("登录已失效，请重新获取令牌。", "The token is invalid, expired or revoked.")
    return actor_for(row.user)


def revoke_token(session: Session, token: str, now: datetime) -> bool:
    row = session.execute(select(ApiToken).where(ApiToken.token_sha256 == _digest(token))).scalar_one_or_none()
    if row is None or row.revoked_at is not None:
        return False
    row.revoked_at = now
    return True


def set_locale(session: Session, actor: Actor, locale: str, now: datetime) -> bool:
    """The language the actor reads the system in; audited on the system stream when it changes."""
    if locale not in LOCALES:
        raise InvalidInput(f"不支持的语言：{locale}", f"Unsupported language: {locale}",
                           {"locale": locale, "allowed": list(LOCALES)})
    user = session.get(User, actor.user_id)
    if user is None:
        raise AuthenticationFailed("请先登录。", "Please log in.")
    if user.locale == locale:
        return False
    before, user.locale = user.locale, locale
    audit.record(session, audit.SYSTEM_STREAM, [audit.EventDraft("locale_changed", {
        "username": user.username, "before": before, "after": locale})],
        at=now, actor_id=user.id, actor_name=user.username)
    return True
