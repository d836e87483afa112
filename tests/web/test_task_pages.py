"""Queues and the task page: claiming, returning and completing tasks through HTML forms."""

from __future__ import annotations

import re

from flask.testing import FlaskClient
from sqlalchemy.orm import Session, sessionmaker

from engine.context import EngineContext
from engine.demo import Demo
from models import TaskStatus
from tests.helpers import act, add_user, instance, open_rectification, ready_task, task_row
from tests.web.helpers import login


def _revision(html: str) -> str:
    match = re.search(r'name="revision" value="(\d+)"', html)
    assert match, "the form carries the task revision"
    return match.group(1)


def test_unit_liaison_claims_feedback_from_group_queue_and_submits_it(
        client: FlaskClient, factory: sessionmaker[Session], ctx: EngineContext, demo: Demo) -> None:
    instance_id = open_rectification(factory, ctx, demo)
    task = ready_task(factory, instance_id, "receive_feedback")
    login(client, "unit1")

    queue = client.get("/tasks?queue=group").get_data(as_text=True)
    assert "反馈" in queue and f"/tasks/{task.id}/claim" in queue and "ZG-2026-" in queue
    claimed = client.post(f"/tasks/{task.id}/claim")
    assert claimed.status_code == 302 and claimed.headers["Location"].endswith(f"/tasks/{task.id}")
    assert "我的待办" in client.get("/tasks?queue=mine").get_data(as_text=True)

    page = client.get(f"/tasks/{task.id}").get_data(as_text=True)
    assert "反馈意见送达日期" in page and "退回签收" in page and "落实意识形态工作责任制不到位" in page
    response = client.post(f"/tasks/{task.id}/complete", data={
        "feedback_received_on": "2026-11-25", "feedback_meeting_note": "", "revision": _revision(page)})

    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/cases/{instance_id}")
    case = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "已提交，案件进入下一环节" in case
    current = case.split("当前环节")[1].split("办理记录")[0]
    assert "整改方案" in current
    assert "办理完成" in case and "签收任务" in case
    assert task_row(factory, task.id).status == TaskStatus.COMPLETED
    assert f"/tasks/{task.id}" in client.get("/tasks?queue=done").get_data(as_text=True)
    done = client.get(f"/tasks/{task.id}").get_data(as_text=True)
    assert "此任务已办" in done and 'name="revision"' not in done


def test_an_invalid_field_is_shown_next_to_it_and_nothing_changes(
        client: FlaskClient, factory: sessionmaker[Session], ctx: EngineContext, demo: Demo) -> None:
    instance_id = open_rectification(factory, ctx, demo)
    task = ready_task(factory, instance_id, "receive_feedback")
    version = instance(factory, instance_id).version
    login(client, "unit1")
    page = client.get(f"/tasks/{task.id}").get_data(as_text=True)

    response = client.post(f"/tasks/{task.id}/complete", data={
        "feedback_received_on": "2026-13-45", "feedback_meeting_note": "会议已召开", "revision": _revision(page)})

    assert response.status_code == 422
    html = response.get_data(as_text=True)
    field = html.split('for="feedback_received_on"')[1].split("</div>")[0]
    assert "请输入有效日期" in field and 'value="2026-13-45"' in field
    assert "会议已召开" in html
    after = task_row(factory, task.id)
    assert after.status == TaskStatus.READY and after.assignee_id is None
    assert instance(factory, instance_id).version == version


def test_a_missing_required_field_is_reported_in_chinese(
        client: FlaskClient, factory: sessionmaker[Session], ctx: EngineContext, demo: Demo) -> None:
    task = ready_task(factory, open_rectification(factory, ctx, demo), "receive_feedback")
    login(client, "unit1")
    response = client.post(f"/tasks/{task.id}/complete", data={"revision": str(task.revision)})
    assert response.status_code == 422
    assert "此项为必填项" in response.get_data(as_text=True)


def test_a_second_candidate_cannot_claim_a_claimed_task(
        client: FlaskClient, factory: sessionmaker[Session], ctx: EngineContext, demo: Demo) -> None:
    add_user(factory, "unit1b", "U-EDU", "unit")
    task = ready_task(factory, open_rectification(factory, ctx, demo), "receive_feedback")
    login(client, "unit1")
    assert client.post(f"/tasks/{task.id}/claim").status_code == 302
    client.post("/logout")
    login(client, "unit1b")

    response = client.post(f"/tasks/{task.id}/claim")

    assert response.status_code == 409
    assert "该任务已被他人签收办理" in response.get_data(as_text=True)
    page = client.get(f"/tasks/{task.id}").get_data(as_text=True)
    assert "教育局联络员 周洁" in page and "您可查看但不能提交" in page


def test_a_form_opened_before_the_task_changed_is_refused(
        client: FlaskClient, factory: sessionmaker[Session], ctx: EngineContext, demo: Demo) -> None:
    task = ready_task(factory, open_rectification(factory, ctx, demo), "receive_feedback")
    login(client, "unit1")
    stale = _revision(client.get(f"/tasks/{task.id}").get_data(as_text=True))
    client.post(f"/tasks/{task.id}/claim")  # e.g. in another tab: the revision moves on

    response = client.post(f"/tasks/{task.id}/complete", data={"feedback_received_on": "2026-11-25",
                                                               "revision": stale})

    assert response.status_code == 409
    assert "任务在您打开后已发生变化" in response.get_data(as_text=True)
    assert task_row(factory, task.id).status == TaskStatus.READY


def test_returning_a_claimed_task_puts_it_back_in_the_group_queue(
        client: FlaskClient, factory: sessionmaker[Session], ctx: EngineContext, demo: Demo) -> None:
    task = ready_task(factory, open_rectification(factory, ctx, demo), "receive_feedback")
    login(client, "unit1")
    client.post(f"/tasks/{task.id}/claim")
    assert client.post(f"/tasks/{task.id}/unclaim").status_code == 302
    assert task_row(factory, task.id).assignee_id is None
    assert f"/tasks/{task.id}/claim" in client.get("/tasks?queue=group").get_data(as_text=True)


def test_plan_form_starts_with_a_row_per_problem_and_adds_rows_without_javascript(
        client: FlaskClient, factory: sessionmaker[Session], ctx: EngineContext, demo: Demo) -> None:
    instance_id = open_rectification(factory, ctx, demo)
    act(factory, ctx, "unit1", instance_id, "receive_feedback", {"feedback_received_on": "2026-11-25"})
    task = ready_task(factory, instance_id, "draft_plan")
    login(client, "unit1")
    page = client.get(f"/tasks/{task.id}").get_data(as_text=True)
    assert 'name="plan_measures-0-item_number" value="U-EDU-01"' in page
    assert 'name="plan_measures-1-item_number" value="U-EDU-02"' in page
    assert "整改真实性承诺" in page and "forms.js" in page

    response = client.post(f"/tasks/{task.id}/complete", data={
        "plan_measures-0-item_number": "U-EDU-01", "plan_measures-0-measures": "完善制度", "_add_row": "plan_measures",
        "revision": _revision(page)})

    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert '>完善制度</textarea>' in html and 'name="plan_measures-1-measures"' in html
    assert task_row(factory, task.id).status == TaskStatus.READY


def test_plan_with_rows_and_pledge_is_submitted_and_updates_the_ledger(
        client: FlaskClient, factory: sessionmaker[Session], ctx: EngineContext, demo: Demo) -> None:
    instance_id = open_rectification(factory, ctx, demo)
    act(factory, ctx, "unit1", instance_id, "receive_feedback", {"feedback_received_on": "2026-11-25"})
    task = ready_task(factory, instance_id, "draft_plan")
    login(client, "unit1")
    rows = {}
    for index, number in ((0, "U-EDU-01"), (4, "U-EDU-02")):  # a row removed in the browser leaves a gap
        rows.update({f"plan_measures-{index}-item_number": number, f"plan_measures-{index}-measures": f"{number} 措施",
                     f"plan_measures-{index}-responsible_leader": "周某",
                     f"plan_measures-{index}-responsible_department": "办公室",
                     f"plan_measures-{index}-responsible_person": "吴某",
                     f"plan_measures-{index}-due_date": "2026-12-31",
                     f"plan_measures-{index}-rectification_type": "限期整改"})
    data = {"plan_summary": "逐项整改。", "pledge_signer": "教育局党组书记", "revision": str(task.revision), **rows}

    missing_pledge = client.post(f"/tasks/{task.id}/complete", data=data)
    assert missing_pledge.status_code == 422
    assert "必须确认此项" in missing_pledge.get_data(as_text=True)

    response = client.post(f"/tasks/{task.id}/complete", data={**data, "pledge_signed": "true"})
    assert response.status_code == 302
    case = client.get(f"/cases/{instance_id}").get_data(as_text=True)
    assert "U-EDU-02 措施" in case and "整改中" in case and "2026-12-31" in case
    assert "审核" in case.split("当前环节")[1]


def test_queue_search_sort_and_bad_parameters(
        client: FlaskClient, factory: sessionmaker[Session], ctx: EngineContext, demo: Demo) -> None:
    open_rectification(factory, ctx, demo)
    login(client, "unit1")
    assert "反馈" in client.get("/tasks?queue=group&q=ZG-2026&sort=-created").get_data(as_text=True)
    empty = client.get("/tasks?queue=group&q=不存在的案件").get_data(as_text=True)
    assert "没有符合" in empty
    assert "当前没有待办任务" in client.get("/tasks?queue=mine").get_data(as_text=True)
    for query in ("queue=nope", "sort=sideways", "page=0", "page=abc"):
        response = client.get(f"/tasks?{query}")
        assert response.status_code == 400, query
        assert "无效" in response.get_data(as_text=True) or "未知" in response.get_data(as_text=True)
    assert client.get("/tasks?queue=all").status_code == 403


def test_office_sees_all_tasks_and_overdue_ones_in_red(
        client: FlaskClient, factory: sessionmaker[Session], ctx: EngineContext, demo: Demo, clock) -> None:
    from datetime import timedelta

    open_rectification(factory, ctx, demo)
    clock.advance(timedelta(days=30))
    login(client, "office1")
    html = client.get("/tasks?queue=all").get_data(as_text=True)
    assert "反馈" in html and "已逾期" in html and 'class="overdue"' in html
    assert "全部任务" in html


def test_a_task_one_may_not_see_is_not_found(
        client: FlaskClient, factory: sessionmaker[Session], ctx: EngineContext, demo: Demo) -> None:
    task = ready_task(factory, open_rectification(factory, ctx, demo), "receive_feedback")
    login(client, "unit2")
    assert client.get(f"/tasks/{task.id}").status_code == 404
    assert client.post(f"/tasks/{task.id}/claim").status_code == 404
    assert client.get("/tasks/999999").status_code == 404
