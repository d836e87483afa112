"""流程图 in a real browser: the 巡察办 opens the demo's 卫健委 rectification (plan approved, items being
rectified) and sees the diagram drawn with the per-item task current and the finished plan steps done,
the note "2 项在此" under the current task, and a history entry that highlights its element when clicked."""

from __future__ import annotations

import re
from pathlib import Path

from playwright.sync_api import Browser, expect
from sqlalchemy import select

from engine.db import make_engine, make_session_factory
from models import Organisation, ProcessInstance
from tests.browser.conftest import log_in

CURRENT, DONE, FOCUS = (re.compile(rf"\bxc-{mark}\b") for mark in ("current", "done", "focus"))


def _health_rectification(db_url: str) -> int:
    engine = make_engine(db_url)
    try:
        with make_session_factory(engine)() as session:
            path = session.execute(select(Organisation.path).where(Organisation.code == "U-HEALTH")).scalar_one()
            return int(session.execute(select(ProcessInstance.id).where(
                ProcessInstance.case_kind == "rectification", ProcessInstance.unit_path == path)).scalar_one())
    finally:
        engine.dispose()


def element(page, element_id: str):  # type: ignore[no-untyped-def]
    return page.locator(f'#instance-diagram g.djs-element[data-element-id="{element_id}"]')


def test_the_office_sees_where_a_rectification_stands_on_its_diagram(
        browser_db: str, server: str, browser: Browser, tmp_path: Path) -> None:
    instance_id = _health_rectification(browser_db)
    page = log_in(browser, server, "office1")
    page.set_viewport_size({"width": 1400, "height": 1000})
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))

    page.goto(f"{server}/cases/{instance_id}")
    page.get_by_test_id("diagram-link").click()
    page.wait_for_url(f"{server}/cases/{instance_id}/diagram")
    expect(page.locator("#instance-diagram[data-rendered=true]")).to_have_count(1)

    expect(element(page, "rectify_item")).to_have_class(CURRENT)
    expect(element(page, "rectify_items")).to_have_class(CURRENT)
    for done in ("receive_feedback", "draft_plan", "review_plan", "gw_plan", "flow_plan_approved"):
        expect(element(page, done)).to_have_class(DONE)
    expect(element(page, "rectification_report")).not_to_have_class(re.compile(r"\bxc-(done|current)\b"))
    expect(page.locator("#instance-diagram .xc-note", has_text="2 项在此")).to_have_count(1)

    # A history entry highlights its element (and only that one).
    page.locator('.diagram-history button[data-highlight-element="draft_plan"]').first.click()
    expect(element(page, "draft_plan")).to_have_class(FOCUS)
    expect(page.locator("#instance-diagram .xc-focus")).to_have_count(1)
    page.locator('.diagram-history button[data-highlight-element="review_plan"]').first.click()
    expect(element(page, "review_plan")).to_have_class(FOCUS)
    expect(page.locator("#instance-diagram .xc-focus")).to_have_count(1)

    page.screenshot(path=str(tmp_path / "instance-viewer.png"), full_page=True)
    assert errors == []


def test_a_unit_liaison_cannot_open_a_clue_diagram(browser_db: str, server: str, browser: Browser) -> None:
    engine = make_engine(browser_db)
    try:
        with make_session_factory(engine)() as session:
            clue_id = session.execute(select(ProcessInstance.id).where(ProcessInstance.case_kind == "clue")
                                      .limit(1)).scalar_one()
    finally:
        engine.dispose()
    page = log_in(browser, server, "unit1")
    response = page.goto(f"{server}/cases/{clue_id}/diagram")
    assert response is not None and response.status == 404
    expect(page.locator("[data-bpmn-viewer]")).to_have_count(0)
