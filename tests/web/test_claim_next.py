"""签收下一件 (``POST /api/v1/tasks/next``): each caller gets the first free task of their group queue, in
the queue's order and with its filters; concurrent callers each get a different task; nothing outside
the caller's queue (another unit's task, a case they are recused from) is ever claimed."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from engine.context import EngineContext
from engine.demo import Demo
from models import AuditEvent, HumanTask, Recusal, TaskStatus
from tests.helpers import open_rectification, ready_task
from tests.web.helpers import Api, Caller, api_for, login
from tests.web.test_concurrency_http import Client, at_once, liaisons, server, user_id  # noqa: F401  (fixture)


@pytest.fixture
def api(db_url: str, ctx: EngineContext, demo: Demo) -> Iterator[Api]:
    with api_for(db_url, ctx) as client:
        yield client


def _open(factory: sessionmaker[Session], ctx: EngineContext, demo: Demo, count: int, unit: str = "U-EDU") -> list[int]:
    """``count`` rectifications of ``unit``: their first tasks (接收反馈) wait in the unit's group queue."""
    return [ready_task(factory, open_rectification(factory, ctx, demo, unit=unit, problems=1), "receive_feedback").id
            for _ in range(count)]


def _held_by(factory: sessionmaker[Session], task_id: int) -> int | None:
    with factory() as session:
        return session.execute(select(HumanTask.assignee_id).where(HumanTask.id == task_id)).scalar_one()


def test_next_claims_the_first_task_of_the_group_queue_in_its_order(api: Api, factory: sessionmaker[Session],
                                                                     ctx: EngineContext, demo: Demo) -> None:
    tasks = _open(factory, ctx, demo, 3)
    unit = api("unit1")
    queue = [t["id"] for t in unit.ok("GET", "/tasks?queue=group&sort=due&per_page=100")["items"]]
    assert set(tasks) <= set(queue)

    claimed = unit.ok("POST", "/tasks/next")

    assert claimed["id"] == queue[0] and claimed["assignee"] == "unit1" and claimed["status"] == TaskStatus.READY
    assert _held_by(factory, claimed["id"]) == user_id(factory, "unit1")
    with factory() as session:
        events = session.execute(select(AuditEvent.event_type).where(
            AuditEvent.instance_id == claimed["instance_id"], AuditEvent.event_type == "task_claimed")).scalars().all()
    assert events == ["task_claimed"]
    assert unit.ok("POST", "/tasks/next")["id"] == queue[1]  # the first is no longer free


def test_an_empty_queue_answers_204_and_claims_nothing(api: Api, factory: sessionmaker[Session],
                                                      ctx: EngineContext, demo: Demo) -> None:
    [task] = _open(factory, ctx, demo, 1)
    unit = api("unit1")
    _drain(unit)
    response = unit.post("/tasks/next")
    assert response.status_code == 204 and not response.get_data()
    assert _held_by(factory, task) == user_id(factory, "unit1")


def test_next_never_takes_another_units_task_or_a_case_one_is_recused_from(
        api: Api, factory: sessionmaker[Session], ctx: EngineContext, demo: Demo) -> None:
    [other_unit_task] = _open(factory, ctx, demo, 1, unit="U-HEALTH")
    [recused_task, free_task] = _open(factory, ctx, demo, 2)
    unit1 = user_id(factory, "unit1")
    with factory.begin() as session:  # as a case started with unit1 recused records it (engine.runtime)
        instance = session.get(HumanTask, recused_task).instance  # type: ignore[union-attr]
        instance.recused_user_ids = [unit1]
        session.add(Recusal(instance_id=instance.id, user_id=unit1))
    unit = api("unit1")

    claimed = _drain(unit)

    assert free_task in claimed
    assert recused_task not in claimed and other_unit_task not in claimed
    assert _held_by(factory, recused_task) is None and _held_by(factory, other_unit_task) is None


def _drain(caller: Caller) -> list[int]:
    """Claim until the queue answers 204; the ids claimed."""
    claimed = []
    while (response := caller.post("/tasks/next")).status_code == 200:
        claimed.append(response.get_json()["id"])
    assert response.status_code == 204, response.get_json()
    return claimed


def test_filters_and_sort_are_the_queues_and_nonsense_is_400(api: Api, factory: sessionmaker[Session],
                                                             ctx: EngineContext, demo: Demo) -> None:
    _open(factory, ctx, demo, 2)
    unit = api("unit1")
    assert unit.post("/tasks/next?process=no_such_process").status_code == 204
    assert unit.ok("POST", "/tasks/next?process=rectification&sort=-created")["process_key"] == "rectification"
    for query, param in [("sort=sideways", "sort"), ("round=zero", "round"), ("colour=purple", "colour"),
                         ("assignee=unit1", "assignee")]:
        response = unit.post(f"/tasks/next?{query}")
        assert response.status_code == 400, (query, response.get_json())
        assert response.get_json()["error"]["details"]["parameter"] == param


def test_a_retried_request_with_its_idempotency_key_claims_once(api: Api, factory: sessionmaker[Session],
                                                                ctx: EngineContext, demo: Demo) -> None:
    _open(factory, ctx, demo, 2)
    unit = api("unit1")
    first = unit.post("/tasks/next", headers={"Idempotency-Key": "next-1"})
    again = unit.post("/tasks/next", headers={"Idempotency-Key": "next-1"})
    assert first.status_code == again.status_code == 200
    assert again.headers.get("Idempotent-Replay") == "true" and again.get_json() == first.get_json()
    with factory() as session:
        held = session.execute(select(HumanTask.id).where(
            HumanTask.assignee_id == user_id(factory, "unit1"), HumanTask.status == TaskStatus.READY)).scalars().all()
    assert held == [first.get_json()["id"]]


def test_concurrent_callers_each_get_a_different_task(server: str, factory: sessionmaker[Session],  # noqa: F811
                                                      ctx: EngineContext, demo: Demo,
                                                      demo_password_hash: str) -> None:
    """Ten people press 签收下一件 at once on a queue of six: six different tasks are claimed, four callers
    hear 204, nobody gets an error — on SQLite (writers take turns) and on PostgreSQL (SKIP LOCKED)."""
    tasks = _open(factory, ctx, demo, 6)
    people = [Client(server).get_token(name) for name in liaisons(factory, demo_password_hash, 10)]

    answers = at_once([lambda person=person: person.api("POST", "/tasks/next") for person in people])

    statuses = sorted(status for status, _body in answers)
    assert statuses == [200] * 6 + [204] * 4, answers
    claimed = [body["id"] for status, body in answers if status == 200]
    assert sorted(claimed) == sorted(tasks)
    holders = {_held_by(factory, task) for task in tasks}
    assert None not in holders and len(holders) == 6


def test_the_group_queue_page_claims_next_with_its_filters(client: FlaskClient, factory: sessionmaker[Session],
                                                         ctx: EngineContext, demo: Demo) -> None:
    tasks = _open(factory, ctx, demo, 2)
    login(client, "unit1")
    page = client.get("/tasks?queue=group&sort=-created").get_data(as_text=True)
    assert 'data-testid="claim-next"' in page and "签收下一件" in page

    claimed = client.post("/tasks/next", data={"sort": "-created", "process": "rectification"})

    assert claimed.status_code == 302 and claimed.headers["Location"].endswith(f"/tasks/{tasks[-1]}")
    assert _held_by(factory, tasks[-1]) == user_id(factory, "unit1") and _held_by(factory, tasks[0]) is None
    empty = client.post("/tasks/next", data={"process": "no_such_process"}, follow_redirects=True)
    assert "组待办中已没有可签收的任务。" in empty.get_data(as_text=True)
    assert _held_by(factory, tasks[0]) is None
    assert client.post("/tasks/next", data={"sort": "sideways"}).status_code == 302  # refused with a message


def test_no_claim_next_button_for_other_queues_or_an_empty_group_queue(client: FlaskClient) -> None:
    login(client, "unit1")
    assert 'data-testid="claim-next"' not in client.get("/tasks?queue=group").get_data(as_text=True)
    assert 'data-testid="claim-next"' not in client.get("/tasks?queue=mine").get_data(as_text=True)
