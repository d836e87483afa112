"""The public page: announced rounds and published rectification results, and nothing else."""

from __future__ import annotations

from typing import Any

from flask.testing import FlaskClient
from sqlalchemy.orm import Session, sessionmaker

from engine.context import EngineContext
from engine.demo import Demo
from tests.helpers import act, complete_rectification, open_clue, open_rectification
from tests.web.helpers import login


def test_public_page_lists_announced_rounds_without_login(client: FlaskClient) -> None:
    response = client.get("/public")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    for text in ("2026年第一轮常规巡察", "市教育局", "市住房和城乡建设局", "0000-12345678", "某市邮政信箱 001 号",
                 "某市人民路 1 号", "2026-03-02"):
        assert text in html, text
    assert "我的待办" not in html and "登录" in html


def test_published_results_appear_and_unpublished_ones_do_not(
        client: FlaskClient, factory: sessionmaker[Session], ctx: EngineContext, demo: Demo) -> None:
    published = open_rectification(factory, ctx, demo, problems=("落实意识形态工作责任制不到位。",))
    complete_rectification(factory, ctx, published, disclosure={"publish": True,
                                                                "public_text": "市教育局已完成全部整改任务。"})
    withheld = open_rectification(factory, ctx, demo, problems=("涉及在查案件的问题。",))
    complete_rectification(factory, ctx, withheld, disclosure={"publish": False, "exemption_note": "涉及在查案件。"})
    running = open_rectification(factory, ctx, demo, problems=("尚在整改的问题。",))

    html = client.get("/public").get_data(as_text=True)

    assert "市教育局已完成全部整改任务。" in html
    assert "涉及在查案件" not in html and "尚在整改的问题" not in html and "落实意识形态" not in html
    assert running


def test_clues_never_appear_on_the_public_page(
        client: FlaskClient, factory: sessionmaker[Session], ctx: EngineContext, demo: Demo) -> None:
    secret: dict[str, Any] = {"number": "XS-SECRET-9", "summary": "反映某局长插手工程招标。", "person": "钱秘密"}
    instance_id = open_clue(factory, ctx, demo, **secret)
    act(factory, ctx, "office1", instance_id, "handover", {"handover_list": "线索 1 份"})
    act(factory, ctx, "jw1", instance_id, "acknowledge", {"ack_decision": "签收"})

    for who in (None, "office1"):
        if who:
            login(client, who)
        html = client.get("/public").get_data(as_text=True)
        for text in secret.values():
            assert text not in html
        assert "问题线索" not in html
