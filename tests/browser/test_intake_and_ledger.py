"""三位一体 intake and the shared ledger in a real browser: the inspection group enters two feedback
problems and a clue in the grids, the unit finds the problems on its 整改台账 (and no clue), and the
office downloads the ledger as a workbook."""

from __future__ import annotations

from pathlib import Path

import pytest
from openpyxl import load_workbook
from playwright.sync_api import Browser, expect
from sqlalchemy import select

from engine.db import make_engine, make_session_factory, transaction
from models import Inspection, Organisation
from tests.browser.conftest import log_in
from tests.helpers import add_user


@pytest.fixture
def sasac(browser_db: str) -> int:
    """A third unit visited by the first group in the demo round, with a liaison ``unit3``; returns the
    inspection id."""
    engine = make_engine(browser_db)
    factory = make_session_factory(engine)
    with transaction(factory) as session:
        orgs = {o.code: o for o in session.execute(select(Organisation)).scalars()}
        round_id = session.execute(select(Inspection.round_id).where(
            Inspection.unit_id == orgs["U-EDU"].id).order_by(Inspection.round_id.desc())).scalars().first()
        assert round_id is not None
        inspection = Inspection(round_id=round_id, unit_id=orgs["U-SASAC"].id, team_id=orgs["TEAM1"].id)
        session.add(inspection)
        session.flush()
        inspection_id = inspection.id
    add_user(factory, "unit3", "U-SASAC", "unit")
    engine.dispose()
    return inspection_id


def test_group_enters_findings_the_unit_sees_its_ledger_the_office_exports_it_and_the_unit_reimports_it(
        sasac: int, server: str, browser: Browser, tmp_path: Path) -> None:
    page = log_in(browser, server, "group1")
    page.on("dialog", lambda dialog: dialog.accept())
    page.goto(f"{server}/intake/{sasac}")
    expect(page.get_by_role("heading", name="市国有资产监督管理委员会 · 巡察成果录入")).to_be_visible()

    page.fill("input[name=rows-1-number]", "XS-B-001")
    page.fill("input[name=rows-1-person_name]", "赵某")
    page.fill("input[name=rows-1-person_post]", "处长")
    page.fill("input[name=rows-1-summary]", "反映在国企改制中违规决策。")
    page.fill("input[name=rows-1-receiving_body]", "市纪委监委")
    page.get_by_role("button", name="提交并移交线索").click()
    expect(page.locator(".flash-success")).to_contain_text("已移交 1 条问题线索")

    findings = page.locator("table[data-grid=findings]")
    findings.locator("input[name=rows-1-description]").fill("国有资产监管责任落实不到位。")
    page.locator("button[data-grid-add=findings]").click()
    findings.locator("input[name=rows-3-description]").fill("“三重一大”决策制度执行不严格。")
    page.get_by_role("button", name="提交反馈问题").click()
    expect(page.locator(".flash-success")).to_contain_text("整改已启动")
    expect(page.locator("body")).to_contain_text("该次巡察的整改已启动")

    unit = log_in(browser, server, "unit3")
    unit.goto(f"{server}/ledgers")
    unit.get_by_role("link", name="市国有资产监督管理委员会巡察整改台账").click()
    ledger = unit.locator("[data-testid=ledger]")
    expect(ledger).to_contain_text("国有资产监管责任落实不到位。")
    expect(ledger).to_contain_text("“三重一大”决策制度执行不严格。")
    unit.goto(f"{server}/ledgers/clues")
    expect(unit.locator("body")).not_to_contain_text("赵某")
    assert unit.goto(f"{server}/intake/{sasac}").status == 404  # type: ignore[union-attr]

    office = log_in(browser, server, "office1")
    office.goto(f"{server}/ledgers")
    office.get_by_role("link", name="市国有资产监督管理委员会巡察整改台账").click()
    with office.expect_download() as download:
        office.get_by_test_id("export-ledger").click()
    saved = tmp_path / "ledger.xlsx"
    download.value.save_as(saved)
    assert download.value.suggested_filename.endswith(".xlsx")
    sheet = load_workbook(saved)["整改台账"]
    assert sheet["A1"].value == "市国有资产监督管理委员会巡察整改台账"
    assert [sheet.cell(row, 4).value for row in (5, 6)] == ["国有资产监管责任落实不到位。",
                                                            "“三重一大”决策制度执行不严格。"]

    # The unit fills in its measures in the exported sheet and imports it back: preview, confirm, done.
    workbook = load_workbook(saved)
    workbook["整改台账"].cell(5, 6, "建立国有资产监管责任清单")  # 整改措施 of the first item
    edited = tmp_path / "ledger-edited.xlsx"
    workbook.save(edited)
    unit.on("dialog", lambda dialog: dialog.accept())
    unit.goto(f"{server}/ledgers")
    unit.get_by_role("link", name="市国有资产监督管理委员会巡察整改台账").click()
    unit.set_input_files("input[type=file][name=file]", str(edited))
    unit.get_by_role("button", name="预览导入").click()
    expect(unit.get_by_test_id("import-preview")).to_contain_text("建立国有资产监管责任清单")
    unit.get_by_role("button", name="确认导入").click()
    expect(unit.locator("[data-testid=ledger]")).to_contain_text("建立国有资产监管责任清单")
