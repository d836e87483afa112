"""巡察规划 in a real browser: the office plans a round with two units and one group (一托N), sees the coverage
matrix change for those units, publishes the 巡察公告 (confirming it), and an anonymous visitor reads it on
/public."""

from __future__ import annotations

from playwright.sync_api import Browser, Page, expect

from tests.browser.conftest import log_in

UNITS = {"U-PW01": "市委办公室（市委工作部门）", "U-GV02": "市发展和改革委员会（市政府组成部门）"}
TITLE = "市委第二巡察组进驻市委办公室巡察公告"


def cell_2026(page: Page, code: str) -> str | None:
    return page.get_by_test_id(f"unit-{code}").locator("td[data-year='2026']").get_attribute("data-state")


def test_office_plans_a_round_sees_coverage_change_and_the_public_reads_the_announcement(
        server: str, browser: Browser) -> None:
    office = log_in(browser, server, "office1")
    office.goto(f"{server}/planning")
    office.get_by_role("link", name="市委第九届巡察规划（2022—2026年）").click()
    expect(office.get_by_test_id("pace-warning")).to_be_visible()
    plan_url = office.url

    office.get_by_test_id("coverage-link").click()
    office.fill("input[name=q]", "市委办公室")
    office.get_by_role("button", name="筛选").click()
    assert cell_2026(office, "U-PW01") == ""

    office.goto(plan_url)
    form = office.get_by_test_id("new-round")
    form.locator("input[name=year]").fill("2026")
    form.locator("input[name=name]").fill("2026年第三轮专项巡察")
    form.locator("select[name=kind]").select_option("专项")
    form.locator("select[name=method]").select_option("一托N")
    form.locator("input[name=starts_on]").fill("2026-12-01")
    form.locator("input[name=ends_on]").fill("2026-12-25")
    form.get_by_role("button", name="新建轮次").click()
    expect(office.get_by_role("heading", name="2026年第三轮专项巡察")).to_be_visible()
    round_url = office.url

    add = office.get_by_test_id("add-inspections")
    add.locator("select[name=unit_id]").select_option(label=list(UNITS.values()))
    add.locator("select[name=team_id]").select_option(label="市委第二巡察组")
    add.locator("input[name=contact_phone]").fill("0000-5551234")
    add.locator("input[name=contact_mailbox]").fill("某市邮政信箱 066 号")
    add.locator("input[name=contact_address]").fill("某市解放路 6 号")
    add.get_by_role("button", name="安排").click()
    for code in UNITS:
        expect(office.get_by_test_id(f"inspection-{code}")).to_contain_text("市委第二巡察组")

    office.goto(plan_url)
    office.get_by_test_id("coverage-link").click()
    office.fill("input[name=q]", "市委办公室")
    office.get_by_role("button", name="筛选").click()
    assert cell_2026(office, "U-PW01") in ("scheduled", "done")

    office.goto(round_url)
    office.get_by_test_id("announce-U-PW01").click()
    publish = office.get_by_test_id("publish-form")
    expect(publish.locator("input[name=contact_phone]")).to_have_value("0000-5551234")
    expect(publish.locator("input[name=period_start]")).to_have_value("2026-12-01")
    publish.locator("input[name=title]").fill(TITLE)
    asked: list[str] = []
    office.once("dialog", lambda dialog: (asked.append(dialog.message), dialog.accept()))
    publish.get_by_test_id("publish").click()
    expect(office.get_by_test_id("publications")).to_contain_text(TITLE)
    assert asked and "公开" in asked[0]

    visitor = browser.new_context(locale="zh-CN").new_page()
    visitor.goto(f"{server}/public")
    article = visitor.get_by_test_id("publication").filter(has_text=TITLE)
    expect(article).to_contain_text("0000-5551234")
    expect(article).to_contain_text("某市解放路 6 号")
    expect(visitor.get_by_role("link", name="登录")).to_be_visible()
    visitor.context.close()
    office.context.close()
