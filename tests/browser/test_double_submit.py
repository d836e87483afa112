"""A double click on 提交 in a real browser (Playwright, Chromium): the task is completed once, the
case moves one step, and the person lands on the page saying it was submitted — not on an error.

(Chromium folds a second submission of the same form into the navigation still pending; when two posts
do reach the server — another browser, a flaky network — the task form's revision turns the second into a
409 that changes nothing: tests/failure/test_duplicate_submissions.py.)"""

from __future__ import annotations

import json

from playwright.sync_api import Browser, expect
from sqlalchemy import select

from engine.db import make_engine, make_session_factory
from models import AuditEvent, HumanTask, TaskStatus
from tests.browser.conftest import log_in

TASK = "整改（U-HEALTH-01）"  # the demo's 卫健委 item being rectified, offered to unit2


def test_double_clicking_submit_completes_the_task_once(browser_db: str, server: str, browser: Browser) -> None:
    page = log_in(browser, server, "unit2")
    page.goto(f"{server}/tasks?queue=group")
    row = page.get_by_test_id("task-row").filter(has_text=TASK)
    task_id = int(row.get_attribute("data-task-id") or 0)
    row.get_by_role("button", name="签收").click()
    page.wait_for_url(f"{server}/tasks/{task_id}")
    page.get_by_label("已完成", exact=True).check()
    page.fill("#item_progress", "已修订制度并组织培训。")
    posts: list[str] = []
    page.on("request", lambda r: posts.append(r.url) if r.method == "POST" and r.url.endswith("/complete") else None)

    page.get_by_role("button", name="提交", exact=True).dblclick()

    expect(page.locator(".flash")).to_contain_text("已提交，案件进入下一环节")
    engine = make_engine(browser_db)
    try:
        with make_session_factory(engine, read_only=True)() as session:
            task = session.get(HumanTask, task_id)
            assert task is not None and task.status == TaskStatus.COMPLETED
            completions = [json.loads(p)["task_id"] for p in session.execute(select(AuditEvent.payload).where(
                AuditEvent.event_type == "task_completed")).scalars()]
            opened = session.execute(select(HumanTask.id).where(
                HumanTask.instance_id == task.instance_id, HumanTask.created_at >= task.completed_at)).all()
    finally:
        engine.dispose()
    assert completions.count(task_id) == 1
    assert len(opened) == 1, "the case moved on by one step"
    assert 1 <= len(posts) <= 2, posts
