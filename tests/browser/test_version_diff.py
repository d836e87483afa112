"""版本对比 in a real browser: after a supervisor deploys the rectification process with a 复核 step before
销号, the diff page draws both versions, the new task coloured as added on the newer diagram, the step it
now leads to coloured as changed on both, and the change list beneath."""

from __future__ import annotations

import re

from playwright.sync_api import Browser, expect

from engine import versions
from engine.actors import load_actor
from engine.context import EngineContext
from engine.db import make_engine, make_session_factory, transaction
from tests.browser.conftest import log_in
from tests.engine.test_diagram_diff import RECHECK, RECTIFICATION, edit


def test_the_diff_page_colours_an_added_task_and_lists_it(browser_db: str, server: str, browser: Browser) -> None:
    engine = make_engine(browser_db)
    ctx = EngineContext.default()
    with transaction(make_session_factory(engine)) as session:
        designer = load_actor(session, "designer1")
        versions.deploy_version(session, edit(RECTIFICATION, *RECHECK).encode(), designer, ctx.forms,
                                at=ctx.clock.now(), comment="销号前增加复核")
    engine.dispose()

    page = log_in(browser, server, "designer1")
    page.goto(f"{server}/definitions/rectification/versions")
    expect(page.locator("tr[data-version]")).to_have_count(2)
    page.get_by_test_id("compare").get_by_role("button", name="对比").click()
    page.wait_for_url(f"{server}/definitions/rectification/diff?from=1&to=2")

    after = page.get_by_test_id("diagram-after")
    before = page.get_by_test_id("diagram-before")
    expect(after).to_have_attribute("data-rendered", "true")
    expect(before).to_have_attribute("data-rendered", "true")
    expect(after.locator('[data-element-id="recheck_item"]')).to_have_class(_has("xc-added"))
    expect(after.locator('g.djs-element[data-element-id="strike_off_item"]')).to_have_class(_has("xc-changed"))
    expect(before.locator('g.djs-element[data-element-id="strike_off_item"]')).to_have_class(_has("xc-changed"))
    expect(before.locator('[data-element-id="recheck_item"]')).to_have_count(0)
    expect(after.locator('g.djs-element[data-element-id="review_plan"]')).not_to_have_class(_has("xc-changed"))

    summary = page.get_by_test_id("diff-summary")
    expect(summary).to_contain_text("新增 用户任务 复核(recheck_item)")
    expect(summary).to_contain_text("修改 顺序流 通过(flow_item_passed)")
    expect(page.get_by_test_id("legend")).to_contain_text("新增")


def _has(css_class: str) -> re.Pattern[str]:
    """Matches a class attribute holding ``css_class`` among others."""
    return re.compile(rf"(^|\s){re.escape(css_class)}(\s|$)")
