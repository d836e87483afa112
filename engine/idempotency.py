"""Retried requests: one ``Idempotency-Key`` per user acts once; a retry gets the first answer again.

The record of a key is written in the same transaction as the change its request makes: a request that
failed (or whose process died) leaves no record and can simply be retried. While a request acts, its
record is already inserted (``status_code`` 0, unsettled) but not committed, so a second request with the
same key waits on the primary key (PostgreSQL) or on the write lock (SQLite) until the first one commits
or rolls back — then it finds the settled record and replays it, or (after a rollback) acts itself.

Records are kept for a retention window (``XUNCHA_IDEMPOTENCY_RETENTION_HOURS``, 24 hours as Stripe keeps
keys): a retry after that acts again. The scheduler prunes older ones (:func:`prune`).
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select, tuple_
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from models import IdempotencyRecord

from .db import transaction
from .errors import InvalidInput

log = logging.getLogger(__name__)

MAX_KEY_LENGTH = 128
UNSETTLED = 0
RETENTION = timedelta(hours=24)
PRUNE_BATCH = 1000  # records a transaction: short locks, and a bounded transaction on a large backlog


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


def prune(factory: sessionmaker[Session], now: datetime, retention: timedelta = RETENTION, *,
          batch: int = PRUNE_BATCH) -> int:
    """Delete the settled records older than ``retention``, ``batch`` to a transaction, until none is
    left; returns how many. Schedulers running side by side share the work (SKIP LOCKED on PostgreSQL).

    An unsettled record is never deleted: one that is still being acted on is uncommitted, so no other
    transaction sees it, and a committed one cannot arise (the record commits only once settled). Should
    one ever be found, it is a bug to look into, so it is kept and logged."""
    cutoff = now - retention
    deleted = 0
    while True:
        with transaction(factory) as session:
            done = _prune_batch(session, cutoff, batch)
        deleted += done
        if done < batch:
            break
    with factory() as session:
        stuck = session.execute(select(func.count()).select_from(IdempotencyRecord).where(
            IdempotencyRecord.status_code == UNSETTLED, IdempotencyRecord.created_at < cutoff)).scalar_one()
    if stuck:
        log.warning("%s committed idempotency records were never settled: kept, to find how they were committed", stuck)
    return deleted


def _prune_batch(session: Session, cutoff: datetime, batch: int) -> int:
    keys = session.execute(
        select(IdempotencyRecord.user_id, IdempotencyRecord.key)
        .where(IdempotencyRecord.status_code != UNSETTLED, IdempotencyRecord.created_at < cutoff)
        .order_by(IdempotencyRecord.created_at).limit(batch).with_for_update(skip_locked=True)).all()
    if keys:
        session.execute(delete(IdempotencyRecord).where(
            tuple_(IdempotencyRecord.user_id, IdempotencyRecord.key).in_([tuple(k) for k in keys])))
    return len(keys)
