"""The audit export carries every event with its chain, and tools/verify_audit.py (standard library only)
re-verifies it outside the application: an intact export is OK; an edited payload, a deleted event in the
middle or at a stream's end, or a forged hash in the file is named at its stream and seq."""

from __future__ import annotations

import csv
import io
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.orm import Session, sessionmaker

from engine import audit, audit_export
from engine.context import EngineContext
from engine.db import make_session_factory, transaction
from engine.demo import Demo
from engine.errors import InvalidInput, NotPermitted
from tests.helpers import act, open_clue, open_rectification

TOOL = Path(__file__).resolve().parents[2] / "tools" / "verify_audit.py"


@pytest.fixture
def trail(factory: sessionmaker[Session], ctx: EngineContext, demo: Demo) -> int:
    """A clue handed over and taken a step, a rectification case, and an export on the system stream."""
    iid = open_clue(factory, ctx, demo, summary="反映某科长收受“礼品”，金额约 5,000 元。")
    act(factory, ctx, demo.actor("office1"), iid, "handover", {"handover_list": "清单，含逗号\n和换行"})
    open_rectification(factory, ctx, demo)
    with transaction(factory) as session:
        audit_export.record_export(session, demo.actor("auditor1"), "json", at=ctx.clock.now(), via="test")
    return iid


def _export(factory: sessionmaker[Session], ctx: EngineContext, fmt: str) -> str:
    """As the web layer does: from a read-only session (on SQLite, never the write lock)."""
    with make_session_factory(factory.kw["bind"], read_only=True)() as session:
        chunks = (audit_export.export_json(session, exported_at=ctx.clock.now()) if fmt == "json"
                  else audit_export.export_csv(session))
        return "".join(chunks)


def _run_tool(path: Path) -> subprocess.CompletedProcess[str]:
    """The verifier as an outside party runs it: a bare interpreter, not this project's environment."""
    return subprocess.run([sys.executable, "-I", str(TOOL), str(path)], capture_output=True, text=True,
                          cwd=path.parent, timeout=60)


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize("fmt", ["json", "csv"])
def test_an_intact_export_verifies_ok_outside_the_application(factory, ctx, trail, tmp_path, fmt):  # type: ignore[no-untyped-def]
    with transaction(factory) as session:
        in_db = audit.verify(session)
    assert in_db.ok
    result = _run_tool(_write(tmp_path, f"audit.{fmt}", _export(factory, ctx, fmt)))
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.startswith(f"OK: {in_db.checked} events")


def test_the_json_export_has_every_event_as_hashed_and_the_export_event_itself(factory, ctx, trail):  # type: ignore[no-untyped-def]
    document = json.loads(_export(factory, ctx, "json"))
    assert (document["format"], document["version"], document["genesis"]) == ("xuncha-audit-export", 1, "0" * 64)
    with factory() as session:
        stored = audit.stream_events(session, trail)
    exported = [e for e in document["events"] if e["stream"] == f"case:{trail}"]
    assert [(e["seq"], e["type"], e["payload"], e["prev_hash"], e["hash"]) for e in exported] == [
        (e.seq, e.event_type, e.payload, e.prev_hash, e.hash) for e in stored]
    assert document["heads"][f"case:{trail}"] == {"seq": stored[-1].seq, "hash": stored[-1].hash}
    exports = [e for e in document["events"] if e["type"] == "audit_exported"]
    assert [(e["actor"], json.loads(e["payload"])) for e in exports] == [
        ("auditor1", {"format": "json", "via": "test"})]


def _edit_json(text: str, change: Any) -> str:
    document = json.loads(text)
    change(document)
    return json.dumps(document, ensure_ascii=False)


def _case_events(document: dict[str, Any], iid: int) -> list[dict[str, Any]]:
    return [e for e in document["events"] if e["stream"] == f"case:{iid}"]


def test_an_edited_payload_in_the_file_is_named(factory, ctx, trail, tmp_path):  # type: ignore[no-untyped-def]
    def edit(document: dict[str, Any]) -> None:
        event = _case_events(document, trail)[3]
        event["payload"] = event["payload"].replace("清单", "改过")

    result = _run_tool(_write(tmp_path, "audit.json", _edit_json(_export(factory, ctx, "json"), edit)))
    assert result.returncode == 1
    assert f"BROKEN at stream=case:{trail} seq=4: content does not match its hash" in result.stdout


def test_an_edit_with_a_recomputed_own_hash_still_breaks_the_next_link(factory, ctx, trail, tmp_path):  # type: ignore[no-untyped-def]
    sys.path.insert(0, str(TOOL.parent))
    try:
        import verify_audit  # the tool itself, to forge the edited event's own hash
    finally:
        sys.path.pop(0)

    def edit(document: dict[str, Any]) -> None:
        events = _case_events(document, trail)
        events[1]["actor"] = "someone_else"
        events[1]["hash"] = verify_audit.digest(events[1]["prev_hash"], events[1])

    result = _run_tool(_write(tmp_path, "audit.json", _edit_json(_export(factory, ctx, "json"), edit)))
    assert result.returncode == 1
    assert f"stream=case:{trail} seq=3: prev_hash does not match the previous event" in result.stdout


def test_a_deleted_event_in_the_middle_of_the_csv_is_named(factory, ctx, trail, tmp_path):  # type: ignore[no-untyped-def]
    rows = list(csv.reader(io.StringIO(_export(factory, ctx, "csv"))))
    assert rows[0] == list(audit_export.CSV_COLUMNS)
    target = next(i for i, row in enumerate(rows) if row[:3] == ["event", f"case:{trail}", "2"])
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerows(rows[:target] + rows[target + 1:])
    result = _run_tool(_write(tmp_path, "audit.csv", out.getvalue()))
    assert result.returncode == 1
    assert f"BROKEN at stream=case:{trail} seq=3: missing event(s) before seq 3 (expected 2)" in result.stdout


def test_an_edited_payload_in_the_csv_is_named(factory, ctx, trail, tmp_path):  # type: ignore[no-untyped-def]
    rows = list(csv.reader(io.StringIO(_export(factory, ctx, "csv"))))
    target = next(row for row in rows if row[:3] == ["event", f"case:{trail}", "4"])
    assert '"' in target[8] and "," in target[8]  # quotes and commas in a payload survive the CSV round trip
    target[8] = target[8].replace("清单", "改过")
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerows(rows)
    result = _run_tool(_write(tmp_path, "audit.csv", out.getvalue()))
    assert result.returncode == 1
    assert f"stream=case:{trail} seq=4: content does not match its hash" in result.stdout


def test_a_deleted_last_event_is_caught_by_the_stream_head(factory, ctx, trail, tmp_path):  # type: ignore[no-untyped-def]
    def edit(document: dict[str, Any]) -> None:
        last = _case_events(document, trail)[-1]
        document["events"].remove(last)

    last_seq = len(_case_events(json.loads(_export(factory, ctx, "json")), trail))
    result = _run_tool(_write(tmp_path, "audit.json", _edit_json(_export(factory, ctx, "json"), edit)))
    assert result.returncode == 1
    assert (f"BROKEN at stream=case:{trail} seq={last_seq}: events after seq {last_seq - 1} are missing "
            f"(head says {last_seq})") in result.stdout


def test_an_unreadable_file_is_a_usage_error_not_a_verdict(tmp_path):  # type: ignore[no-untyped-def]
    result = _run_tool(_write(tmp_path, "audit.json", "{not json"))
    assert result.returncode == 2 and "cannot read" in result.stderr


def test_only_auditors_and_the_office_may_export_and_the_format_is_checked(factory, ctx, demo):  # type: ignore[no-untyped-def]
    for username in ("unit1", "jw1", "designer1", "leader1", "group1"):
        with pytest.raises(NotPermitted), transaction(factory) as session:
            audit_export.record_export(session, demo.actor(username), "csv", at=ctx.clock.now(), via="test")
    with pytest.raises(InvalidInput), transaction(factory) as session:
        audit_export.record_export(session, demo.actor("office1"), "xml", at=ctx.clock.now(), via="test")
    assert [e for e in json.loads(_export(factory, ctx, "json"))["events"] if e["type"] == "audit_exported"] == []


def test_an_event_appended_after_the_snapshot_is_left_out(factory, ctx, demo, trail):  # type: ignore[no-untyped-def]
    with make_session_factory(factory.kw["bind"], read_only=True)() as session:
        chunks = audit_export.export_json(session, exported_at=ctx.clock.now())
        text = next(chunks) + next(chunks)  # the heads are read
        act(factory, ctx, demo.actor("office1"), open_clue(factory, ctx, demo, number="XS-T-009"), "handover",
            {"handover_list": "后来的"})
        with transaction(factory) as other:
            audit_export.record_export(other, demo.actor("office1"), "csv", at=ctx.clock.now(), via="test")
        text += "".join(chunks)
    document = json.loads(text)
    assert [e for e in document["events"] if json.loads(e["payload"]).get("format") == "csv"] == []
    assert all(e["seq"] <= document["heads"][e["stream"]]["seq"] for e in document["events"])


def test_no_module_but_engine_audit_writes_audit_rows() -> None:
    """The chain covers every event type because nothing else can write one: no other module inserts
    AuditEvent rows, builds them, or touches the stream heads (the export and the browser only read)."""
    root = TOOL.parents[1]
    writes = re.compile(r"insert\(\s*AuditEvent|AuditEvent\(|insert\(\s*AuditStreamHead|AuditStreamHead\("
                        r"|(INSERT INTO|UPDATE|DELETE FROM)\s+audit_(event|stream_head)", re.IGNORECASE)
    offenders = [str(path.relative_to(root)) for folder in ("engine", "web", "models")
                 for path in sorted((root / folder).rglob("*.py"))
                 if path.name != "audit.py" and writes.search(path.read_text(encoding="utf-8"))]
    assert offenders == []
    assert writes.search((root / "engine" / "audit.py").read_text(encoding="utf-8"))  # the pattern does match
