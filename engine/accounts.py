"""Passwords (argon2) and API tokens (random, stored as sha256, revocable)."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from models import ApiToken, User

from . import audit
from .actors import Actor, actor_from_rows, actor_query
from .errors import AuthenticationFailed, InvalidInput, NotPermitted

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


# Built once: every API request runs it.
_CALLER = (actor_query(ApiToken.revoked_at, ApiToken.expires_at).join(ApiToken, ApiToken.user_id == User.id)
           .where(ApiToken.token_sha256 == bindparam("digest")))


def actor_for_token(session: Session, token: str, now: datetime) -> Actor:
    """The caller of an API request, in one statement (the token, its active user and their roles)."""
    rows = session.execute(_CALLER, {"digest": _digest(token)}).all()
    if not rows or rows[0].revoked_at is not None or rows[0].expires_at <= now:
        raise AuthenticationFailed("登录已失效，请重新获取令牌。", "The token is invalid, expired or revoked.")
    return actor_from_rows(rows, skip=2)


def revoke_token(session: Session, token: str, now: datetime) -> bool:
    row = session.execute(select(ApiToken).where(ApiToken.token_sha256 == _digest(token))).scalar_one_or_none()
    if row is None or row.revoked_at is not None:
        return False
    row.revoked_at = now
    return True


PASSWORD_MIN_LENGTH = 10
PASSWORD_MAX_LENGTH = 256  # argon2 hashes anything, but a megabyte "password" is an attack on the CPU


def credential_stamp(user: User) -> str:
    """A short fingerprint of the user's password hash, kept in a page session: when the password
    changes, every session holding the old stamp stops being valid (sessions are signed cookies, so
    there is no server-side row to delete)."""
    return stamp_of(user.password_hash)


def stamp_of(password_hash: str) -> str:
    return hashlib.sha256(password_hash.encode("utf-8")).hexdigest()[:16]


def _password_problem(new: str, user: User) -> tuple[str, str] | None:
    if len(new) < PASSWORD_MIN_LENGTH:
        return (f"新密码至少需要 {PASSWORD_MIN_LENGTH} 个字符。",
                f"The new password needs at least {PASSWORD_MIN_LENGTH} characters.")
    if len(new) > PASSWORD_MAX_LENGTH:
        return (f"新密码不得超过 {PASSWORD_MAX_LENGTH} 个字符。",
                f"The new password may have at most {PASSWORD_MAX_LENGTH} characters.")
    if new.strip().lower() == user.username.lower():
        return "新密码不能与用户名相同。", "The new password may not be the user name."
    return None


def change_password(session: Session, actor: Actor, current: str, new: str, now: datetime) -> int:
    """The actor changes their own password. Every API token of theirs is revoked (and every other page
    session ends, their stamp being stale); audited as ``password_changed``. Returns how many tokens
    were revoked. A wrong current password is ``NotPermitted`` (403, nothing changed)."""
    user = session.get(User, actor.user_id)
    if user is None or not user.active:
        raise AuthenticationFailed("请先登录。", "Please log in.")
    if len(current) > PASSWORD_MAX_LENGTH:
        current = ""
    try:
        _HASHER.verify(user.password_hash, current)
    except (VerificationError, InvalidHashError):
        raise NotPermitted("当前密码不正确，密码未修改。", "The current password is wrong; nothing was changed.",
                           {"field": "current_password"}) from None
    problem = _password_problem(new, user)
    if problem is None and new == current:
        problem = "新密码不能与当前密码相同。", "The new password must differ from the current one."
    if problem is not None:
        raise InvalidInput(problem[0], problem[1], {"field": "new_password"})
    user.password_hash = _HASHER.hash(new)
    tokens = session.scalars(select(ApiToken).where(ApiToken.user_id == user.id,
                                                     ApiToken.revoked_at.is_(None))).all()
    for token in tokens:
        token.revoked_at = now
    revoked = len(tokens)
    audit.record(session, audit.SYSTEM_STREAM, [audit.EventDraft("password_changed", {
        "username": user.username, "tokens_revoked": revoked})],
        at=now, actor_id=user.id, actor_name=user.username)
    return revoked


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
