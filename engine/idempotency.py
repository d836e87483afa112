"""Retried requests: one ``Idempotency-Key`` per user acts once; a retry gets the first answer again.

The record of a key is written in the same transaction as the change its request makes: a request that
failed (or whose process died) leaves no record and can simply be retried. While a request acts, its
record is already inserted (``status_code`` 0, unsettled) but not committed, so a second request with the
same key waits on the primary key (PostgreSQL) or on the write lock (SQLite) until the first one commits
or rolls back — then it finds the settled record and replays it, or (after a rollback) acts itself.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from models import IdempotencyRecord

from .errors import InvalidInput

MAX_KEY_LENGTH = 128
UNSETTLED = 0


class KeyReused(InvalidInput):
    """The key was already used for a different request (another method, path or body)."""

    code = "idempotency_key_reused"
    status = 422


def check_key(key: str) -> str:
    """A key is 1–128 printable ASCII characters (what a UUID or any sane client token is)."""
    if not key or len(key) > MAX_KEY_LENGTH or not all(" " <= ch <= "~" for ch in key) or not key.strip():
        raise InvalidInput("Idempotency-Key 无效：须为 1 至 128 个可打印 ASCII 字符。",
                           "Invalid Idempotency-Key: it must be 1 to 128 printable ASCII characters.",
                           {"header": "Idempotency-Key", "max_length": MAX_KEY_LENGTH})
    return key


def request_hash(method: str, path: str, body: bytes) -> str:
    """What makes two requests "the same": method, path with its query string, and the exact body."""
    digest = hashlib.sha256()
    for part in (method.upper().encode(), path.encode(), body):
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)
    return digest.hexdigest()


@dataclass(frozen=True)
class Replay:
    status_code: int
    body: str


def _answer(record: IdempotencyRecord, fingerprint: str) -> Replay:
    if record.request_hash != fingerprint:
        raise KeyReused("此 Idempotency-Key 已用于另一个不同的请求；请为新请求使用新的键。",
                        "This Idempotency-Key was already used for a different request; use a new key for a "
                        "new request.", {"header": "Idempotency-Key", "first_method": record.method,
                                         "first_path": record.path})
    return Replay(record.status_code, record.response_body)


def begin(session: Session, user_id: int, key: str, method: str, path: str, fingerprint: str
          ) -> Replay | IdempotencyRecord:
    """At the start of the request's transaction: the stored answer to replay, or the (unsettled, not yet
    committed) record this request now holds — settle it with :func:`settle` before committing.

    Raises :class:`KeyReused` (422) when the key already belongs to a different request.
    """
    check_key(key)
    found = session.get(IdempotencyRecord, (user_id, key), populate_existing=True)
    if found is not None:
        return _answer(found, fingerprint)
    record = IdempotencyRecord(user_id=user_id, key=key, method=method.upper()[:8], path=path[:300],
                               request_hash=fingerprint, status_code=UNSETTLED, response_body="")
    session.add(record)
    try:
        session.flush()  # PostgreSQL: waits here while another request holding this key is still acting
    except IntegrityError:
        # That request committed first. Nothing else was done in this transaction yet: start afresh
        # and read what it stored (read committed sees it now).
        session.rollback()
        found = session.get(IdempotencyRecord, (user_id, key), populate_existing=True)
        if found is None:  # the other request's row is committed: it cannot be missing now
            raise
        return _answer(found, fingerprint)
    return record


def settle(session: Session, record: IdempotencyRecord, status_code: int, body: str) -> None:
    """The answer the request got, stored with its change (the caller commits both together)."""
    record.status_code, record.response_body = status_code, body
    session.flush()
