"""The bundles speak the reader's language: for designer1 set to English, the modeler's 巡察 panel and a new
diagram read in English (src/_i18n.js looks the Chinese up by <html lang>)."""

from __future__ import annotations

from playwright.sync_api import Browser, expect
from sqlalchemy import select

from engine.db import make_engine, make_session_factory, transaction
from models import User
from tests.browser.conftest import log_in
from tests.browser.test_modeler import KEY, deploy_memo, open_modeler


def _english(browser_db: str, username: str) -> None:
    engine = make_engine(browser_db)
    with transaction(make_session_factory(engine)) as session:
        session.execute(select(User).where(User.username == username)).scalar_one().locale = "en"
    engine.dispose()


def test_an_english_designer_reads_the_modelers_panel_and_a_new_diagram_in_english(
        browser_db: str, server: str, browser: Browser) -> None:
    deploy_memo(browser_db)
    _english(browser_db, "designer1")
    page = log_in(browser, server, "designer1")
    page.set_viewport_size({"width": 1500, "height": 950})
    open_modeler(page, f"{server}/designer/{KEY}")
    assert page.evaluate("document.documentElement.lang") == "en"

    page.evaluate("""() => window.xunchaModeler.get('selection')
        .select(window.xunchaModeler.get('elementRegistry').get('Lane_leading'))""")
    panel = page.get_by_test_id("properties-panel")
    expect(panel).to_contain_text("Tasks in this lane go to this group.")
    expect(panel).not_to_contain_text("泳道中的任务交给这个用户组办理")

    open_modeler(page, f"{server}/designer/new")
    names = page.evaluate("""() => window.xunchaModeler.get('elementRegistry')
        .filter(e => e.businessObject && e.businessObject.name).map(e => e.businessObject.name)""")
    assert "New process" in names and "新流程" not in names
