"""Handing work on from the task page — 退回 with a reason, delegation and its resolve, assignment —
and the bell that tells people about it."""

from __future__ import annotations

import re
from datetime import timedelta

from flask.testing import FlaskClient
from sqlalchemy.orm import Session, sessionmaker

from engine.clock import FrozenClock
from engine.context import EngineContext
from engine.demo import Demo
from engine.scheduler import notices
from tests.helpers import add_user, open_rectification, ready_task, submit_plan, task_row
from tests.web.helpers import login


def _revision(html: str) -> str:
    match = re.search(r'name="revision" value="(\d+)"', html)
    assert match
    return match.group(1)


def _to_review(factory: sessionmaker[Session], ctx: EngineContext, demo: Demo) -> int:
    iid = open_rectification(factory, ctx, demo)
    submit_plan(factory, ctx, iid)
    return iid


def test_office_returns_the_plan_with_a_reason_and_the_liaison_sees_why(
        client: FlaskClient, factory: sessionmaker[Session], ctx: EngineContext, demo: Demo) -> None:
    iid = _to_review(factory, ctx, demo)
    review = ready_task(factory, iid, "review_plan")
    login(client, "office1")
    page = client.get(f"/tasks/{review.id}").get_data(as_text=True)
    assert f"/tasks/{review.id}/return" in page and "退回理由" in page and "data-confirm" in page

    refused = client.post(f"/tasks/{review.id}/return", data={"reason": " ", "revision": _revision(page)})
    assert refused.status_code == 422 and "请填写退回理由" in refused.get_data(as_text=True)
    assert task_row(factory, review.id).status == "ready"

    done = client.post(f"/tasks/{review.id}/return", data={"reason": "责任人未落实到具体人员。",
                                                             "revision": _revision(page)})
    assert done.status_code == 302
    redo = ready_task(factory, iid, "draft_plan")
    assert redo.assignee_id == demo.users["unit1"].id

    client.post("/logout")
    login(client, "unit1")
    assert "1" in re.search(r'data-testid="bell"[^>]*>.*?<span class="count">(\d+)</span>',
                            client.get("/tasks?queue=mine").get_data(as_text=True), re.S).group(1)
    notes = client.get("/notifications?unread=1").get_data(as_text=True)
    assert "退回给您的任务" in notes and "责任人未落实到具体人员" in notes
    page = client.get(f"/tasks/{redo.id}").get_data(as_text=True)
    assert 'data-testid="returned-notice"' in page and "责任人未落实到具体人员" in page


def test_a_step_the_diagram_does_not_let_you_return_offers_no_return(
        client: FlaskClient, factory: sessionmaker[Session], ctx: EngineContext, demo: Demo) -> None:
    iid = open_rectification(factory, ctx, demo)
    task = ready_task(factory, iid, "receive_feedback")
    login(client, "unit1")
    page = client.get(f"/tasks/{task.id}").get_data(as_text=True)
    assert f"/tasks/{task.id}/return" not in page
    response = client.post(f"/tasks/{task.id}/return", data={"reason": "不归我们", "revision": _revision(page)})
    assert response.status_code == 409 and "流程图未允许在此环节退回" in response.get_data(as_text=True)


def test_delegate_resolves_from_the_task_page_and_the_owner_finds_their_work_as_a_draft(
        client: FlaskClient, factory: sessionmaker[Session], ctx: EngineContext, demo: Demo) -> None:
    add_user(factory, "unit1b", "U-EDU", "unit", display_name="教育局 钱七")
    iid = open_rectification(factory, ctx, demo)
    task = ready_task(factory, iid, "receive_feedback")
    login(client, "unit1")
    client.post(f"/tasks/{task.id}/claim")
    page = client.get(f"/tasks/{task.id}").get_data(as_text=True)
    assert f"/tasks/{task.id}/delegate" in page and 'value="unit1b"' in page
    assert client.post(f"/tasks/{task.id}/delegate", data={"user": "unit1b"}).status_code == 302

    client.post("/logout")
    login(client, "unit1b")
    page = client.get(f"/tasks/{task.id}").get_data(as_text=True)
    assert 'data-testid="resolve"' in page and 'data-testid="delegation-notice"' in page
    assert ">提交</button>" not in page.split('id="task-form"')[1]  # the delegate hands back, not completes
    handed = client.post(f"/tasks/{task.id}/resolve", data={"feedback_received_on": "2026-11-24",
                                                            "revision": _revision(page)})
    assert handed.status_code == 302

    client.post("/logout")
    login(client, "unit1")
    page = client.get(f"/tasks/{task.id}").get_data(as_text=True)
    assert 'value="2026-11-24"' in page  # the delegate's work, ready to approve
    done = client.post(f"/tasks/{task.id}/complete", data={"feedback_received_on": "2026-11-24",
                                                          "revision": _revision(page)})
    assert done.status_code == 302 and task_row(factory, task.id).status == "completed"


def test_office_assigns_from_the_task_page_and_a_unit_liaison_cannot(
        client: FlaskClient, factory: sessionmaker[Session], ctx: EngineContext, demo: Demo) -> None:
    iid = open_rectification(factory, ctx, demo)
    task = ready_task(factory, iid, "receive_feedback")
    login(client, "unit1")
    assert f"/tasks/{task.id}/assign" not in client.get(f"/tasks/{task.id}").get_data(as_text=True)
    assert client.post(f"/tasks/{task.id}/assign", data={"user": "unit1"}).status_code == 403
    client.post("/logout")
    login(client, "office1")
    assert f"/tasks/{task.id}/assign" in client.get(f"/tasks/{task.id}").get_data(as_text=True)
    assert client.post(f"/tasks/{task.id}/assign", data={"user": "unit1"}).status_code == 302
    assert task_row(factory, task.id).assignee_id == demo.users["unit1"].id


def test_opening_someone_elses_notification_is_not_found(
        client: FlaskClient, factory: sessionmaker[Session], ctx: EngineContext, demo: Demo) -> None:
    open_rectification(factory, ctx, demo)
    notices(factory, ctx)
    login(client, "unit1")
    page = client.get("/notifications").get_data(as_text=True)
    note_id = re.search(r"/notifications/(\d+)/open", page).group(1)
    client.post("/logout")
    login(client, "unit2")
    assert client.post(f"/notifications/{note_id}/open").status_code == 404
    client.post("/logout")
    login(client, "unit1")
    opened = client.post(f"/notifications/{note_id}/open")
    assert opened.status_code == 302 and "/tasks/" in opened.headers["Location"]
    assert client.post("/notifications/read-all").status_code == 302


def test_queue_marks_a_task_yellow_when_few_working_days_remain_and_red_when_overdue(
        client: FlaskClient, factory: sessionmaker[Session], ctx: EngineContext, demo: Demo, clock: FrozenClock
) -> None:
    iid = open_rectification(factory, ctx, demo)
    task = ready_task(factory, iid, "receive_feedback")
    login(client, "unit1")
    assert 'data-colour=' not in client.get("/tasks?queue=group").get_data(as_text=True)
    assert task.due_at is not None
    clock.set(task.due_at - timedelta(days=1))
    assert 'data-colour="yellow"' in client.get("/tasks?queue=group").get_data(as_text=True)
    clock.set(task.due_at + timedelta(minutes=1))
    page = client.get("/tasks?queue=group").get_data(as_text=True)
    assert 'data-colour="red"' in page and "已逾期" in page
