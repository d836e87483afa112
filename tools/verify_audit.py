#!/usr/bin/env python3
"""Verify an exported Xuncha audit trail on its own: standard library only, no project imports.

    python3 tools/verify_audit.py audit.json      # or audit.csv, as exported from /audit/export
    exit 0 and "OK …" when every chain holds; exit 1 and the first broken link otherwise; 2 on a bad file.

The recipe (docs/security.md, "The hash recipe"), per stream, events in seq order starting at 1:

    body = JSON of {"stream", "seq", "at", "type", "actor_id", "actor", "instance_id", "payload"}
           with keys sorted, no whitespace (separators "," and ":"), non-ASCII characters as is;
           "payload" is the stored canonical JSON *text* (a string), "at" the exported UTC time text
    hash = lowercase hex SHA-256 of UTF-8 (prev_hash + body); the first event's prev_hash is 64 zeros

and each stream's last event must be the stream's head (its seq and hash), which catches a deleted tail.
"""

from __future__ import annotations

import csv
import hashlib
import json
import sys
from typing import Any

GENESIS = "0" * 64
FIELDS = ("stream", "seq", "at", "type", "actor_id", "actor", "instance_id", "payload")


def digest(prev_hash: str, event: dict[str, Any]) -> str:
    body = json.dumps({key: event[key] for key in FIELDS}, sort_keys=True, ensure_ascii=False,
                      separators=(",", ":"))
    return hashlib.sha256((prev_hash + body).encode("utf-8")).hexdigest()


def _int_or_none(text: str) -> int | None:
    return int(text) if text != "" else None


def read_csv(path: str) -> tuple[list[dict[str, Any]], dict[str, tuple[int, str]]]:
    events: list[dict[str, Any]] = []
    heads: dict[str, tuple[int, str]] = {}
    with open(path, encoding="utf-8-sig", newline="") as handle:
        for row in csv.DictReader(handle):
            if row["record"] == "head":
                heads[row["stream"]] = (int(row["seq"]), row["hash"])
            elif row["record"] == "event":
                events.append({"stream": row["stream"], "seq": int(row["seq"]), "at": row["at"],
                               "type": row["type"], "actor_id": _int_or_none(row["actor_id"]),
                               "actor": row["actor"] or None, "instance_id": _int_or_none(row["instance_id"]),
                               "payload": row["payload"], "prev_hash": row["prev_hash"], "hash": row["hash"]})
            else:
                raise ValueError(f"unknown record kind {row['record']!r}")
    return events, heads


def read_json(path: str) -> tuple[list[dict[str, Any]], dict[str, tuple[int, str]]]:
    with open(path, encoding="utf-8") as handle:
        document = json.load(handle)
    heads = {stream: (int(h["seq"]), str(h["hash"])) for stream, h in document["heads"].items()}
    return list(document["events"]), heads


def verify(events: list[dict[str, Any]], heads: dict[str, tuple[int, str]]) -> tuple[int, dict[str, Any] | None]:
    """(events checked, the first broken link or None)."""
    streams: dict[str, list[dict[str, Any]]] = {}
    for event in events:
        streams.setdefault(event["stream"], []).append(event)
    checked = 0
    for stream in sorted(set(streams) | set(heads)):
        chain = sorted(streams.get(stream, []), key=lambda e: e["seq"])
        prev, expected = GENESIS, 1
        for event in chain:
            checked += 1
            problem = None
            if event["seq"] != expected:
                problem = (f"missing event(s) before seq {event['seq']} (expected {expected})"
                           if event["seq"] > expected else f"duplicate or out-of-order seq {event['seq']}")
            elif event["prev_hash"] != prev:
                problem = "prev_hash does not match the previous event"
            elif digest(prev, event) != event["hash"]:
                problem = "content does not match its hash (the event was edited)"
            if problem:
                return checked, {"stream": stream, "seq": event["seq"], "reason": problem}
            prev, expected = event["hash"], expected + 1
        head = heads.get(stream)
        if head is None:
            return checked, {"stream": stream, "seq": expected - 1, "reason": "stream has no head record"}
        if head != (expected - 1, prev):
            return checked, {"stream": stream, "seq": expected,
                             "reason": f"events after seq {expected - 1} are missing (head says {head[0]})"}
    return checked, None


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: verify_audit.py EXPORT.csv|EXPORT.json", file=sys.stderr)
        return 2
    path = argv[1]
    try:
        events, heads = read_csv(path) if path.lower().endswith(".csv") else read_json(path)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        print(f"cannot read {path}: {exc}", file=sys.stderr)
        return 2
    checked, broken = verify(events, heads)
    if broken is None:
        print(f"OK: {checked} events in {len(heads)} streams, every chain intact")
        return 0
    print(f"BROKEN at stream={broken['stream']} seq={broken['seq']}: {broken['reason']} "
          f"({checked} events checked)")
    return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
