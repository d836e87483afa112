"""The form editor in a real browser: a supervisor builds a form with two fields in the field list, sees the
live preview (the task pages' own rendering) follow each change and show the errors of broken JSON, saves
it and finds it in the form library as name@1."""

from __future__ import annotations

import json

from playwright.sync_api import Browser, Page, expect

from tests.browser.conftest import log_in


def field_row(page: Page, index: int):  # type: ignore[no-untyped-def]
    return page.locator("[data-field-list] > li").nth(index)


def test_a_supervisor_builds_a_form_sees_the_preview_follow_and_saves_it(server: str, browser: Browser) -> None:
    page = log_in(browser, server, "designer1")
    refused: list[str] = []
    page.on("console", lambda m: refused.append(m.text) if "Content Security Policy" in m.text else None)
    page.goto(f"{server}/designer/forms/new")
    preview = page.locator("[data-form-preview]")
    expect(preview).to_contain_text("还没有字段")

    page.fill("#name", "rect_recheck")
    page.fill("#title", "整改复查")
    page.get_by_role("button", name="添加字段").click()
    first = field_row(page, 0)
    first.locator('[data-role="title"]').fill("复查结论")
    first.locator('[data-role="kind"]').select_option("textarea")
    first.locator('[data-role="required"]').check()
    expect(preview.locator("textarea#field_1")).to_be_visible()
    expect(preview.locator("label[for=field_1]")).to_contain_text("复查结论")
    expect(first.locator('[data-role="options"]')).to_be_hidden()  # only choices have options

    page.get_by_role("button", name="添加字段").click()
    second = field_row(page, 1)
    second.locator('[data-role="name"]').fill("passed")
    second.locator('[data-role="title"]').fill("是否通过")
    second.locator('[data-role="kind"]').select_option("select")
    expect(second.locator('[data-role="options"]')).to_be_visible()
    second.locator('[data-role="options"]').fill("通过\n不通过")
    expect(preview.locator('input[type=radio][name=passed][value="不通过"]')).to_have_count(1)

    # The JSON followed the builder; broken JSON shows its error in place of the preview.
    schema = json.loads(page.input_value("#schema"))
    assert schema["required"] == ["field_1"] and schema["properties"]["passed"]["enum"] == ["通过", "不通过"]
    assert json.loads(page.input_value("#ui_schema")) == {"field_1": {"ui:widget": "textarea"}}
    good = page.input_value("#schema")
    page.fill("#schema", good[:-3])
    expect(preview.locator('[data-preview-state="invalid"]')).to_contain_text("JSON")
    expect(page.locator("[data-builder-note]")).to_be_visible()
    page.fill("#schema", good)
    expect(preview.locator('[data-preview-state="ok"] textarea#field_1')).to_be_visible()

    page.fill("#comment", "第一版")
    page.get_by_role("button", name="保存为第 1 版").click()
    page.wait_for_url(f"{server}/designer/forms/rect_recheck")
    expect(page.locator(".flash")).to_contain_text("已保存表单 rect_recheck 第 1 版")
    expect(page.get_by_test_id("versions")).to_contain_text("rect_recheck@1")

    page.goto(f"{server}/designer/forms?q=复查")
    listed = page.get_by_test_id("form-list")
    expect(listed).to_contain_text("rect_recheck@1")
    expect(listed).to_contain_text("整改复查")
    assert refused == []
