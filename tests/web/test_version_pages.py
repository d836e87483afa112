"""流程版本 pages: the versions list, one version's diagram, marking a version current, rolling back and
comparing two versions. Supervisors act; other users read."""

from __future__ import annotations

import json
import re

from flask.testing import FlaskClient
from sqlalchemy import delete
from sqlalchemy.orm import Session, sessionmaker

from engine import versions
from engine.context import EngineContext
from engine.db import transaction
from engine.demo import Demo
from models import Group
from tests.helpers import simple_bpmn
from tests.web.helpers import bpmn_upload, login


def memo(n: int) -> bytes:
    return simple_bpmn("memo", name="备忘流程", task_name=f"办理{n}")


def _deploy(factory: sessionmaker[Session], ctx: EngineContext, demo: Demo, *xmls: bytes) -> None:
    for xml in xmls:
        with transaction(factory) as s:
            versions.deploy_version(s, xml, demo.actor("designer1"), ctx.forms, at=ctx.clock.now(), comment="说明")


def _current(factory: sessionmaker[Session]) -> int:
    with transaction(factory) as s:
        return versions.current_definition(s, "memo").version


def _rows(html: str) -> list[str]:
    return re.findall(r'<tr data-version="(\d+)"', html)


def test_the_list_links_to_versions_and_to_the_designer_for_supervisors(client: FlaskClient) -> None:
    login(client, "designer1")
    html = client.get("/definitions").get_data(as_text=True)
    assert 'href="/definitions/rectification/versions"' in html
    assert 'href="/designer/new"' in html and 'href="/designer/forms"' in html
    assert 'name="make_current"' in html


def test_readers_see_versions_without_actions_or_case_counts(client: FlaskClient, factory, ctx, demo) -> None:
    _deploy(factory, ctx, demo, memo(1), memo(2))
    login(client, "unit1")
    assert 'href="/designer/new"' not in client.get("/definitions").get_data(as_text=True)
    html = client.get("/definitions/memo/versions").get_data(as_text=True)
    assert _rows(html) == ["2", "1"]
    assert "设为当前版本" not in html and "回滚到此版本" not in html and "运行中案件" not in html
    assert "/designer/memo?version=1" not in html and "迁移实例" not in html
    assert "/definitions/memo/versions/1/bpmn" in html and "/definitions/memo/versions/1\"" in html


def test_supervisors_see_who_deployed_the_current_badge_and_the_actions(client: FlaskClient, factory, ctx,
                                                                         demo) -> None:
    _deploy(factory, ctx, demo, memo(1), memo(2))
    login(client, "designer1")
    html = client.get("/definitions/memo/versions").get_data(as_text=True)
    assert _rows(html) == ["2", "1"]
    assert html.count('data-testid="current-badge"') == 1
    assert "运行中案件" in html and "回滚到此版本" in html and "设为当前版本" in html
    assert 'href="/designer/memo?version=1"' in html and 'href="/definitions/memo/migrate"' in html
    assert 'data-confirm="将第 1 版设为当前版本？' in html
    assert demo.users["designer1"].display_name in html


def test_unknown_process_versions_are_not_found(client: FlaskClient) -> None:
    login(client, "designer1")
    assert client.get("/definitions/no_such/versions").status_code == 404
    assert client.get("/definitions/rectification/versions/9").status_code == 404
    assert client.get("/definitions/rectification/diff?from=1&to=9").status_code == 404


def test_the_version_page_shows_the_read_only_viewer(client: FlaskClient) -> None:
    login(client, "unit1")
    html = client.get("/definitions/rectification/versions/1").get_data(as_text=True)
    assert 'data-bpmn-viewer' in html and 'data-xml-url="/definitions/rectification/versions/1/bpmn"' in html
    assert "build/viewer.js" in html and "当前版本" in html


def test_a_supervisor_marks_an_older_version_current(client: FlaskClient, factory, ctx, demo) -> None:
    _deploy(factory, ctx, demo, memo(1), memo(2))
    login(client, "designer1")
    response = client.post("/definitions/memo/release", data={"version": "1"}, follow_redirects=True)
    assert response.status_code == 200
    assert "新建案件将使用第 1 版" in response.get_data(as_text=True)
    assert _current(factory) == 1


def test_others_may_not_mark_a_version_current(client: FlaskClient, factory, ctx, demo) -> None:
    _deploy(factory, ctx, demo, memo(1), memo(2))
    login(client, "office1")
    assert client.post("/definitions/memo/release", data={"version": "1"}).status_code == 403
    assert client.post("/definitions/memo/rollback", data={"version": "1"}).status_code == 403
    assert _current(factory) == 2


def test_releasing_an_unknown_version_is_not_found(client: FlaskClient, factory, ctx, demo) -> None:
    _deploy(factory, ctx, demo, memo(1))
    login(client, "designer1")
    assert client.post("/definitions/memo/release", data={"version": "5"}).status_code == 404
    response = client.post("/definitions/memo/release", data={"version": "x"}, follow_redirects=True)
    assert "请选择版本" in response.get_data(as_text=True)


def test_a_supervisor_rolls_back_with_a_reason(client: FlaskClient, factory, ctx, demo) -> None:
    _deploy(factory, ctx, demo, memo(1), memo(2))
    login(client, "designer1")
    response = client.post("/definitions/memo/rollback", data={"version": "1", "comment": "第2版有误"},
                           follow_redirects=True)
    html = response.get_data(as_text=True)
    assert "已回滚：第 3 版沿用第 1 版的内容" in html
    assert _rows(html) == ["3", "2", "1"] and "第2版有误" in html
    assert _current(factory) == 3


def test_rolling_back_to_the_newest_content_is_refused_with_a_message(client: FlaskClient, factory, ctx,
                                                                      demo) -> None:
    _deploy(factory, ctx, demo, memo(1), memo(2))
    login(client, "designer1")
    html = client.post("/definitions/memo/rollback", data={"version": "2"}, follow_redirects=True).get_data(
        as_text=True)
    assert "与最新版本内容相同" in html
    assert _rows(html) == ["2", "1"]


def test_upload_without_make_current_keeps_new_cases_on_the_current_version(client: FlaskClient, factory, ctx,
                                                                           demo) -> None:
    _deploy(factory, ctx, demo, memo(1))
    login(client, "designer1")
    response = client.post("/definitions", data={"file": bpmn_upload(memo(2)), "make_current": "0"},
                           content_type="multipart/form-data")
    assert response.status_code == 200 and "第 2 版" in response.get_data(as_text=True)
    assert _current(factory) == 1
    client.post("/definitions", data={"file": bpmn_upload(memo(3)), "make_current": ["0", "1"]},
                content_type="multipart/form-data")
    assert _current(factory) == 3


def test_the_diff_page_marks_both_diagrams_and_lists_the_changes(client: FlaskClient, factory, ctx, demo) -> None:
    _deploy(factory, ctx, demo, memo(1), simple_bpmn("memo", name="备忘流程", task_name="办理1", task_id="check"))
    login(client, "unit1")
    html = client.get("/definitions/memo/diff?from=1&to=2").get_data(as_text=True)
    before = json.loads(re.search(r'data-testid="diagram-before"[^>]*data-marks=\'([^\']*)\'', html, re.S)[1])
    after = json.loads(re.search(r'data-testid="diagram-after"[^>]*data-marks=\'([^\']*)\'', html, re.S)[1])
    assert before == {"handle": "removed", "f1": "changed", "f2": "changed"}
    assert after == {"check": "added", "f1": "changed", "f2": "changed"}
    assert "新增 用户任务 办理1(check)" in html and "删除 用户任务 办理1(handle)" in html
    assert "仅移动位置（不着色）" in html


def test_the_diff_page_defaults_to_the_newest_against_the_one_before(client: FlaskClient, factory, ctx,
                                                                     demo) -> None:
    _deploy(factory, ctx, demo, memo(1), memo(2))
    login(client, "designer1")
    html = client.get("/definitions/memo/diff").get_data(as_text=True)
    assert "第 1 版 → 第 2 版" in html
    assert "名称 “办理1”→“办理2”" in html
    assert client.get("/definitions/memo/diff?from=abc").status_code == 400


def test_english_readers_get_the_versions_and_the_diff_in_english(client: FlaskClient, factory, ctx, demo) -> None:
    _deploy(factory, ctx, demo, memo(1), memo(2))
    login(client, "designer1")
    client.post("/locale", data={"locale": "en"})
    html = client.get("/definitions/memo/versions").get_data(as_text=True)
    assert "Make current" in html and "Roll back to this version" in html and "Running cases" in html
    html = client.get("/definitions/memo/diff?from=1&to=2").get_data(as_text=True)
    assert "Changed user task 办理2 (handle): name &#39;办理1&#39; → &#39;办理2&#39;" in html
    assert "Moved only (not coloured)" in html
    html = client.post("/definitions/memo/release", data={"version": "1"}, follow_redirects=True).get_data(
        as_text=True)
    assert "New cases will start on version 1." in html


def test_the_list_says_when_new_cases_start_on_an_older_version(client: FlaskClient, factory, ctx, demo) -> None:
    _deploy(factory, ctx, demo, memo(1), memo(2))
    login(client, "unit1")
    assert 'data-testid="pinned"' not in client.get("/definitions").get_data(as_text=True)
    with transaction(factory) as s:
        versions.release(s, demo.actor("designer1"), "memo", 1, at=ctx.clock.now())
    html = client.get("/definitions").get_data(as_text=True)
    assert html.count('data-testid="pinned"') == 1 and "新建案件使用第 1 版" in html


def test_a_roll_back_that_no_longer_validates_shows_the_problems(client: FlaskClient, factory, ctx, demo) -> None:
    with transaction(factory) as s:
        s.add(Group(key="temp_team", name="临时专班"))
    _deploy(factory, ctx, demo, simple_bpmn("memo", lane="temp_team", lane_id="Lane_temp"), memo(2))
    with transaction(factory) as s:
        s.execute(delete(Group).where(Group.key == "temp_team"))
    login(client, "designer1")
    html = client.post("/definitions/memo/rollback", data={"version": "1"}, follow_redirects=True).get_data(
        as_text=True)
    assert "流程定义有" in html and "泳道“temp_team”没有对应的用户组" in html
    assert _rows(html) == ["2", "1"]
