"""Reading the audit trail out: the auditor's filtered event browser, and the export (CSV or JSON)
that carries every event with its chain so an outside party can re-verify it (tools/verify_audit.py).

The export is a snapshot: the streams' last links (heads) are read first, then the events in
(stream, seq) order, leaving out any event appended after its stream's head was read. Events are
fetched in batches and written out as they come (a generator of text chunks), so a large trail is
never held in memory. Asking for an export is itself an audited event (``audit_exported``), recorded
and committed by the caller before the chunks are produced, so it appears in the export it starts.

Each event is exported exactly as hashed (docs/security.md, "The hash recipe"): ``at`` is the UTC
ISO-8601 text that went into the hash, ``payload`` the canonical JSON text as stored.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session

from models import AuditEvent, AuditStreamHead, ProcessInstance

from . import audit
from .actors import Actor
from .audit import GENESIS, SYSTEM_STREAM, EventDraft, case_stream
from .errors import InvalidInput
from .permissions import require

FORMATS = ("csv", "json")
EXPORT_FORMAT = "xuncha-audit-export"
EXPORT_VERSION = 1
CSV_COLUMNS = ("record", "stream", "seq", "at", "type", "actor_id", "actor", "instance_id", "payload",
               "prev_hash", "hash")
BATCH = 1000


# -- browsing --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class EventFilter:
    stream: str | None = None
    event_type: str | None = None
    actor: str | None = None  # the actor's username as recorded
    since: date | None = None  # from this day (UTC), inclusive
    until: date | None = None  # to this day (UTC), inclusive

    def clauses(self) -> list[ColumnElement[bool]]:
        clauses: list[ColumnElement[bool]] = []
        if self.stream:
            clauses.append(AuditEvent.stream == self.stream)
        if self.event_type:
            clauses.append(AuditEvent.event_type == self.event_type)
        if self.actor:
            clauses.append(AuditEvent.actor_name == self.actor)
        if self.since:
            clauses.append(AuditEvent.at >= datetime.combine(self.since, time.min, UTC))
        if self.until:
            clauses.append(AuditEvent.at < datetime.combine(self.until + timedelta(days=1), time.min, UTC))
        return clauses


def parse_filter(args: dict[str, str]) -> EventFilter:
    """The browser's query parameters (``stream``, ``type``, ``actor``, ``from``, ``to``), checked."""
    days: dict[str, date | None] = {}
    for key in ("from", "to"):
        text = (args.get(key) or "").strip()
        try:
            days[key] = date.fromisoformat(text) if text else None
        except ValueError:
            raise InvalidInput(f"日期 {key} 格式应为 YYYY-MM-DD。", f"Date '{key}' must be YYYY-MM-DD.",
                               {"field": key, "value": text}) from None
    since, until = days["from"], days["to"]
    if since and until and since > until:
        raise InvalidInput("起始日期晚于截止日期。", "The start date is after the end date.",
                           {"from": since.isoformat(), "to": until.isoformat()})
    return EventFilter(stream=(args.get("stream") or "").strip() or None,
                       event_type=(args.get("type") or "").strip() or None,
                       actor=(args.get("actor") or "").strip() or None, since=since, until=until)


def browse(session: Session, actor: Actor, flt: EventFilter, *, page: int, per_page: int
           ) -> tuple[list[AuditEvent], int]:
    """One page of events matching the filter, newest first, and how many match in all."""
    require(actor, "audit", "read")
    clauses = flt.clauses()
    total = session.execute(select(func.count()).select_from(AuditEvent).where(*clauses)).scalar_one()
    rows = session.execute(select(AuditEvent).where(*clauses).order_by(AuditEvent.id.desc())
                           .offset((page - 1) * per_page).limit(per_page)).scalars()
    return list(rows), total


def event_types(session: Session) -> list[str]:
    return list(session.execute(select(AuditEvent.event_type).distinct().order_by(AuditEvent.event_type)).scalars())


# -- export ----------------------------------------------------------------------------------------------------


def record_export(session: Session, actor: Actor, fmt: str, *, at: datetime, via: str) -> None:
    """Check the actor may export, and put the export itself on the record (caller commits)."""
    require(actor, "audit", "export")
    if fmt not in FORMATS:
        raise InvalidInput("导出格式应为 csv 或 json。", "The export format must be csv or json.",
                           {"format": fmt, "allowed": list(FORMATS)})
    audit.record(session, SYSTEM_STREAM, [EventDraft("audit_exported", {"format": fmt, "via": via})], at=at,
                 actor_id=actor.user_id, actor_name=actor.username)


def heads(session: Session) -> dict[str, tuple[int, str]]:
    """Every stream's last link: ``audit_stream_head`` rows, and each case's on its instance row."""
    found = {h.stream: (h.seq, h.hash) for h in session.execute(select(AuditStreamHead)).scalars()
             if h.seq > 0 or h.hash != GENESIS}
    found.update((case_stream(iid), (seq, digest)) for iid, seq, digest in session.execute(
        select(ProcessInstance.id, ProcessInstance.audit_seq, ProcessInstance.audit_hash)
        .where(ProcessInstance.audit_seq > 0)))
    return found


def event_record(event: AuditEvent) -> dict[str, Any]:
    """One event exactly as it was hashed."""
    return {"stream": event.stream, "seq": event.seq, "at": event.at.astimezone(UTC).isoformat(),
            "type": event.event_type, "actor_id": event.actor_id, "actor": event.actor_name,
            "instance_id": event.instance_id, "payload": event.payload, "prev_hash": event.prev_hash,
            "hash": event.hash}


def _events(session: Session, snapshot: dict[str, tuple[int, str]]) -> Iterator[dict[str, Any]]:
    query = select(AuditEvent).order_by(AuditEvent.stream, AuditEvent.seq).execution_options(yield_per=BATCH)
    for event in session.execute(query).scalars():
        head = snapshot.get(event.stream)
        if head is not None and event.seq > head[0]:
            continue  # appended after the snapshot's heads were read
        yield event_record(event)


def _snapshot(session: Session) -> dict[str, tuple[int, str]]:
    """Begin the export's one consistent view and read the heads in it. On PostgreSQL the session (fresh,
    before its first statement) reads at REPEATABLE READ; SQLite's read transaction (WAL) is a snapshot
    already. Skipping events past their head (``_events``) guards the gap on any other set-up."""
    if session.get_bind().dialect.name == "postgresql":
        session.connection(execution_options={"isolation_level": "REPEATABLE READ"})
    return heads(session)


def export_json(session: Session, *, exported_at: datetime) -> Iterator[str]:
    """The trail as one JSON document, produced in chunks: heads first, then the events. ``session`` must
    be fresh (the export begins its own snapshot)."""
    snapshot = _snapshot(session)
    yield "{" + json.dumps({"format": EXPORT_FORMAT, "version": EXPORT_VERSION,
                           "exported_at": exported_at.astimezone(UTC).isoformat(), "genesis": GENESIS},
                          ensure_ascii=False)[1:-1]
    yield ',"heads":' + json.dumps({s: {"seq": q, "hash": h} for s, (q, h) in sorted(snapshot.items())},
                                   ensure_ascii=False)
    yield ',"events":['
    first = True
    for record in _events(session, snapshot):
        yield ("\n" if first else ",\n") + json.dumps(record, ensure_ascii=False)
        first = False
    yield "\n]}\n"


def export_csv(session: Session) -> Iterator[str]:
    """The trail as CSV (UTF-8): one ``event`` row per event, then one ``head`` row per stream whose
    ``seq`` and ``hash`` are the stream's last link. An empty cell is null. ``session`` must be fresh."""
    snapshot = _snapshot(session)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")

    def flush() -> str:
        text = buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        return text

    writer.writerow(CSV_COLUMNS)
    for count, record in enumerate(_events(session, snapshot), start=1):
        writer.writerow(["event", *(_cell(record[c]) for c in CSV_COLUMNS[1:])])
        if count % 200 == 0:
            yield flush()
    for stream, (seq, digest) in sorted(snapshot.items()):
        writer.writerow(["head", stream, seq, "", "", "", "", "", "", "", digest])
    yield flush()


def _cell(value: Any) -> str:
    return "" if value is None else str(value)
