"""Duplicate submissions: a retried API request with the same ``Idempotency-Key`` acts once and gets the
first answer again; a double-submitted task form changes the case once.

What is proved, on SQLite and on PostgreSQL:

* a retried complete (or claim) is answered with the stored status and body and ``Idempotent-Replay:
  true``, and the case moved once (one audit event);
* the same key on a different request is a 422 that changes nothing; a malformed key is a 400;
* a request that failed leaves no record, so the same key works once the request is put right;
* identical requests sent at the same moment over a real threaded server: one acts, the others wait and
  replay its answer;
* a task form posted twice (a double click) completes the task once; the second post is a clear 409.
"""

from __future__ import annotations

import io
import json
import re
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import event, func, select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from engine.context import EngineContext
from engine.demo import Demo
from models import IdempotencyRecord, TaskStatus
from tests.helpers import open_clue, open_rectification, ready_task, ready_tasks, task_row
from tests.web.helpers import API, Caller, login, make_app
from tests.web.test_api_openapi import DOC, check_response
from tests.web.test_concurrency_http import (
    Client,
    at_once,
    case_events,
    chain_holds,
    serving,
    task_count,
    task_form,
    version,
)
from tests.web.test_content import PDF

FEEDBACK = {"feedback_received_on": "2026-11-20"}


def records(factory: sessionmaker[Session]) -> int:
    with factory() as session:
        return session.execute(select(func.count()).select_from(IdempotencyRecord)).scalar_one()


def keyed(key: str) -> dict[str, str]:
    return {"Idempotency-Key": key}


def claimed_feedback_task(factory: sessionmaker[Session], ctx: EngineContext, demo: Demo,
                          unit1: Caller) -> tuple[int, int, int]:
    """A rectification whose 反馈 task unit1 holds: (instance id, task id, task revision)."""
    iid = open_rectification(factory, ctx, demo)
    task = ready_task(factory, iid, "receive_feedback")
    response = unit1.post(f"/tasks/{task.id}/claim")
    assert response.status_code == 200, response.get_json()
    return iid, task.id, response.get_json()["revision"]


def test_a_retried_complete_with_the_same_key_replays_the_answer_and_moves_the_case_once(
        client: FlaskClient, factory: sessionmaker[Session], ctx: EngineContext, demo: Demo) -> None:
    unit1 = Caller(client, "unit1")
    iid, task_id, revision = claimed_feedback_task(factory, ctx, demo, unit1)
    body = {"data": FEEDBACK, "revision": revision}
    version_before = version(factory, iid)

    first = unit1.post(f"/tasks/{task_id}/complete", body, headers=keyed("complete-1"))
    retry = unit1.post(f"/tasks/{task_id}/complete", body, headers=keyed("complete-1"))

    assert first.status_code == retry.status_code == 200
    assert "Idempotent-Replay" not in first.headers and retry.headers["Idempotent-Replay"] == "true"
    assert retry.get_json() == first.get_json()
    assert [t["bpmn_id"] for t in retry.get_json()["next_tasks"]] == ["draft_plan"]
    assert [json.loads(e.payload)["task_id"] for e in case_events(factory, iid, "task_completed")] == [task_id]
    assert version(factory, iid) == version_before + 1 and len(ready_tasks(factory, iid, "draft_plan")) == 1
    assert records(factory) == 1 and chain_holds(factory)


def test_the_same_complete_without_a_key_is_refused_the_second_time(
        client: FlaskClient, factory: sessionmaker[Session], ctx: EngineContext, demo: Demo) -> None:
    """The other side: without a key a retry is a new request, and the finished task refuses it (409)."""
    unit1 = Caller(client, "unit1")
    iid, task_id, revision = claimed_feedback_task(factory, ctx, demo, unit1)
    body = {"data": FEEDBACK, "revision": revision}

    assert unit1.post(f"/tasks/{task_id}/complete", body).status_code == 200
    second = unit1.post(f"/tasks/{task_id}/complete", body)

    assert second.status_code == 409 and "Idempotent-Replay" not in second.headers
    assert len(case_events(factory, iid, "task_completed")) == 1 and records(factory) == 0


def test_a_retried_claim_gets_the_same_answer_and_claims_once(
        client: FlaskClient, factory: sessionmaker[Session], ctx: EngineContext, demo: Demo) -> None:
    unit1 = Caller(client, "unit1")
    iid = open_rectification(factory, ctx, demo)
    task = ready_task(factory, iid, "receive_feedback")

    answers = [unit1.post(f"/tasks/{task.id}/claim", headers=keyed("claim-7f3a")) for _ in range(3)]

    assert [a.status_code for a in answers] == [200, 200, 200]
    assert answers[0].get_json() == answers[1].get_json() == answers[2].get_json()
    assert [a.headers.get("Idempotent-Replay") for a in answers] == [None, "true", "true"]
    assert answers[0].get_json()["revision"] == task.revision + 1 == task_row(factory, task.id).revision
    assert len(case_events(factory, iid, "task_claimed")) == 1


def test_the_same_key_on_a_different_request_is_a_422_and_changes_nothing(
        client: FlaskClient, factory: sessionmaker[Session], ctx: EngineContext, demo: Demo) -> None:
    unit1 = Caller(client, "unit1")
    iid, task_id, revision = claimed_feedback_task(factory, ctx, demo, unit1)
    assert unit1.post(f"/instances/{iid}/comments", {"body": "第一条意见"}, headers=keyed("k-1")).status_code == 201
    comments_before = unit1.get(f"/instances/{iid}/comments").get_json()

    other_body = unit1.post(f"/instances/{iid}/comments", {"body": "另一条意见"}, headers=keyed("k-1"))
    other_path = unit1.post(f"/tasks/{task_id}/complete", {"data": FEEDBACK, "revision": revision},
                            headers=keyed("k-1"))

    for refused in (other_body, other_path):
        assert refused.status_code == 422, refused.get_json()
        error = refused.get_json()["error"]
        assert error["code"] == "idempotency_key_reused" and "Idempotency-Key" in error["message"]
        assert "Idempotent-Replay" not in refused.headers
    assert unit1.get(f"/instances/{iid}/comments").get_json() == comments_before
    assert task_row(factory, task_id).status == TaskStatus.READY and records(factory) == 1


def test_the_message_of_a_reused_key_is_in_the_callers_language(
        client: FlaskClient, factory: sessionmaker[Session], ctx: EngineContext, demo: Demo) -> None:
    unit1 = Caller(client, "unit1")
    iid = open_rectification(factory, ctx, demo)
    unit1.post(f"/instances/{iid}/comments", {"body": "一"}, headers=keyed("lang"))
    zh = unit1.post(f"/instances/{iid}/comments", {"body": "二"}, headers=keyed("lang"))
    en = unit1.post(f"/instances/{iid}/comments", {"body": "二"}, headers={**keyed("lang"), "Accept-Language": "en"})
    assert "已用于另一个不同的请求" in zh.get_json()["error"]["message"]
    assert "already used for a different request" in en.get_json()["error"]["message"]


@pytest.mark.parametrize("key", ["", " ", "x" * 129, "键-中文", "tab\there"])
def test_a_malformed_key_is_a_400_and_nothing_is_done(
        key: str, client: FlaskClient, factory: sessionmaker[Session], ctx: EngineContext, demo: Demo) -> None:
    unit1 = Caller(client, "unit1")
    iid = open_rectification(factory, ctx, demo)
    task = ready_task(factory, iid, "receive_feedback")

    response = client.post(f"{API}/tasks/{task.id}/claim", headers={
        "Authorization": f"Bearer {unit1.token}", "Idempotency-Key": key.encode("utf-8").decode("latin-1")})

    assert response.status_code == 400, response.get_json()
    assert "Idempotency-Key" in response.get_json()["error"]["message"]
    assert task_row(factory, task.id).assignee_id is None and records(factory) == 0


def test_a_key_of_128_printable_characters_is_accepted(
        client: FlaskClient, factory: sessionmaker[Session], ctx: EngineContext, demo: Demo) -> None:
    unit1 = Caller(client, "unit1")
    iid = open_rectification(factory, ctx, demo)
    task = ready_task(factory, iid, "receive_feedback")
    key = ("0123456789abcdef-~ !\"#$%&'()*+,./:;<=>?@[]^_`{|}" * 3)[:128]
    assert unit1.post(f"/tasks/{task.id}/claim", headers=keyed(key)).status_code == 200
    assert unit1.post(f"/tasks/{task.id}/claim", headers=keyed(key)).headers["Idempotent-Replay"] == "true"


def test_a_failed_request_leaves_no_record_and_the_key_works_once_the_request_is_put_right(
        client: FlaskClient, factory: sessionmaker[Session], ctx: EngineContext, demo: Demo) -> None:
    unit1 = Caller(client, "unit1")
    iid, task_id, revision = claimed_feedback_task(factory, ctx, demo, unit1)

    stale = unit1.post(f"/tasks/{task_id}/complete", {"data": FEEDBACK, "revision": revision - 1},
                       headers=keyed("fix-me"))
    assert stale.status_code == 409 and records(factory) == 0
    assert task_row(factory, task_id).status == TaskStatus.READY

    fixed = unit1.post(f"/tasks/{task_id}/complete", {"data": FEEDBACK, "revision": revision},
                       headers=keyed("fix-me"))
    assert fixed.status_code == 200 and "Idempotent-Replay" not in fixed.headers
    assert len(case_events(factory, iid, "task_completed")) == 1 and records(factory) == 1


def test_keys_belong_to_their_user(
        client: FlaskClient, factory: sessionmaker[Session], ctx: EngineContext, demo: Demo) -> None:
    """unit2's request with unit1's key is unit2's own: it is judged (refused, 403/404) and not replayed."""
    unit1, unit2 = Caller(client, "unit1"), Caller(client, "unit2")
    iid = open_rectification(factory, ctx, demo)
    task = ready_task(factory, iid, "receive_feedback")
    assert unit1.post(f"/tasks/{task.id}/claim", headers=keyed("shared")).status_code == 200

    theirs = unit2.post(f"/tasks/{task.id}/claim", headers=keyed("shared"))

    assert theirs.status_code in (403, 404, 409) and "Idempotent-Replay" not in theirs.headers
    assert len(case_events(factory, iid, "task_claimed")) == 1


def test_requests_without_a_key_and_reads_are_untouched(
        client: FlaskClient, factory: sessionmaker[Session], ctx: EngineContext, demo: Demo) -> None:
    unit1 = Caller(client, "unit1")
    iid = open_rectification(factory, ctx, demo)
    read = unit1.get(f"/instances/{iid}", headers=keyed("a-read"))
    assert read.status_code == 200 and "Idempotent-Replay" not in read.headers
    again = unit1.get(f"/instances/{iid}", headers=keyed("a-read"))
    assert again.status_code == 200 and "Idempotent-Replay" not in again.headers and records(factory) == 0


# -- at the same moment, over a real server -------------------------------------------------------------------


def test_identical_requests_at_the_same_moment_act_once_and_all_get_its_answer(
        db_url: str, factory: sessionmaker[Session], ctx: EngineContext, demo: Demo) -> None:
    """Eight copies of one complete, released together on a threaded server (own connections, own
    transactions): one acts; the others wait for it and replay its answer."""
    iid = open_rectification(factory, ctx, demo)
    task = ready_task(factory, iid, "receive_feedback")
    with serving(make_app(db_url, ctx, TESTING=False)) as base:
        unit1 = Client(base).get_token("unit1")
        status, claimed = unit1.api("POST", f"/tasks/{task.id}/claim")
        assert status == 200
        version_before, tasks_before = version(factory, iid), task_count(factory, iid)
        body = json.dumps({"data": FEEDBACK, "revision": claimed["revision"]}).encode()

        def send() -> tuple[int, str, str | None]:
            from urllib.error import HTTPError
            from urllib.request import Request, urlopen
            request = Request(f"{base}{API}/tasks/{task.id}/complete", data=body, method="POST", headers={
                "Authorization": f"Bearer {unit1.token}", "Content-Type": "application/json",
                "Idempotency-Key": "same-moment"})
            try:
                with urlopen(request, timeout=120) as response:
                    return response.status, response.read().decode(), response.headers.get("Idempotent-Replay")
            except HTTPError as error:
                with error:
                    return error.code, error.read().decode(), error.headers.get("Idempotent-Replay")

        outcomes: list[Any] = at_once([send] * 8)

    assert [status for status, _, _ in outcomes] == [200] * 8, outcomes
    assert len({text for _, text, _ in outcomes}) == 1, "every copy got the same answer"
    assert sorted(str(replay) for _, _, replay in outcomes) == ["None"] + ["true"] * 7
    assert [json.loads(e.payload)["task_id"] for e in case_events(factory, iid, "task_completed")] == [task.id]
    assert version(factory, iid) == version_before + 1 and task_count(factory, iid) == tasks_before + 1
    assert records(factory) == 1 and chain_holds(factory)


# -- the task form, submitted twice ---------------------------------------------------------------------------


def test_a_task_form_posted_twice_completes_the_task_once(
        app: Flask, factory: sessionmaker[Session], ctx: EngineContext, demo: Demo) -> None:
    """A double click sends the same form (same revision) twice, one after the other: the second is a 409
    that says the task was already handled, and the case moved one step."""
    iid = open_rectification(factory, ctx, demo)
    task = ready_task(factory, iid, "receive_feedback")
    client = app.test_client()
    login(client, "unit1")
    page = client.get(f"/tasks/{task.id}").get_data(as_text=True)
    form = {"revision": _revision(page), **FEEDBACK}  # this app runs without CSRF checks
    version_before = version(factory, iid)

    first = client.post(f"/tasks/{task.id}/complete", data=form)
    second = client.post(f"/tasks/{task.id}/complete", data=form)

    assert first.status_code == 302
    assert second.status_code == 409
    assert any(text in second.get_data(as_text=True) for text in ("已办结", "已被处理", "已发生变化", "不在待办状态"))
    assert len(case_events(factory, iid, "task_completed")) == 1
    assert version(factory, iid) == version_before + 1 and len(ready_tasks(factory, iid, "draft_plan")) == 1


def test_a_task_form_posted_twice_at_the_same_moment_completes_the_task_once(
        db_url: str, factory: sessionmaker[Session], ctx: EngineContext, demo: Demo) -> None:
    """The same person's two posts of one form arrive together (two connections, one login session)."""
    iid = open_rectification(factory, ctx, demo)
    task = ready_task(factory, iid, "receive_feedback")
    with serving(make_app(db_url, ctx, TESTING=False)) as base:
        person = Client(base).log_in("unit1")
        form = {**task_form(person.request("GET", f"/tasks/{task.id}")[1]), **FEEDBACK}
        version_before = version(factory, iid)
        outcomes = at_once([lambda: person.request("POST", f"/tasks/{task.id}/complete", form=form)] * 2)
    assert sorted(status for status, _ in outcomes) == [302, 409], [s for s, _ in outcomes]
    assert len(case_events(factory, iid, "task_completed")) == 1
    assert version(factory, iid) == version_before + 1 and len(ready_tasks(factory, iid, "draft_plan")) == 1
    assert chain_holds(factory)


def _revision(page: str) -> str:
    match = re.search(r'name="revision" value="(\d+)"', page)
    assert match, "the page shows the task's form"
    return match.group(1)


def test_the_document_describes_the_header_and_its_answers(
        client: FlaskClient, factory: sessionmaker[Session], ctx: EngineContext, demo: Demo) -> None:
    """Every keyed operation lists the header; a replay, a reused key and a bad key validate against it."""
    for path, item in DOC["paths"].items():
        for method, operation in item.items():
            if method in ("post", "put", "patch", "delete"):
                keyed_op = {"$ref": "#/components/parameters/IdempotencyKey"} in operation.get("parameters", [])
                assert keyed_op == (operation["operationId"] not in UNKEYED), (method, path)
                assert not keyed_op or {"400", "422"} <= set(operation["responses"]), (method, path)
    unit1 = Caller(client, "unit1")
    iid = open_rectification(factory, ctx, demo)
    task = ready_task(factory, iid, "receive_feedback")
    claim = f"{API}/tasks/{task.id}/claim"
    for answer in (unit1.post(f"/tasks/{task.id}/claim", headers=keyed("doc")),
                   unit1.post(f"/tasks/{task.id}/claim", headers=keyed("doc")),
                   unit1.post(f"/tasks/{task.id}/unclaim", headers=keyed("doc")),
                   unit1.post(f"/tasks/{task.id}/claim", headers=keyed("x" * 129))):
        operation = "/tasks/{task_id}/claim" if answer.request.path == claim else "/tasks/{task_id}/unclaim"
        check_response("POST", operation, answer)


UNKEYED = {"createToken", "createMigration", "setCalendarDay", "removeCalendarDay"}


def test_a_commit_that_fails_is_a_503_that_stores_nothing_and_the_retry_acts(
        app: Flask, client: FlaskClient, factory: sessionmaker[Session], ctx: EngineContext, demo: Demo) -> None:
    """The change and the key's record commit together: when that commit fails (the database went away),
    the answer is the usual 503, neither the change nor the record is stored, and the same retry acts."""
    unit1 = Caller(client, "unit1")
    iid, task_id, revision = claimed_feedback_task(factory, ctx, demo, unit1)
    failures = [OperationalError("COMMIT", {}, Exception("server closed the connection unexpectedly"))]

    def lose_the_commit(_conn: Any) -> None:
        if failures:
            raise failures.pop()

    sql_engine = app.extensions["xuncha.engine"]
    event.listen(sql_engine, "commit", lose_the_commit)
    try:
        body = {"data": FEEDBACK, "revision": revision}
        lost = unit1.post(f"/tasks/{task_id}/complete", body, headers=keyed("lost-commit"))
        assert lost.status_code == 503 and lost.get_json()["error"]["code"] == "busy"
        assert task_row(factory, task_id).status == TaskStatus.READY and records(factory) == 0
        assert case_events(factory, iid, "task_completed") == []

        retry = unit1.post(f"/tasks/{task_id}/complete", body, headers=keyed("lost-commit"))
    finally:
        event.remove(sql_engine, "commit", lose_the_commit)
    assert retry.status_code == 200 and "Idempotent-Replay" not in retry.headers
    assert len(case_events(factory, iid, "task_completed")) == 1 and records(factory) == 1
    assert chain_holds(factory)


def test_a_retried_upload_is_the_same_request_whatever_its_multipart_boundary(
        client: FlaskClient, factory: sessionmaker[Session], ctx: EngineContext, demo: Demo) -> None:
    """A client draws a new boundary for every multipart body: the fields and the files' contents decide."""
    office = Caller(client, "office1")
    iid = open_clue(factory, ctx, demo)

    def upload(data: bytes, name: str = "整改报告.pdf") -> Any:
        return office.post(f"/instances/{iid}/attachments", data={"file": (io.BytesIO(data), name)},
                           headers=keyed("upload-1"))

    first, retry = upload(PDF), upload(PDF)
    other_file = upload(PDF + b"\n% another version")

    assert first.status_code == retry.status_code == 201
    assert retry.headers["Idempotent-Replay"] == "true" and retry.get_json() == first.get_json()
    assert other_file.status_code == 422
    assert [a["id"] for a in office.get(f"/instances/{iid}/attachments").get_json()] == [first.get_json()["id"]]


def test_a_keyed_multipart_request_with_a_nameless_part_is_refused_not_a_500(
        client: FlaskClient, factory: sessionmaker[Session], demo: Demo) -> None:
    """Found by the fuzzer: a part without a name must not break the request's fingerprint."""
    designer = Caller(client, "designer1")
    body = (b'--b\r\nContent-Disposition: form-data\r\n\r\nvalue\r\n'
            b'--b\r\nContent-Disposition: form-data; name="comment"\r\n\r\nx\r\n--b--\r\n')
    response = client.post(f"{API}/definitions", data=body, content_type="multipart/form-data; boundary=b",
                           headers={"Authorization": f"Bearer {designer.token}", **keyed("nameless-1")})
    assert response.status_code == 400 and response.get_json()["error"]["code"] == "invalid_input"
    assert records(factory) == 0
