"""版本迁移 in the browser: a supervisor dry-runs moving the demo's rectifications to a v2 with 复核, reads the
report, runs it (confirming the count) and sees the result."""

from __future__ import annotations

import re

from playwright.sync_api import Browser, Dialog, expect

from engine.actors import load_actor
from engine.context import EngineContext
from engine.db import make_engine, make_session_factory, transaction
from engine.definitions import deploy
from tests.browser.conftest import log_in
from tests.engine.test_migration import recheck_bpmn


def _deploy_v2(url: str) -> None:
    engine = make_engine(url)
    ctx = EngineContext.default()
    with transaction(make_session_factory(engine)) as session:
        deploy(session, recheck_bpmn(), load_actor(session, "designer1"), ctx.forms, at=ctx.clock.now())
    engine.dispose()


def test_a_supervisor_dry_runs_reads_the_report_runs_and_sees_the_result(browser_db: str, server: str,
                                                                         browser: Browser) -> None:
    _deploy_v2(browser_db)
    page = log_in(browser, server, "designer1")
    page.goto(f"{server}/definitions/rectification/migrate")
    expect(page.locator("#from_version")).to_have_value("1")
    expect(page.locator("#to_version")).to_have_value("2")
    page.get_by_role("button", name="试运行").click()
    page.wait_for_url(re.compile(r".*/definitions/rectification/migrations/\d+$"))
    expect(page.get_by_role("heading", level=1)).to_contain_text("试运行报告")
    movable = int(page.get_by_test_id("movable").inner_text())
    assert movable > 0
    expect(page.locator("tr.movable")).to_have_count(movable)
    expect(page.locator("tr.movable").first).to_contain_text("✓")

    questions: list[str] = []

    def accept(dialog: Dialog) -> None:
        questions.append(dialog.message)
        dialog.accept()

    page.once("dialog", accept)
    page.get_by_role("button", name="执行迁移").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("迁移结果")
    assert questions == [f"将迁移 {movable} 个实例，确定执行？"]
    expect(page.get_by_test_id("moved")).to_have_text(str(movable))
    expect(page.get_by_test_id("failed")).to_have_text("0")
    expect(page.get_by_role("status").or_(page.locator(".flash-success"))).to_contain_text(
        f"已迁移 {movable} 个实例")
    page.goto(f"{server}/definitions/rectification/migrations")
    expect(page.get_by_test_id("runs").locator("tbody tr")).to_have_count(2)
    page.context.close()
