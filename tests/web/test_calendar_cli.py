"""`xuncha calendar load`: a fresh database already holds the package's years (migration 0008); the
command brings back a year's package days (audited) and refuses a year the package does not know."""

from __future__ import annotations

import json

from click.testing import CliRunner
from sqlalchemy import text

from engine.db import make_engine
from web.cli import cli


def test_calendar_load_restores_a_year_and_refuses_an_unknown_one(tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setenv("SECRET_KEY", "test")
    runner = CliRunner()
    assert runner.invoke(cli, ["db", "upgrade"], catch_exceptions=False).exit_code == 0
    nothing = runner.invoke(cli, ["calendar", "load"], catch_exceptions=False)
    assert nothing.exit_code == 0 and "nothing to load" in nothing.output

    engine = make_engine(url)
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM calendar_day WHERE day BETWEEN '2026-10-01' AND '2026-10-31'"))
    loaded = runner.invoke(cli, ["calendar", "load", "2026"], catch_exceptions=False)
    assert loaded.exit_code == 0 and "2026: 新增 6" in loaded.output  # 1, 2, 5, 6, 7 October and Saturday the 10th
    with engine.connect() as conn:
        days = conn.execute(text("SELECT day, working FROM calendar_day WHERE day BETWEEN '2026-10-01' "
                                 "AND '2026-10-31' ORDER BY day")).all()
        (payload,) = conn.execute(text("SELECT payload FROM audit_event WHERE event_type = 'calendar_year_loaded'"
                                       )).scalars()
    assert [(str(d), bool(w)) for d, w in days] == [
        ("2026-10-01", False), ("2026-10-02", False), ("2026-10-05", False), ("2026-10-06", False),
        ("2026-10-07", False), ("2026-10-10", True)]
    assert json.loads(payload)["added"][0] == "2026-10-01"

    unknown = runner.invoke(cli, ["calendar", "load", "2031"])
    assert unknown.exit_code == 1 and "no schedule for 2031" in unknown.output
    engine.dispose()
