"""The one audit writer, and the verifier of its hash chains.

Events are grouped in streams: ``case:<instance id>`` for everything that happens to a case, and
``system`` for deployments, logins and administration. Each event's hash covers its canonical JSON
and the previous event's hash in the same stream, so editing, inserting or deleting any row breaks
the chain at that point; the stream's last link (on the instance row for a case, in
``audit_stream_head`` otherwise) also catches a deleted tail.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import Table, insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from models import AuditEvent, AuditStreamHead, ProcessInstance

GENESIS = "0" * 64
SYSTEM_STREAM = "system"


def case_stream(instance_id: int) -> str:
    return f"case:{instance_id}"


def canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)


@dataclass(frozen=True)
class EventDraft:
    event_type: str
    payload: dict[str, Any]
    instance_id: int | None = None


def _digest(prev_hash: str, stream: str, seq: int, at: datetime, event_type: str, actor_id: int | None,
            actor_name: str | None, instance_id: int | None, payload: str) -> str:
    body = canonical_json({
        "stream": stream, "seq": seq, "at": at.astimezone(UTC).isoformat(), "type": event_type, "actor_id": actor_id,
        "actor": actor_name, "instance_id": instance_id, "payload": payload,
    })
    return hashlib.sha256((prev_hash + body).encode("utf-8")).hexdigest()


def _lock_head(session: Session, stream: str) -> AuditStreamHead:
    """The stream's head row, locked; created on a stream's first event (racing creators are fine)."""
    query = (select(AuditStreamHead).where(AuditStreamHead.stream == stream).with_for_update()
             .execution_options(populate_existing=True))
    head = session.execute(query).scalar_one_or_none()
    if head is None:
        insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
        session.execute(insert(AuditStreamHead).values(stream=stream, seq=0, hash=GENESIS).on_conflict_do_nothing())
        head = session.execute(query).scalar_one()
    return head


def _append(session: Session, stream: str, seq: int, prev: str, drafts: list[EventDraft], at: datetime,
            actor_id: int | None, actor_name: str | None) -> tuple[int, str]:
    """Insert the drafts after link (seq, prev) in one statement; return the new last link."""
    rows = []
    for draft in drafts:
        seq += 1
        payload = canonical_json(draft.payload)
        digest = _digest(prev, stream, seq, at, draft.event_type, actor_id, actor_name, draft.instance_id,
                         payload)
        rows.append({"stream": stream, "seq": seq, "at": at, "event_type": draft.event_type, "actor_id": actor_id,
                     "actor_name": actor_name, "instance_id": draft.instance_id, "payload": payload,
                     "prev_hash": prev, "hash": digest})
        prev = digest
    session.connection().execute(_INSERT_EVENTS, rows)
    return seq, prev


_INSERT_EVENTS = insert(cast(Table, AuditEvent.__table__))


def record(session: Session, stream: str, drafts: list[EventDraft], *, at: datetime,
           actor_id: int | None, actor_name: str | None) -> None:
    """Append events to a stream inside the caller's transaction (they commit or vanish with it)."""
    if not drafts:
        return
    head = _lock_head(session, stream)
    head.seq, head.hash = _append(session, stream, head.seq, head.hash, drafts, at, actor_id, actor_name)


def chain_case(session: Session, instance: ProcessInstance, drafts: list[EventDraft], *, at: datetime,
               actor_id: int | None, actor_name: str | None) -> tuple[int, str]:
    """Insert the drafts on the case's chain; return its new last link for the caller to store on the
    instance row (the runtime writes it with the step's own UPDATE)."""
    return _append(session, case_stream(instance.id), instance.audit_seq, instance.audit_hash, drafts, at,
                   actor_id, actor_name)


def record_case(session: Session, instance: ProcessInstance, drafts: list[EventDraft], *, at: datetime,
                actor_id: int | None, actor_name: str | None) -> None:
    """Append to a case's stream, whose last link lives on the instance row.

    The caller holds the instance row lock (every change to a case does), which serialises the
    stream's writers; the new link is written with the instance itself, so a step costs no extra
    statement for the chain's head.
    """
    if not drafts:
        return
    head = chain_case(session, instance, drafts, at=at, actor_id=actor_id, actor_name=actor_name)
    if session.is_modified(instance):
        instance.audit_seq, instance.audit_hash = head  # rides along with the step's own UPDATE
        return
    # Nothing else changed (someone only read the case): move the head without bumping the
    # instance's version, so a read never makes anyone's open form stale.
    session.execute(update(ProcessInstance).where(ProcessInstance.id == instance.id)
                    .values(audit_seq=head[0], audit_hash=head[1]).execution_options(synchronize_session=False))
    set_committed_value(instance, "audit_seq", head[0])
    set_committed_value(instance, "audit_hash", head[1])


@dataclass
class VerifyResult:
    ok: bool
    checked: int
    first_broken: dict[str, Any] | None

    def as_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "checked": self.checked, "first_broken": self.first_broken}


def verify(session: Session) -> VerifyResult:
    """Recompute every chain; report the first link that does not hold."""
    heads = {h.stream: (h.seq, h.hash) for h in session.execute(select(AuditStreamHead)).scalars()}
    heads.update((case_stream(iid), (seq, digest)) for iid, seq, digest in session.execute(
        select(ProcessInstance.id, ProcessInstance.audit_seq, ProcessInstance.audit_hash)
        .where(ProcessInstance.audit_seq > 0)))
    checked = 0
    current: str | None = None
    prev, expected_seq = GENESIS, 1
    seen: set[str] = set()
    rows = session.execute(
        select(AuditEvent).order_by(AuditEvent.stream, AuditEvent.seq).execution_options(yield_per=1000)
    ).scalars()
    for event in rows:
        if event.stream != current:
            if current is not None and (broken := _check_tail(heads, current, expected_seq - 1, prev)):
                return VerifyResult(False, checked, broken)
            current, prev, expected_seq = event.stream, GENESIS, 1
            seen.add(current)
        checked += 1
        problem = None
        if event.seq != expected_seq:
            problem = f"missing event(s) before seq {event.seq} (expected {expected_seq})"
        elif event.prev_hash != prev:
            problem = "prev_hash does not match the previous event"
        elif _digest(prev, event.stream, event.seq, event.at, event.event_type, event.actor_id,
                     event.actor_name, event.instance_id, event.payload) != event.hash:
            problem = "content does not match its hash (the row was edited)"
        if problem:
            return VerifyResult(False, checked, {
                "stream": event.stream, "seq": event.seq, "event_id": event.id, "reason": problem,
            })
        prev, expected_seq = event.hash, expected_seq + 1
    if current is not None and (broken := _check_tail(heads, current, expected_seq - 1, prev)):
        return VerifyResult(False, checked, broken)
    for stream, (seq, _last) in heads.items():
        if stream not in seen and seq:
            return VerifyResult(False, checked, {"stream": stream, "seq": 1, "event_id": None,
                                                 "reason": "all events of the stream are missing"})
    return VerifyResult(True, checked, None)


def _check_tail(heads: dict[str, tuple[int, str]], stream: str, last_seq: int, last_hash: str
                ) -> dict[str, Any] | None:
    head = heads.get(stream)
    if head is None:
        return {"stream": stream, "seq": last_seq, "event_id": None, "reason": "stream has no head record"}
    if head != (last_seq, last_hash):
        return {"stream": stream, "seq": last_seq + 1, "event_id": None,
                "reason": f"events after seq {last_seq} are missing (head says {head[0]})"}
    return None


def stream_events(session: Session, instance_id: int) -> list[AuditEvent]:
    return list(session.execute(
        select(AuditEvent).where(AuditEvent.stream == case_stream(instance_id)).order_by(AuditEvent.seq)
    ).scalars())
