"""版本迁移 pages and API: choose versions, dry-run, read the report, run it, read past runs — supervisors only."""

from __future__ import annotations

import re
from typing import Any

import pytest
from click.testing import CliRunner
from flask.testing import FlaskClient

from tests.engine.test_migration import deploy_xml, recheck_bpmn, to_items, version_of, without_verify_bpmn
from tests.helpers import RECTIFIED, act, open_rectification
from tests.web.helpers import Api, login
from web.cli import cli
from web.migration import routes as migration_routes


@pytest.fixture
def cases(factory, ctx, demo) -> dict[str, int]:  # type: ignore[no-untyped-def]
    """Two cases on v1 — one before its items, one inside them — and v2 (with 复核) deployed and current."""
    found = {"early": open_rectification(factory, ctx, demo, problems=1), "items": to_items(factory, ctx, demo, 2)}
    deploy_xml(factory, ctx, recheck_bpmn())
    return found


def _dry_run(client: FlaskClient, frm: int = 1, to: int = 2) -> str:
    response = client.post("/definitions/rectification/migrate",
                           data={"from_version": frm, "to_version": to, "dry_run": "1"})
    assert response.status_code == 302, response.get_data(as_text=True)
    location: str = response.headers["Location"]
    assert re.search(r"/definitions/rectification/migrations/\d+$", location)
    return location


def test_the_form_defaults_to_moving_the_version_with_running_cases_to_the_current_one(client, cases):
    login(client, "designer1")
    html = client.get("/definitions/rectification/migrate").get_data(as_text=True)
    assert re.search(r'<option value="1" selected>第 1 版（2 个运行中）', html)
    assert re.search(r'<option value="2" selected>第 2 版（当前）', html)
    assert "试运行" in html and 'name="csrf_token"' in html


def test_a_dry_run_shows_each_case_movable_and_changes_nothing(client, factory, cases):
    login(client, "designer1")
    html = client.get(_dry_run(client)).get_data(as_text=True)
    assert "试运行报告" in html
    for iid in cases.values():
        assert f'data-testid="instance-{iid}" class="movable"' in html
    assert "<code>rectify_item</code>" in html and "<code>receive_feedback</code>" in html  # their current tasks
    assert 'data-confirm="将迁移 2 个实例，确定执行？"' in html and "执行迁移" in html
    assert all(version_of(factory, iid) == 1 for iid in cases.values())


def test_running_the_migration_moves_the_cases_and_shows_the_result(client, factory, cases):
    login(client, "designer1")
    client.get(_dry_run(client))
    response = client.post("/definitions/rectification/migrate",
                           data={"from_version": "1", "to_version": "2", "dry_run": "0"}, follow_redirects=True)
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and "迁移结果" in html and "已迁移 2 个实例" in html
    assert '<dd data-testid="moved">2</dd>' in html and "执行迁移" not in html
    assert all(version_of(factory, iid) == 2 for iid in cases.values())
    history = client.get("/definitions/rectification/migrations").get_data(as_text=True)
    assert history.count("1 → 2") == 2 and "试运行" in history and "designer1" in history


def test_the_report_filters_not_movable_cases_with_their_reason_and_paginates(client, factory, ctx, cases,
                                                                              monkeypatch):
    act(factory, ctx, "unit1", cases["items"], "rectify_item", RECTIFIED)  # one item now waits at 核查 …
    deploy_xml(factory, ctx, without_verify_bpmn())  # … which v3 removes
    login(client, "designer1")
    report = _dry_run(client, 1, 3)
    items = cases["items"]
    html = client.get(report + "?show=not_movable").get_data(as_text=True)
    assert f'data-testid="instance-{items}" class="not-movable"' in html
    assert "当前任务 verify_item（核查）在新版本中不存在" in html
    assert f'data-testid="instance-{cases["early"]}"' not in html
    html = client.get(report + "?show=movable").get_data(as_text=True)
    assert f'data-testid="instance-{cases["early"]}" class="movable"' in html and f"instance-{items}" not in html
    assert client.get(report + "?show=bogus").status_code == 400
    monkeypatch.setattr(migration_routes, "PER_PAGE", 1)
    first = client.get(report + "?show=all").get_data(as_text=True)
    (following,) = re.findall(r'<a href="([^"]+)">下一页</a>', first)
    assert following.startswith(report.removeprefix("http://localhost") + "?")  # the run's path, kept
    assert sorted(following.split("?")[1].split("&amp;")) == ["page=2", "show=all"]  # and the filter
    second = client.get(following.replace("&amp;", "&")).get_data(as_text=True)
    assert "第 1 / 2 页" in first and f"instance-{cases['early']}" in first and f"instance-{items}" in second
    assert re.search(r'<a href="[^"]+page=1[^"]*">上一页</a>', second) and "下一页" not in second


def test_a_bad_choice_is_said_on_the_form(client, cases):
    login(client, "designer1")
    response = client.post("/definitions/rectification/migrate", data={"from_version": "2", "to_version": "2"},
                           follow_redirects=True)
    assert "源版本和目标版本不能相同" in response.get_data(as_text=True)
    assert client.post("/definitions/rectification/migrate",
                       data={"from_version": "1", "to_version": "7"}).status_code == 404
    assert client.get("/definitions/nothing/migrate").status_code == 404


def test_everyone_but_a_supervisor_is_refused(client, cases):
    login(client, "designer1")
    report = _dry_run(client)
    client.get("/logout")
    login(client, "office1")
    assert client.get("/definitions/rectification/migrate").status_code == 403
    assert client.post("/definitions/rectification/migrate",
                       data={"from_version": "1", "to_version": "2", "dry_run": "0"}).status_code == 403
    assert client.get("/definitions/rectification/migrations").status_code == 403
    assert client.get(report).status_code == 403


def test_the_api_dry_runs_runs_and_reads_a_migration(client, factory, cases):
    api = Api(client)
    designer = api("designer1")
    dry = designer.ok("POST", "/definitions/rectification/migrations",
                      {"from_version": 1, "to_version": 2, "dry_run": True}, status=201)
    assert (dry["dry_run"], dry["total"], dry["movable"], dry["moved"]) == (True, 2, 2, 0)
    assert {row["instance_id"] for row in dry["report"]} == set(cases.values())
    done = designer.ok("POST", "/definitions/rectification/migrations",
                       {"from_version": 1, "to_version": 2, "dry_run": False}, status=201)
    assert (done["moved"], done["failed"]) == (2, 0) and all(r["outcome"] == "moved" for r in done["report"])
    assert designer.ok("GET", f"/definitions/rectification/migrations/{done['id']}")["moved"] == 2
    assert designer.get(f"/definitions/clue_disposition/migrations/{done['id']}").status_code == 404
    assert designer.post("/definitions/rectification/migrations",
                         json={"from_version": "1", "to_version": 2}).status_code == 400
    assert designer.post("/definitions/rectification/migrations",
                         json={"from_version": 1, "to_version": 2, "dry_run": "no"}).status_code == 400
    office = api("office1")
    assert office.post("/definitions/rectification/migrations", json={"from_version": 1, "to_version": 2}
                       ).status_code == 403
    assert office.get(f"/definitions/rectification/migrations/{done['id']}").status_code == 403


def test_the_command_dry_runs_and_runs_a_migration_for_a_named_supervisor(tmp_path, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'cli.db'}")
    monkeypatch.setenv("SECRET_KEY", "test")
    runner = CliRunner()

    def run(*args: str) -> Any:
        return runner.invoke(cli, list(args), catch_exceptions=False)

    assert run("db", "upgrade").exit_code == 0 and run("demo-data").exit_code == 0
    v2 = tmp_path / "rectification-v2.bpmn"
    v2.write_bytes(recheck_bpmn())
    assert "v2" in run("deploy", str(v2)).output
    dry = run("definitions", "migrate", "rectification", "--from", "1", "--to", "2", "--dry-run", "--user", "designer1")
    assert dry.exit_code == 0 and "试运行 / dry run" in dry.output and "✓" in dry.output
    movable = int(re.search(r"(\d+) 可迁移", dry.output).group(1))  # type: ignore[union-attr]
    assert movable > 0 and "0 已迁移" in dry.output
    refused = run("definitions", "migrate", "rectification", "--from", "1", "--to", "2", "--user", "office1")
    assert refused.exit_code == 1 and "Only supervisors" in refused.output
    done = run("definitions", "migrate", "rectification", "--from", "1", "--to", "2", "--user", "designer1")
    assert done.exit_code == 0 and f"{movable} 已迁移 / moved, 0 失败" in done.output
