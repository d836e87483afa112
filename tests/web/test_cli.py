"""The `xuncha` command: migrate, load demo data twice (idempotent), deploy, verify and catch tampering."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import text

from engine.db import make_engine
from web.cli import cli

WORKFLOWS = Path(__file__).resolve().parents[2] / "workflows"


@pytest.fixture
def run(tmp_path, monkeypatch):  # type: ignore[no-untyped-def]
    """Invoke the CLI against a fresh SQLite database in a temporary instance folder."""
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setenv("SECRET_KEY", "test")
    runner = CliRunner()

    def invoke(*args: str):  # type: ignore[no-untyped-def]
        return runner.invoke(cli, list(args), catch_exceptions=False)

    invoke.url = url  # type: ignore[attr-defined]
    return invoke


def test_set_up_is_idempotent_and_audit_verify_catches_a_tampered_row(run, tmp_path):
    assert run("db", "upgrade").exit_code == 0
    first = run("demo-data")
    assert first.exit_code == 0 and "loaded" in first.output
    second = run("demo-data")
    assert second.exit_code == 0 and "already present" in second.output

    verified = run("audit", "verify")
    assert verified.exit_code == 0 and "intact" in verified.output

    engine = make_engine(run.url)
    with engine.begin() as conn:
        conn.execute(text("UPDATE audit_event SET actor_name = 'nobody' WHERE id = 5"))
    engine.dispose()
    broken = run("audit", "verify")
    assert broken.exit_code == 1 and "BROKEN" in broken.output and "event_id=5" in broken.output


def test_deploy_reports_unchanged_content_and_refuses_an_invalid_file(run, tmp_path):
    assert run("db", "upgrade").exit_code == 0
    assert run("demo-data").exit_code == 0
    unchanged = run("deploy", str(WORKFLOWS / "clue_disposition.bpmn"))
    assert unchanged.exit_code == 0 and "clue_disposition v1" in unchanged.output and "unchanged" in unchanged.output

    bad = tmp_path / "bad.bpmn"
    bad.write_text("<bpmn:definitions xmlns:bpmn='http://www.omg.org/spec/BPMN/20100524/MODEL'><oops></bpmn:definitions>")
    refused = run("deploy", str(bad))
    assert refused.exit_code == 1 and "not valid XML" in refused.output
