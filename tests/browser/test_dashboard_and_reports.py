"""In the browser: the office sees the dashboard's charts drawn from the locally bundled ECharts, generates
the 督查通报 and downloads the PDF; the organisation department runs a 凡提必用 lookup."""

from __future__ import annotations

from playwright.sync_api import Browser, expect

from tests.browser.conftest import log_in


def test_the_office_sees_the_charts_and_downloads_a_generated_bulletin(server: str, browser: Browser, tmp_path):
    page = log_in(browser, server, "office1")
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url))

    page.goto(f"{server}/dashboard")
    charts = page.locator("[data-chart]")
    expect(charts).to_have_count(6)
    for index in range(6):
        expect(charts.nth(index)).to_have_attribute("data-rendered", "true")
        expect(charts.nth(index).locator("canvas")).to_have_count(1)
    assert all(url.startswith(server) for url in requests), "everything is served by the app itself (no CDN)"

    page.goto(f"{server}/reports")
    page.select_option("select[name=kind]", "bulletin")
    page.click("form[action$='/reports'] button[type=submit]")
    expect(page.locator(".flashes, .flash").first).to_contain_text("督查通报")
    with page.expect_download() as download_info:
        page.locator("a[href$='.pdf']").first.click()
    path = tmp_path / "bulletin.pdf"
    download_info.value.save_as(path)
    assert path.read_bytes().startswith(b"%PDF")
    page.context.close()


def test_the_organisation_department_runs_a_promotion_check(server: str, browser: Browser):
    page = log_in(browser, server, "zzb1")
    page.goto(f"{server}/promotion-checks")
    page.check("input[name=kind][value=unit]")
    page.select_option("select[name=unit_code]", "U-EDU")
    page.click("main form.card button[type=submit]")
    result = page.get_by_test_id("promotion-result")
    expect(result).to_be_visible()
    expect(result).to_contain_text("凡提必用查询结果")
    expect(page.locator("[data-print]")).to_be_visible()
    page.context.close()
