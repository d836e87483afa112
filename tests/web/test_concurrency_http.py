"""Task handling under real concurrency, through the whole HTTP stack.

The app is served by a real threaded werkzeug server (and, for separate processes, by gunicorn
workers, as deployed); every request is its own connection, its own thread and its own database
transaction, as in production. Clients are ``urllib`` openers with their own cookies or bearer
tokens. What is proved, on SQLite and on PostgreSQL:

* of twenty people claiming one task at once exactly one wins; the others get 409
  ``task_already_claimed`` (on SQLite a lock wait that runs out would be a clear 503), never a 500;
  the audit holds one claim and the task names the winner;
* two submissions of one task at once: one goes through, the other gets a 409, and the case moves
  on by exactly one step;
* a form opened before the task changed is refused with a clear 409 and writes nothing;
* a step that fails half-way (after the projections are written) leaves the database exactly as
  it was, and the same step then succeeds;
* a lock wait that runs out is a clear 503 ("nothing was changed"), and nothing was.
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from http.cookiejar import CookieJar
from pathlib import Path
from typing import Any
from urllib.error import HTTPError
from urllib.parse import urlencode
from urllib.request import HTTPCookieProcessor, HTTPRedirectHandler, OpenerDirector, Request, build_opener

import pytest
from flask import Flask
from sqlalchemy import Engine, event, select
from sqlalchemy.orm import Session, sessionmaker
from werkzeug.serving import make_server

import engine.audit
from engine import audit
from engine.accounts import issue_token
from engine.context import EngineContext
from engine.db import READ_ONLY, make_session_factory, transaction
from engine.demo import DEMO_PASSWORD, Demo
from models import AuditEvent, Base, HumanTask, ProcessInstance, TaskStatus, User
from tests.helpers import add_user, open_rectification, ready_task, ready_tasks, task_row
from tests.web.helpers import API, make_app

CONTENDERS = 20


# -- a real server and real clients -------------------------------------------------------------------------


@contextmanager
def serving(app: Flask) -> Iterator[str]:
    """The app on a threaded HTTP server, at the returned base URL."""
    http = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=http.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{http.server_port}"
    finally:
        http.shutdown()
        thread.join(timeout=10)
        app.extensions["xuncha.engine"].dispose()


@pytest.fixture
def server(db_url: str, demo: Demo, ctx: EngineContext) -> Iterator[str]:
    """The app as in production (not in testing mode, CSRF on)."""
    with serving(make_app(db_url, ctx, TESTING=False)) as base:
        yield base


class _NoRedirects(HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None  # a 302 comes back as the response itself


class Client:
    """One person's own connection to the server: cookies for the pages, or a bearer token for the API."""

    def __init__(self, base: str, token: str | None = None):
        self.base = base
        self.opener: OpenerDirector = build_opener(HTTPCookieProcessor(CookieJar()), _NoRedirects())
        self.token = token

    def request(self, method: str, path: str, *, form: dict[str, str] | None = None,
                body: Any = None) -> tuple[int, str]:
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        data = None
        if form is not None:
            data, headers["Content-Type"] = urlencode(form).encode(), "application/x-www-form-urlencoded"
        elif body is not None:
            data, headers["Content-Type"] = json.dumps(body).encode(), "application/json"
        req = Request(self.base + path, data=data, method=method, headers=headers)
        try:
            with self.opener.open(req, timeout=120) as response:
                return response.status, response.read().decode()
        except HTTPError as error:
            with error:
                return error.code, error.read().decode()

    def api(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        status, text = self.request(method, API + path, body=body)
        return status, json.loads(text) if text else None

    def log_in(self, username: str) -> Client:
        """Log in on the login page (with its CSRF token), as a browser does."""
        page = self.request("GET", "/login")[1]
        status, _ = self.request("POST", "/login", form={"username": username, "password": DEMO_PASSWORD,
                                                         "csrf_token": csrf_token(page)})
        assert status == 302, f"{username} could not log in"
        return self

    def get_token(self, username: str) -> Client:
        status, body = self.api("POST", "/auth/token", {"username": username, "password": DEMO_PASSWORD})
        assert status == 200, body
        self.token = body["token"]
        return self


def csrf_token(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "the page carries a CSRF token"
    return match.group(1)


def task_form(html: str) -> dict[str, str]:
    """The hidden fields of a task page's form as it was when the page was opened."""
    match = re.search(r'name="revision" value="(\d+)"', html)
    assert match, "the page shows the task's form"
    return {"csrf_token": csrf_token(html), "revision": match.group(1)}


def at_once(calls: list[Any]) -> list[Any]:
    """Run the calls in threads released together; their results in the same order."""
    barrier, results = threading.Barrier(len(calls)), [None] * len(calls)

    def run(index: int) -> None:
        barrier.wait()
        results[index] = calls[index]()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=180)
    assert all(not t.is_alive() for t in threads), "a request never came back"
    return results


# -- what the database holds --------------------------------------------------------------------------------


def everything(sql_engine: Engine) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table, in key order: two equal snapshots mean nothing at all was written."""
    with sql_engine.execution_options(**{READ_ONLY: True}).connect() as conn:
        return {table.name: [tuple(row) for row in conn.execute(
            select(table).order_by(*table.primary_key.columns))] for table in Base.metadata.sorted_tables}


def case_events(factory: sessionmaker[Session], instance_id: int, event_type: str) -> list[AuditEvent]:
    with factory() as session:
        return [e for e in audit.stream_events(session, instance_id) if e.event_type == event_type]


def version(factory: sessionmaker[Session], instance_id: int) -> int:
    with factory() as session:
        return session.execute(select(ProcessInstance.version).where(ProcessInstance.id == instance_id)).scalar_one()


def task_count(factory: sessionmaker[Session], instance_id: int) -> int:
    with factory() as session:
        return len(session.execute(select(HumanTask.id).where(HumanTask.instance_id == instance_id)).all())


def user_id(factory: sessionmaker[Session], username: str) -> int:
    with factory() as session:
        return session.execute(select(User.id).where(User.username == username)).scalar_one()


def chain_holds(factory: sessionmaker[Session]) -> bool:
    with factory() as session:
        return audit.verify(session).ok


def liaisons(factory: sessionmaker[Session], password_hash: str, count: int) -> list[str]:
    """``count`` more liaisons of 市教育局 (each may take its rectification tasks), with the demo password."""
    names = [f"edu-liaison-{n}" for n in range(count)]
    for name in names:
        add_user(factory, name, "U-EDU", "unit", password_hash=password_hash, display_name=f"教育局联络员 {name}")
    return names


def issue_tokens(factory: sessionmaker[Session], usernames: list[str], now: datetime) -> dict[str, str]:
    """A bearer token for each, issued straight into the database: twenty logins (each a deliberately slow
    password check) are not what these tests are about. The API's own token endpoint is used elsewhere."""
    with transaction(factory) as session:
        users = {u.username: u for u in session.execute(select(User).where(User.username.in_(usernames))).scalars()}
        return {name: issue_token(session, users[name], now)[0] for name in usernames}


def is_a_clear_conflict(status: int, body: Any, code: str, zh: str) -> bool:
    return status == 409 and body["error"]["code"] == code and zh in body["error"]["message"]


# -- twenty claimers ----------------------------------------------------------------------------------------


def test_exactly_one_of_twenty_threads_claiming_over_http_wins(
        server: str, factory: sessionmaker[Session], ctx: EngineContext, demo: Demo, demo_password_hash: str,
        db_url: str) -> None:
    iid = open_rectification(factory, ctx, demo)
    task = ready_task(factory, iid, "receive_feedback")
    names = liaisons(factory, demo_password_hash, CONTENDERS)
    people = {name: Client(server, token) for name, token in issue_tokens(factory, names, ctx.clock.now()).items()}

    outcomes = dict(zip(people, at_once([
        lambda c=client: c.api("POST", f"/tasks/{task.id}/claim") for client in people.values()]), strict=True))

    winners = [name for name, (status, _) in outcomes.items() if status == 200]
    assert len(winners) == 1, outcomes
    (winner,) = winners
    assert outcomes[winner][1]["assignee"] == winner and outcomes[winner][1]["revision"] == task.revision + 1
    losers = [outcomes[name] for name in people if name != winner]
    busy = [body for status, body in losers if status == 503]
    assert all(is_a_clear_conflict(status, body, "task_already_claimed", "该任务已被他人签收办理")
               for status, body in losers if status != 503), losers
    # Only SQLite's lock wait can run out, and then the answer says so (PostgreSQL waits on the row lock).
    assert all(body["error"]["code"] == "busy" and "操作未生效" in body["error"]["message"] for body in busy)
    assert not busy or db_url.startswith("sqlite"), busy
    stored = task_row(factory, task.id)
    assert stored.assignee_id == user_id(factory, winner) and stored.revision == task.revision + 1
    assert stored.status == TaskStatus.READY
    claims = case_events(factory, iid, "task_claimed")
    assert [(e.actor_name, json.loads(e.payload)["assignee"]) for e in claims] == [(winner, winner)]
    assert chain_holds(factory)


# The client of the process test: it starts, says it is ready, waits for "go" on stdin, sends its one
# request and prints what came back. Only the standard library (it runs with -S: no site packages).
CLIENT = r"""
import json, sys, urllib.request, urllib.error
url, token = sys.argv[1], sys.argv[2]
print("ready", flush=True)
sys.stdin.readline()
req = urllib.request.Request(url, data=b"", method="POST", headers={"Authorization": "Bearer " + token})
try:
    with urllib.request.urlopen(req, timeout=120) as r:
        status, body = r.status, r.read().decode()
except urllib.error.HTTPError as e:
    status, body = e.code, e.read().decode()
print(json.dumps({"status": status, "body": json.loads(body)}), flush=True)
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@pytest.fixture
def gunicorn(db_url: str, demo: Demo, tmp_path: Path) -> Iterator[str]:
    """The app as deployed (docker-compose.yml): gunicorn with four worker processes."""
    port = _free_port()
    env = {**os.environ, "DATABASE_URL": db_url, "SECRET_KEY": "concurrency-test", "XUNCHA_DEPLOY_SHIPPED": "0",
           "XUNCHA_INSTANCE_DIR": str(tmp_path / "instance")}
    log = tmp_path / "gunicorn.log"
    with log.open("w") as stderr:
        process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "--bind", f"127.0.0.1:{port}", "--workers", "4", "--preload",
             "--timeout", "120", "--log-level", "warning", "web:create_app()"],
            env=env, cwd=Path(__file__).resolve().parents[2], stderr=stderr)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    try:
        while True:
            try:
                if Client(base).request("GET", "/login")[0] == 200:
                    break
            except OSError:
                pass
            assert process.poll() is None and time.monotonic() < deadline, log.read_text()
            time.sleep(0.2)
        yield base
    finally:
        process.terminate()
        process.wait(timeout=30)


def test_exactly_one_of_twenty_processes_claiming_through_gunicorn_wins(
        gunicorn: str, factory: sessionmaker[Session], ctx: EngineContext, demo: Demo,
        demo_password_hash: str) -> None:
    """Twenty client processes against four server processes: separate connections and pools all round."""
    iid = open_rectification(factory, ctx, demo)
    task = ready_task(factory, iid, "receive_feedback")
    names = liaisons(factory, demo_password_hash, CONTENDERS)
    tokens = issue_tokens(factory, names, datetime.now(UTC)).values()  # gunicorn runs on the real clock
    clients = [subprocess.Popen([sys.executable, "-S", "-c", CLIENT, f"{gunicorn}{API}/tasks/{task.id}/claim",
                                 str(token)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
               for token in tokens]
    try:
        for client in clients:
            assert client.stdout is not None and client.stdout.readline().strip() == "ready"
        for client in clients:
            assert client.stdin is not None
            client.stdin.write("go\n")
            client.stdin.flush()
        results = [json.loads(client.communicate(timeout=120)[0]) for client in clients]
    finally:
        for client in clients:
            if client.poll() is None:
                client.kill()

    winners = [name for name, r in zip(names, results, strict=True) if r["status"] == 200]
    assert len(winners) == 1, results
    assert all(is_a_clear_conflict(r["status"], r["body"], "task_already_claimed", "该任务已被他人签收办理")
               or (r["status"] == 503 and r["body"]["error"]["code"] == "busy")
               for name, r in zip(names, results, strict=True) if name != winners[0]), results
    assert task_row(factory, task.id).assignee_id == user_id(factory, winners[0])
    assert [e.actor_name for e in case_events(factory, iid, "task_claimed")] == winners
    assert chain_holds(factory)


# -- two submissions of one task ----------------------------------------------------------------------------


def test_two_people_submitting_one_task_form_at_once_one_wins_one_gets_409(
        server: str, factory: sessionmaker[Session], ctx: EngineContext, demo: Demo,
        demo_password_hash: str) -> None:
    """Two liaisons each open the unclaimed 反馈 task (submitting claims it) and press 提交 together."""
    iid = open_rectification(factory, ctx, demo)
    task = ready_task(factory, iid, "receive_feedback")
    (other,) = liaisons(factory, demo_password_hash, 1)
    people = {name: Client(server).log_in(name) for name in ("unit1", other)}
    forms = {name: {**task_form(c.request("GET", f"/tasks/{task.id}")[1]), "feedback_received_on": "2026-11-20",
                    "feedback_meeting_note": f"{name} 提交"} for name, c in people.items()}
    version_before, tasks_before = version(factory, iid), task_count(factory, iid)

    outcomes = dict(zip(people, at_once([
        lambda n=name, c=client: c.request("POST", f"/tasks/{task.id}/complete", form=forms[n])
        for name, client in people.items()]), strict=True))

    assert sorted(status for status, _ in outcomes.values()) == [302, 409], outcomes
    (winner,) = [name for name, (status, _) in outcomes.items() if status == 302]
    (refused,) = [page for status, page in outcomes.values() if status == 409]
    assert any(message in refused for message in ("该任务已办结或已取消", "任务在您打开后已发生变化",
                                                  "该任务已不在待办状态")), refused
    _moved_on_once(factory, iid, task.id, winner, version_before, tasks_before)


def test_two_sessions_of_the_holder_completing_at_once_one_wins_one_gets_409(
        server: str, factory: sessionmaker[Session], ctx: EngineContext, demo: Demo) -> None:
    """The holder submits from two API sessions at once (a retried request, a second device)."""
    iid = open_rectification(factory, ctx, demo)
    task = ready_task(factory, iid, "receive_feedback")
    first, second = Client(server).get_token("unit1"), Client(server).get_token("unit1")
    status, claimed = first.api("POST", f"/tasks/{task.id}/claim")
    assert status == 200
    version_before, tasks_before = version(factory, iid), task_count(factory, iid)
    body = {"data": {"feedback_received_on": "2026-11-20"}, "revision": claimed["revision"]}

    outcomes = at_once([lambda c=c: c.api("POST", f"/tasks/{task.id}/complete", body) for c in (first, second)])

    assert sorted(status for status, _ in outcomes) == [200, 409], outcomes
    (ok,) = [body for status, body in outcomes if status == 200]
    (conflict,) = [body for status, body in outcomes if status == 409]
    assert conflict["error"]["code"] in {"task_not_active", "stale_state"}, conflict
    assert [t["bpmn_id"] for t in ok["next_tasks"]] == ["draft_plan"]
    _moved_on_once(factory, iid, task.id, "unit1", version_before, tasks_before)


def _moved_on_once(factory: sessionmaker[Session], iid: int, task_id: int, winner: str, version_before: int,
                   tasks_before: int) -> None:
    """The case went exactly one step on: one completion recorded, the next task created once."""
    stored = task_row(factory, task_id)
    assert stored.status == TaskStatus.COMPLETED and stored.completed_by_id == user_id(factory, winner)
    completions = case_events(factory, iid, "task_completed")
    assert [(e.actor_name, json.loads(e.payload)["task_id"]) for e in completions] == [(winner, task_id)]
    assert len(ready_tasks(factory, iid, "draft_plan")) == 1
    assert task_count(factory, iid) == tasks_before + 1
    assert version(factory, iid) == version_before + 1
    assert chain_holds(factory)


# -- a stale form -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("change", ["unclaim", "reassign"])
def test_a_form_opened_before_the_task_changed_is_refused_and_nothing_is_written(
        server: str, factory: sessionmaker[Session], ctx: EngineContext, demo: Demo, demo_password_hash: str,
        sql_engine: Engine, change: str) -> None:
    iid = open_rectification(factory, ctx, demo)
    task = ready_task(factory, iid, "receive_feedback")
    (other,) = liaisons(factory, demo_password_hash, 1)
    unit1 = Client(server).log_in("unit1")
    page = unit1.request("GET", f"/tasks/{task.id}")[1]
    assert unit1.request("POST", f"/tasks/{task.id}/claim", form={"csrf_token": csrf_token(page)})[0] == 302
    opened = task_form(unit1.request("GET", f"/tasks/{task.id}")[1])  # revision n
    office = Client(server).get_token("office1")
    status, changed = (office.api("POST", f"/tasks/{task.id}/unclaim") if change == "unclaim"
                       else office.api("POST", f"/tasks/{task.id}/assign", {"user": other}))
    assert status == 200 and changed["revision"] == int(opened["revision"]) + 1
    before = everything(sql_engine)

    status, refused = unit1.request("POST", f"/tasks/{task.id}/complete", form={
        **opened, "feedback_received_on": "2026-11-20", "feedback_meeting_note": "会议已召开"})

    assert status == 409
    assert "任务在您打开后已发生变化，请刷新后重新提交。" in refused
    assert everything(sql_engine) == before  # no completion, no task rows, no audit, same case version
    stored = task_row(factory, task.id)
    assert stored.status == TaskStatus.READY
    assert stored.assignee_id == (None if change == "unclaim" else user_id(factory, other))
    assert case_events(factory, iid, "task_completed") == []

    # The same through the API: the JSON envelope says the same, and again nothing is written.
    api = Client(server).get_token(other if change == "reassign" else "unit1")
    if change == "unclaim":
        assert api.api("POST", f"/tasks/{task.id}/claim")[0] == 200
    before = everything(sql_engine)
    status, body = api.api("POST", f"/tasks/{task.id}/complete", {
        "data": {"feedback_received_on": "2026-11-20"}, "revision": int(opened["revision"])})
    assert is_a_clear_conflict(status, body, "stale_state", "任务在您打开后已发生变化"), body
    assert everything(sql_engine) == before


# -- a step that fails half-way -----------------------------------------------------------------------------


def test_a_step_failing_after_its_projections_are_written_leaves_everything_as_it_was(
        server: str, factory: sessionmaker[Session], ctx: EngineContext, demo: Demo, sql_engine: Engine,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The audit chain is written last in a step (after the task rows and the case's own rows); make it
    fail there, for a claim and for a completion: the request is a 500 and not one row changed."""
    iid = open_rectification(factory, ctx, demo)
    task = ready_task(factory, iid, "receive_feedback")
    unit1 = Client(server).get_token("unit1")
    real_chain_case = engine.audit.chain_case
    calls: list[str] = []

    def failing_chain_case(*args: Any, **kwargs: Any) -> Any:
        calls.append("chain_case")
        raise RuntimeError("disk full")

    for action, body in (("claim", None), ("complete", {"data": {"feedback_received_on": "2026-11-20"}})):
        if action == "complete":
            assert unit1.api("POST", f"/tasks/{task.id}/claim")[0] == 200
        before = everything(sql_engine)
        monkeypatch.setattr(engine.audit, "chain_case", failing_chain_case)
        status, error = unit1.api("POST", f"/tasks/{task.id}/{action}", body)
        monkeypatch.setattr(engine.audit, "chain_case", real_chain_case)
        assert calls and status == 500 and error["error"]["code"] == "internal_error", error
        assert "操作未生效" in error["error"]["message"]
        assert everything(sql_engine) == before, f"a failed {action} left rows behind"
        calls.clear()

    # The same step then goes through, once: the failed attempt left nothing in any cache either.
    status, done = unit1.api("POST", f"/tasks/{task.id}/complete", {"data": {"feedback_received_on": "2026-11-20"}})
    assert status == 200 and [t["bpmn_id"] for t in done["next_tasks"]] == ["draft_plan"], done
    assert [e.event_type for e in case_events(factory, iid, "task_completed")] == ["task_completed"]
    assert len(ready_tasks(factory, iid, "draft_plan")) == 1
    with make_session_factory(sql_engine, read_only=True)() as session:
        assert audit.verify(session).ok


# -- a lock wait that runs out ------------------------------------------------------------------------------


def impatient(engine: Engine) -> None:
    """Make the app's connections give up waiting for a lock after 0.3 s instead of the usual 30 s."""
    @event.listens_for(engine, "connect")
    def _short_lock_wait(dbapi_connection: Any, _record: Any) -> None:
        if engine.dialect.name == "sqlite":
            dbapi_connection.execute("PRAGMA busy_timeout=300")
            return
        dbapi_connection.autocommit = True
        dbapi_connection.execute("SET lock_timeout = '300ms'")
        dbapi_connection.autocommit = False


@contextmanager
def holding_the_case(sql_engine: Engine, instance_id: int) -> Iterator[None]:
    """Someone else's long step: the case's row lock (on SQLite, the database's write lock) held."""
    with sql_engine.connect() as conn:
        conn.execute(select(ProcessInstance.id).where(ProcessInstance.id == instance_id).with_for_update())
        yield
        conn.rollback()


def test_a_lock_wait_that_runs_out_is_a_clear_503_and_writes_nothing(
        db_url: str, demo: Demo, ctx: EngineContext, factory: sessionmaker[Session], sql_engine: Engine) -> None:
    iid = open_rectification(factory, ctx, demo)
    task = ready_task(factory, iid, "receive_feedback")
    app = make_app(db_url, ctx, TESTING=False)
    impatient(app.extensions["xuncha.engine"])
    with serving(app) as base:
        api, person = Client(base).get_token("unit1"), Client(base).log_in("unit1")
        form = {"csrf_token": csrf_token(person.request("GET", f"/tasks/{task.id}")[1])}
        before = everything(sql_engine)
        with holding_the_case(sql_engine, iid):
            status, body = api.api("POST", f"/tasks/{task.id}/claim")
            page_status, page = person.request("POST", f"/tasks/{task.id}/claim", form=form)
        assert status == 503 and body["error"]["code"] == "busy", body
        assert "系统繁忙，操作未生效" in body["error"]["message"]
        assert page_status == 503 and "系统繁忙，操作未生效" in page
        assert everything(sql_engine) == before
        # Once the other step is done, trying again works.
        status, body = api.api("POST", f"/tasks/{task.id}/claim")
        assert status == 200 and body["assignee"] == "unit1"
