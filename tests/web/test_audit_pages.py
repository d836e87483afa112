"""The auditor's pages: only auditors and the office get in; "verify now" says the chain is intact, and after
someone with database rights edits or deletes a row (past the PostgreSQL trigger, as its owner can) it and
`xuncha audit verify` name the same first broken link; the event browser filters and pages; the export
(page and API) downloads a file tools/verify_audit.py accepts, and is itself on the record."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from engine import audit
from engine.context import EngineContext
from engine.db import transaction
from engine.demo import Demo
from models import AuditEvent
from tests.helpers import act, open_clue, tamper
from tests.web.helpers import api_for, login
from web.cli import cli

TOOL = Path(__file__).resolve().parents[2] / "tools" / "verify_audit.py"


@pytest.fixture
def case(factory: sessionmaker[Session], ctx: EngineContext, demo: Demo) -> int:
    iid = open_clue(factory, ctx, demo)
    act(factory, ctx, demo.actor("office1"), iid, "handover", {"handover_list": "清单"})
    return iid


def _as(client: FlaskClient, username: str) -> FlaskClient:
    client.post("/logout")
    login(client, username)
    return client


def _cli_verify(db_url: str, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("DATABASE_URL", db_url)
    monkeypatch.setenv("SECRET_KEY", "test")
    return CliRunner().invoke(cli, ["audit", "verify"], catch_exceptions=False)


def _exports(factory: sessionmaker[Session]) -> list[tuple[str | None, dict[str, Any]]]:
    with factory() as session:
        rows = session.execute(select(AuditEvent).where(AuditEvent.event_type == "audit_exported")
                               .order_by(AuditEvent.id)).scalars()
        return [(e.actor_name, json.loads(e.payload)) for e in rows]


@pytest.mark.parametrize("username", ["auditor1", "office1"])
def test_auditors_and_the_office_see_the_audit_page_and_verify_it_intact(client, case, username):  # type: ignore[no-untyped-def]
    page = _as(client, username).get("/audit")
    assert page.status_code == 200 and "审计日志" in page.text and "instance_started" in page.text
    verified = client.post("/audit/verify")
    assert verified.status_code == 200
    assert re.search(r'data-testid="verify-result">审计链完整：已校验 \d+ 条事件', verified.text)


@pytest.mark.parametrize("username", ["unit1", "unit2", "unitlead1", "group1", "jw1", "zzb1", "leader1", "designer1"])
def test_everyone_else_is_refused_the_audit_pages(client, case, username):  # type: ignore[no-untyped-def]
    _as(client, username)
    for method, path in (("GET", "/audit"), ("POST", "/audit/verify"), ("GET", "/audit/export?format=csv")):
        assert client.open(path, method=method).status_code == 403, (username, path)


def test_a_visitor_who_is_not_logged_in_is_sent_to_log_in(client, case):  # type: ignore[no-untyped-def]
    response = client.get("/audit")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_a_tampered_row_is_named_by_the_page_and_by_the_cli_alike(  # type: ignore[no-untyped-def]
        client, case, sql_engine, factory, db_url, monkeypatch):
    with factory() as session:
        target = audit.stream_events(session, case)[3]
    tamper(sql_engine, f"UPDATE audit_event SET payload = replace(payload, '清单', '改过') WHERE id = {target.id}")
    page = _as(client, "auditor1").post("/audit/verify")
    assert page.status_code == 200 and "审计链断裂" in page.text
    assert f'data-testid="broken-stream">case:{case}<' in page.text
    assert 'data-testid="broken-seq">4<' in page.text
    assert "content does not match its hash (the row was edited)" in page.text
    result = _cli_verify(db_url, monkeypatch)
    assert result.exit_code == 1
    assert f"stream=case:{case} seq=4 event_id={target.id}: content does not match its hash" in result.output


def test_a_deleted_row_is_named_by_the_page_and_by_the_cli_alike(  # type: ignore[no-untyped-def]
        client, case, sql_engine, factory, db_url, monkeypatch):
    with factory() as session:
        target = audit.stream_events(session, case)[1]
    tamper(sql_engine, f"DELETE FROM audit_event WHERE id = {target.id}")
    page = _as(client, "office1").post("/audit/verify")
    assert f'data-testid="broken-stream">case:{case}<' in page.text and 'data-testid="broken-seq">3<' in page.text
    assert "missing event(s) before seq 3 (expected 2)" in page.text
    result = _cli_verify(db_url, monkeypatch)
    assert result.exit_code == 1 and f"stream=case:{case} seq=3" in result.output


def test_the_event_browser_filters_by_stream_type_actor_and_dates_and_pages(  # type: ignore[no-untyped-def]
        client, case, clock, factory):
    _as(client, "auditor1")
    with transaction(factory) as session:  # enough system events (through the one writer) for several pages
        audit.record(session, audit.SYSTEM_STREAM, [audit.EventDraft("test_marker", {"n": n}) for n in range(60)],
                     at=clock.now(), actor_id=None, actor_name=None)
    with factory() as session:
        total = session.execute(select(func.count()).select_from(AuditEvent)).scalar_one()
    assert total > 60
    day = clock.now().date().isoformat()
    by_stream = client.get(f"/audit?stream=case:{case}&type=task_completed&actor=office1&from={day}&to={day}")
    assert by_stream.status_code == 200
    rows = re.findall(r"<tr><td>[^<]+</td><td>([^<]+)</td><td>(\d+)</td><td>([^<]+)</td>\s*<td>([^<]+)</td>",
                      by_stream.text)
    assert rows == [(f"case:{case}", "4", "task_completed", "office1")]
    assert "没有符合条件的事件" in client.get(f"/audit?stream=case:{case}&from=2000-01-01&to=2000-01-02").text
    assert "没有符合条件的事件" in client.get(f"/audit?stream=case:{case}&actor=jw1").text
    assert client.get("/audit?from=yesterday").status_code == 400
    assert client.get(f"/audit?from={day}&to=2000-01-01").status_code == 400
    assert client.get("/audit?page=0").status_code == 400
    assert f"共 {total} 条" in client.get("/audit").text
    last_page = -(-total // 50)
    last = client.get(f"/audit?page={last_page}")
    assert last.text.count("<tr><td>") == total - 50 * (last_page - 1)
    assert "没有符合条件的事件" in client.get(f"/audit?page={last_page + 1}").text


def _run_tool(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-I", str(TOOL), str(path)], capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize("fmt", ["csv", "json"])
def test_the_page_export_downloads_a_trail_the_outside_tool_accepts_and_is_audited(  # type: ignore[no-untyped-def]
        client, case, factory, tmp_path, fmt):
    response = _as(client, "auditor1").get(f"/audit/export?format={fmt}")
    assert response.status_code == 200 and response.is_streamed
    assert response.headers["Content-Disposition"].endswith(f'.{fmt}"')
    path = tmp_path / f"trail.{fmt}"
    path.write_bytes(response.data)
    result = _run_tool(path)
    assert result.returncode == 0 and result.stdout.startswith("OK"), result.stdout + result.stderr
    assert '"via":"page"' in response.text.replace('\\"', '"').replace('""', '"')
    assert _exports(factory) == [("auditor1", {"format": fmt, "via": "page"})]
    assert client.get("/audit/export?format=xml").status_code == 400
    assert _exports(factory) == [("auditor1", {"format": fmt, "via": "page"})]


def test_a_refused_export_leaves_no_export_event(client, case, factory):  # type: ignore[no-untyped-def]
    assert _as(client, "unit1").get("/audit/export?format=json").status_code == 403
    assert _exports(factory) == []


def test_the_api_export_is_for_auditors_and_the_office_and_verifies(  # type: ignore[no-untyped-def]
        db_url, ctx, demo, case, factory, tmp_path):
    with api_for(db_url, ctx) as api:
        response = api("auditor1").get("/audit/export")
        assert response.status_code == 200 and response.mimetype == "application/json"
        document = response.get_json()
        assert document["format"] == "xuncha-audit-export"
        path = tmp_path / "trail.json"
        path.write_bytes(response.data)
        assert _run_tool(path).returncode == 0
        csv_response = api("office1").get("/audit/export?format=csv")
        assert csv_response.status_code == 200 and csv_response.mimetype == "text/csv"
        assert csv_response.text.startswith("record,stream,seq,at,type,")
        for username in ("unit1", "jw1", "leader1", "designer1"):
            refused = api(username).get("/audit/export")
            assert refused.status_code == 403 and refused.get_json()["error"]["code"] == "not_permitted"
    assert _exports(factory) == [("auditor1", {"format": "json", "via": "api"}),
                                 ("office1", {"format": "csv", "via": "api"})]
