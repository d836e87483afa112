"""Both case lifecycles driven end to end through the API only, each user working from their group
queue, including every loop back (退回→重新移交, 退回补充, 方案退回修改, 核查驳回)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy.orm import Session, sessionmaker

from engine.context import EngineContext
from engine.demo import Demo
from tests.helpers import clue_of, item_numbers, open_clue, open_rectification
from tests.web.helpers import Api, api_for


@pytest.fixture
def api(db_url: str, ctx: EngineContext, demo: Demo) -> Iterator[Api]:
    with api_for(db_url, ctx) as client:
        yield client


def _ready(completion: dict[str, Any]) -> list[str]:
    return sorted(t["bpmn_id"] for t in completion["next_tasks"])


def test_clue_disposition_with_return_and_supplement_loops(api: Api, factory: sessionmaker[Session],
                                                           ctx: EngineContext, demo: Demo) -> None:
    instance_id = open_clue(factory, ctx, demo, unit="U-EDU", receiving="JW", number="XS-T-001")
    clue_id = clue_of(factory, instance_id).id
    office, jw = api("office1"), api("jw1")

    done = office.do(instance_id, "handover", {"handover_list": "线索报告 1 份", "handover_note": "请及时签收"})
    assert _ready(done) == ["acknowledge"]
    assert jw.ok("GET", f"/clues/{clue_id}")["status"] == "handing_over"

    done = jw.do(instance_id, "acknowledge", {"ack_decision": "退回", "return_reason": "材料不全，请补充。"})
    assert _ready(done) == ["handle_return"]
    assert office.ok("GET", f"/clues/{clue_id}")["status"] == "returned"
    assert jw.group_tasks(instance_id, "acknowledge") == []

    done = office.do(instance_id, "handle_return", {"return_action": "重新移交"})
    assert _ready(done) == ["acknowledge"]
    jw.do(instance_id, "acknowledge", {"ack_decision": "签收"})
    assert jw.ok("GET", f"/clues/{clue_id}")["status"] == "acknowledged"
    jw.do(instance_id, "dispose", {"disposition_method": "初步核实", "disposition_opinion": "成立核查组。"})
    done = jw.do(instance_id, "progress_report", {"progress_text": "已调取资料。", "handling_finished": False})
    assert _ready(done) == ["progress_report"]
    jw.do(instance_id, "progress_report", {"progress_text": "核查完毕。", "handling_finished": True})
    jw.do(instance_id, "result_feedback", {"four_forms": "第二种形态", "result_summary": "给予党纪处分。",
                                           "sanctions": ["党纪处分：警告"]})
    assert office.ok("GET", f"/clues/{clue_id}")["status"] == "result_reported"

    done = office.do(instance_id, "verify_result", {"verify_decision": "退回补充", "verify_opinion": "请补充文书。"})
    assert _ready(done) == ["result_feedback"]
    assert done["next_tasks"][0]["assignee"] == "jw1"  # sent back to whoever reported the result
    assert jw.group_tasks(instance_id, "result_feedback", queue="mine")
    assert office.ok("GET", f"/clues/{clue_id}")["status"] == "in_progress"
    jw.do(instance_id, "result_feedback", {"four_forms": "第二种形态", "result_summary": "已补充处分决定书。"})
    done = office.do(instance_id, "verify_result", {"verify_decision": "销号"})

    assert done["instance"]["status"] == "completed" and done["next_tasks"] == []
    instance = office.ok("GET", f"/instances/{instance_id}")
    assert instance["status"] == "completed" and instance["ready_tasks"] == []
    assert instance["data"]["verify_decision"] == "销号"
    clue = jw.ok("GET", f"/clues/{clue_id}")
    assert clue["status"] == "closed" and clue["four_forms"] == "第二种形态"
    assert clue["disposition_method"] == "初步核实" and clue["closed_at"] is not None
    history = office.ok("GET", f"/instances/{instance_id}/history")
    assert [e["seq"] for e in history] == list(range(1, len(history) + 1))
    events = [e["type"] for e in history if e["type"] != "clue_viewed"]
    assert events[0] == "instance_started" and events[-1] == "instance_completed"
    assert events.count("task_completed") == 11
    assert "task_cancelled" not in events


def _plan(numbers: list[str]) -> dict[str, Any]:
    return {"plan_summary": "逐项制定整改措施。", "pledge_signed": True, "pledge_signer": "教育局党组书记",
            "plan_measures": [{"item_number": n, "measures": f"针对 {n} 建章立制。", "responsible_leader": "周某",
                               "responsible_department": "办公室", "responsible_person": "吴某",
                               "due_date": "2027-03-31", "rectification_type": "限期整改"} for n in numbers]}


def _item_statuses(user: Any, instance_id: int) -> dict[str, str]:
    page = user.ok("GET", "/rectification-items?per_page=100")
    return {i["number"]: i["status"] for i in page["items"] if i["instance_id"] == instance_id}


def test_rectification_with_plan_sent_back_and_one_item_rejected(api: Api, factory: sessionmaker[Session],
                                                                  ctx: EngineContext, demo: Demo) -> None:
    instance_id = open_rectification(factory, ctx, demo, unit="U-EDU",
                                     problems=["意识形态责任制落实不到位。", "干部档案管理不规范。"])
    first, second = item_numbers(factory, instance_id)
    office, unit, group = api("office1"), api("unit1"), api("group1")
    assert _item_statuses(unit, instance_id) == {first: "pending", second: "pending"}

    unit.do(instance_id, "receive_feedback", {"feedback_received_on": "2026-11-26"})
    unit.do(instance_id, "draft_plan", _plan([first, second]))
    assert _item_statuses(unit, instance_id) == {first: "in_progress", second: "in_progress"}
    done = office.do(instance_id, "review_plan", {"plan_decision": "退回修改", "plan_review_opinion": "措施不具体。"})
    assert _ready(done) == ["draft_plan"]
    unit.do(instance_id, "draft_plan", _plan([first, second]))
    done = office.do(instance_id, "review_plan", {"plan_decision": "通过"})
    assert _ready(done) == ["rectify_item", "rectify_item"]

    for number in (first, second):
        unit.do(instance_id, "rectify_item", {"item_progress": "已完成整改。", "item_completion": "已完成"}, number)
    assert _item_statuses(group, instance_id) == {first: "submitted", second: "submitted"}
    group.do(instance_id, "verify_item", {"item_verify_decision": "驳回", "item_verify_opinion": "佐证不足。"}, first)
    group.do(instance_id, "verify_item", {"item_verify_decision": "通过"}, second)
    assert _item_statuses(unit, instance_id) == {first: "rejected", second: "verified"}

    unit.do(instance_id, "rectify_item", {"item_progress": "补充了佐证材料。", "item_completion": "已完成"}, first)
    group.do(instance_id, "verify_item", {"item_verify_decision": "通过"}, first)
    office.do(instance_id, "strike_off_item", {"strike_off_date": "2026-12-01"}, second)
    assert _item_statuses(office, instance_id) == {first: "verified", second: "struck_off"}
    done = office.do(instance_id, "strike_off_item", {"strike_off_date": "2026-12-02"}, first)
    assert _ready(done) == ["rectification_report"]

    unit.do(instance_id, "rectification_report", {"report_summary": "整改全部完成。", "report_date": "2026-12-05"})
    office.do(instance_id, "disclosure", {"publish": True, "public_text": "教育局巡察整改情况通报。"})
    done = office.do(instance_id, "close_out", {"archive_note": "已归档。"})

    assert done["instance"]["status"] == "completed"
    assert unit.ok("GET", f"/instances/{instance_id}")["status"] == "completed"
    assert _item_statuses(unit, instance_id) == {first: "struck_off", second: "struck_off"}
    items = unit.ok("GET", f"/rectification-items?status=struck_off&unit={demo.orgs['U-EDU'].id}")["items"]
    assert {i["number"] for i in items} == {first, second}
    assert all(i["measures"].startswith("针对") and i["completion"] == "已完成" for i in items)
    assert office.ok("GET", "/audit/verify")["ok"] is True
