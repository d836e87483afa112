"""The foundation's acceptance path, in a real browser: a unit liaison takes the rectification task
反馈 from the group queue, submits it (once with a mistake), and sees the case move on to 整改方案."""

from __future__ import annotations

from playwright.sync_api import Browser, expect

from tests.browser.conftest import log_in


def test_unit_liaison_submits_feedback_and_the_case_moves_on(server: str, browser: Browser) -> None:
    page = log_in(browser, server, "unit1")
    page.goto(f"{server}/tasks?queue=group")
    row = page.locator("tr", has_text="市教育局").filter(has_text="反馈")
    expect(row).to_have_count(1)
    row.get_by_role("link", name="反馈").click()
    expect(page.get_by_role("heading", name="反馈").first).to_be_visible()

    # A mistake the browser lets through (the server is the judge): a missing required date is
    # blocked by the browser, so remove the 'required' hint and send it empty.
    page.eval_on_selector("input[name=feedback_received_on]", "el => el.removeAttribute('required')")
    page.get_by_role("button", name="提交", exact=True).click()
    expect(page.locator(".field-error")).to_contain_text("此项为必填项")

    page.fill("input[name=feedback_received_on]", "2026-11-20")
    page.fill("textarea[name=feedback_meeting_note]", "已召开巡察反馈会议。")
    page.get_by_role("button", name="提交", exact=True).click()
    expect(page.locator("body")).to_contain_text("已提交，案件进入下一环节")
    expect(page.locator("section", has_text="当前环节")).to_contain_text("整改方案")

    # Another browser session sees the same: 反馈 has left the group queue.
    other = log_in(browser, server, "unit1")
    other.goto(f"{server}/tasks?queue=group")
    expect(other.locator("tr", has_text="市教育局").filter(has_text="反馈")).to_have_count(0)


def test_a_unit_liaison_never_sees_a_clue(server: str, browser: Browser) -> None:
    page = log_in(browser, server, "unit1")
    page.goto(f"{server}/cases?kind=clue")
    expect(page.locator("body")).to_contain_text("没有可查看的问题线索案件")
    for case_id in range(1, 5):
        response = page.goto(f"{server}/cases/{case_id}")
        assert response is not None and response.status == 404
