"""组待办 in a real browser: a unit liaison takes a task from the group queue, makes one mistake on its
form, fixes it and completes it, and the task leaves the queues; a colleague of the same unit, in a
second browser context, watches the task leave the group queue and sees who holds it."""

from __future__ import annotations

from playwright.sync_api import Browser, Locator, Page, expect

from engine.db import make_engine, make_session_factory
from tests.browser.conftest import log_in
from tests.helpers import add_user

TASK, OTHER_ITEM = "整改（U-HEALTH-01）", "整改（U-HEALTH-02）"  # the demo's 卫健委 items being rectified
HOLDER = "卫健委联络员 吴刚"  # unit2


def queue_row(page: Page, task_name: str) -> Locator:
    return page.get_by_test_id("task-row").filter(has_text=task_name)


def fact(page: Page, term: str) -> Locator:
    """The value beside ``term`` in the task page's facts (状态, 办理人, …)."""
    return page.locator("dl.facts > dt", has_text=term).locator("xpath=following-sibling::dd[1]")


def test_a_liaison_claims_from_the_group_queue_fixes_a_mistake_and_completes(
        browser_db: str, server: str, browser: Browser) -> None:
    engine = make_engine(browser_db)
    add_user(make_session_factory(engine), "unit2b", "U-HEALTH", "unit", display_name="卫健委联络员 冯云")
    engine.dispose()
    liaison, colleague = log_in(browser, server, "unit2"), log_in(browser, server, "unit2b")
    group_queue = f"{server}/tasks?queue=group"

    # Before the claim, both liaisons of the unit are offered the item.
    colleague.goto(group_queue)
    expect(queue_row(colleague, TASK)).to_have_count(1)
    liaison.goto(group_queue)
    row = queue_row(liaison, TASK)
    expect(row).to_have_count(1)
    task_id = row.get_attribute("data-task-id")
    assert task_id and task_id.isdigit()

    row.get_by_role("button", name="签收").click()
    liaison.wait_for_url(f"{server}/tasks/{task_id}")
    expect(liaison.locator(".flash")).to_contain_text("已签收，请办理。")
    expect(fact(liaison, "办理人")).to_have_text(HOLDER)

    # The colleague's group queue no longer offers it; its page says who holds it and offers nothing to do.
    colleague.reload()
    expect(queue_row(colleague, TASK)).to_have_count(0)
    expect(queue_row(colleague, OTHER_ITEM)).to_have_count(1)
    colleague.goto(f"{server}/tasks/{task_id}")
    expect(fact(colleague, "办理人")).to_have_text(HOLDER)
    expect(colleague.get_by_role("button", name="签收")).to_have_count(0)
    expect(colleague.locator("form.task-form")).to_have_count(0)
    expect(colleague.locator("body")).to_contain_text("您可查看但不能提交")

    # One mistake: 整改进展 (required) left empty. The server says so beside that field, in Chinese, and
    # keeps what was entered in the others.
    liaison.get_by_label("已完成", exact=True).check()
    liaison.fill("textarea[name=evidence_note]", "制度文件 1 份")
    liaison.get_by_role("button", name="提交", exact=True).click()
    progress = liaison.locator(".field", has=liaison.locator("#item_progress"))
    expect(progress.locator(".field-error")).to_contain_text("此项为必填项")
    expect(liaison.locator(".field-error")).to_have_count(1)
    expect(liaison.get_by_role("alert").first).to_contain_text("表单有错误")
    expect(liaison.get_by_label("已完成", exact=True)).to_be_checked()
    expect(liaison.locator("textarea[name=evidence_note]")).to_have_value("制度文件 1 份")
    expect(fact(liaison, "状态")).to_have_text("待办")

    liaison.fill("#item_progress", "已修订“三会一课”制度并组织专题培训。")
    liaison.get_by_role("button", name="提交", exact=True).click()
    expect(liaison.locator(".flash")).to_contain_text("已提交，案件进入下一环节")

    # Gone from 我的待办 and from 组待办, for both; the other item still waits in the group queue.
    liaison.goto(f"{server}/tasks?queue=mine")
    expect(liaison.get_by_role("heading", name="我的待办")).to_be_visible()
    expect(queue_row(liaison, TASK)).to_have_count(0)
    for page in (liaison, colleague):
        page.goto(group_queue)
        expect(queue_row(page, OTHER_ITEM)).to_have_count(1)
        expect(queue_row(page, TASK)).to_have_count(0)
    colleague.goto(f"{server}/tasks/{task_id}")
    expect(fact(colleague, "状态")).to_have_text("已办")
    expect(fact(colleague, "办理人")).to_have_text(HOLDER)
