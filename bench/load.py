"""HTTP load: simulated handlers claim and complete tasks through the JSON API on gunicorn + PostgreSQL.

Each handler is a thread with its own keep-alive connection and bearer token. Two ways of working:

* ``--mode next`` (default): the handler presses 签收下一件 (``POST /tasks/next``), completes the task it
  got, and every ``--glance`` completions reads its queue page, as a person glances at the list;
* ``--mode pick``: the handler reads a page of its group queue (20 rows; handlers start on pages 1–4)
  and claims and completes the tasks on it in a shuffled order; a 409 from a colleague who was faster
  is counted as a conflict, not an error.

The cases are one-task processes in the office's lane, started beforehand through the engine, so
every completion is a real step: load, run, persist, project, audit.

Printed: completions per second, per-request latency (p50/p95/p99) for queue reads, claims and
completions, errors and conflicts, and — as the baseline measured in the same run — the rate gunicorn
serves ``GET /healthz`` to the same number of clients (the HTTP ceiling of this machine and
configuration). Afterwards the database is checked: every completion the clients saw is a completed
task row, no task is completed twice, and the audit chains verify.

    python -m bench.load --database-url postgresql://postgres@127.0.0.1:5432/test
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select

from bench.common import describe_machine, scratch_database
from engine import audit, calendar
from engine.accounts import hash_password
from engine.actors import actor_for
from engine.context import EngineContext
from engine.db import make_engine, make_session_factory, transaction
from engine.definitions import deploy
from engine.demo import CITY_CODE, seed_reference_data
from engine.migrate import upgrade
from engine.runtime import start_instance
from models import Group, HumanTask, Membership, Organisation, TaskStatus, User

PASSWORD = "load-test"
PROCESS = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="Defs_load"
    targetNamespace="http://xuncha.local/bpmn">
  <bpmn:process id="load_test" name="负载测试" isExecutable="true">
    <bpmn:laneSet id="LaneSet_1">
      <bpmn:lane id="Lane_office" name="office">
        <bpmn:flowNodeRef>start</bpmn:flowNodeRef><bpmn:flowNodeRef>handle</bpmn:flowNodeRef>
        <bpmn:flowNodeRef>end</bpmn:flowNodeRef>
      </bpmn:lane>
    </bpmn:laneSet>
    <bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:userTask id="handle" name="办理"><bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing>
    </bpmn:userTask>
    <bpmn:endEvent id="end"><bpmn:incoming>f2</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="handle" />
    <bpmn:sequenceFlow id="f2" sourceRef="handle" targetRef="end" />
  </bpmn:process>
</bpmn:definitions>
""".encode()


def seed(url: str, handlers: int, cases: int) -> list[str]:
    """Migrate, add ``handlers`` office handlers and start ``cases`` one-task cases; return the user names."""
    upgrade(url)
    engine = make_engine(url)
    factory = make_session_factory(engine)
    ctx = EngineContext.default()
    secret = hash_password(PASSWORD)
    names = [f"handler{n:02d}" for n in range(handlers)]
    with transaction(factory) as session:
        calendar.load(session)
        seed_reference_data(session, secret)
        city = session.execute(select(Organisation).where(Organisation.code == CITY_CODE)).scalar_one()
        office = session.execute(select(Group).where(Group.key == "office")).scalar_one()
        for name in names:
            user = User(username=name, display_name=f"办理人 {name}", password_hash=secret, org_id=city.id)
            session.add(user)
            session.flush()
            session.add(Membership(user_id=user.id, group_id=office.id, org_id=city.id))
        deploy(session, PROCESS, None, ctx.forms, at=ctx.clock.now())
    with factory() as session:
        starter = actor_for(session.execute(select(User).where(User.username == names[0])).scalar_one())
        scope = city.path
    batch = 200
    for first in range(0, cases, batch):
        with transaction(factory) as session:
            for n in range(first, min(cases, first + batch)):
                start_instance(session, ctx, starter, "load_test", {"n": n}, scope_path=scope, title=f"负载 {n}")
    engine.dispose()
    return names


@dataclass
class Results:
    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    errors: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    conflicts: int = 0
    completed_ids: list[int] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, kind: str, status: int, elapsed: float, expected: tuple[int, ...] = (200,)) -> None:
        """One request's latency; a status other than ``expected`` is an error (a claim's 409: a conflict)."""
        with self.lock:
            self.latencies[kind].append(elapsed)
            if kind == "claim" and status == 409:
                self.conflicts += 1
            elif status not in expected:
                self.errors[f"{kind} {status}"] += 1


class Client:
    def __init__(self, port: int, token: str | None = None):
        self.port, self.token = port, token
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)

    def call(self, method: str, path: str, body: Any = None) -> tuple[int, Any, float]:
        headers = {"Content-Type": "application/json", "Accept-Language": "zh-CN"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        payload = json.dumps(body) if body is not None else None
        started = time.perf_counter()
        for attempt in (1, 2):
            try:
                self.conn.request(method, path, body=payload, headers=headers)
                response = self.conn.getresponse()
                data = response.read()
                break
            except (TimeoutError, http.client.HTTPException, ConnectionError):
                self.conn.close()
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
                if attempt == 2:
                    raise
        elapsed = time.perf_counter() - started
        parsed = json.loads(data) if data and response.getheader("Content-Type", "").startswith("application/json") \
            else None
        return response.status, parsed, elapsed


def signed_in(port: int, username: str) -> Client:
    client = Client(port)
    status, body, _ = client.call("POST", "/api/v1/auth/token", {"username": username, "password": PASSWORD})
    assert status == 200, body
    client.token = body["token"]
    return client


def complete(client: Client, task_id: int, results: Results) -> None:
    status, _body, elapsed = client.call("POST", f"/api/v1/tasks/{task_id}/complete", {"data": {"comment": "已办理"}})
    results.record("complete", status, elapsed)
    if status == 200:
        with results.lock:
            results.completed_ids.append(task_id)


def next_loop(port: int, username: str, glance: int, deadline: float, results: Results) -> None:
    """签收下一件, complete, and now and then a look at the queue page."""
    client = signed_in(port, username)
    done = 0
    while time.perf_counter() < deadline:
        if done % glance == 0:
            status, _body, elapsed = client.call("GET", "/api/v1/tasks?queue=group&per_page=20")
            results.record("queue", status, elapsed)
        status, body, elapsed = client.call("POST", "/api/v1/tasks/next")
        results.record("claim", status, elapsed, expected=(200, 204))
        if status == 204:
            return  # the queue is empty: the run has outlasted its cases
        if status != 200:
            continue
        complete(client, body["id"], results)
        done += 1


def pick_loop(port: int, username: str, page: int, deadline: float, results: Results) -> None:
    """Read a page of the queue, then claim and complete its tasks in a shuffled order."""
    client = signed_in(port, username)
    rng = random.Random(username)
    while time.perf_counter() < deadline:
        status, body, elapsed = client.call("GET", f"/api/v1/tasks?queue=group&per_page=20&page={page}")
        results.record("queue", status, elapsed)
        if status != 200 or not body["items"]:
            page = 1  # fewer tasks left than pages handlers start on
            time.sleep(0.05)
            continue
        tasks = [t["id"] for t in body["items"]]
        rng.shuffle(tasks)
        for task_id in tasks:
            if time.perf_counter() >= deadline:
                return
            status, _body, elapsed = client.call("POST", f"/api/v1/tasks/{task_id}/claim")
            results.record("claim", status, elapsed)
            if status == 200:
                complete(client, task_id, results)


def baseline(port: int, clients: int, seconds: float) -> float:
    """Requests per second gunicorn serves GET /healthz to ``clients`` keep-alive clients."""
    counts = [0] * clients
    deadline = time.perf_counter() + seconds

    def loop(index: int) -> None:
        client = Client(port)
        while time.perf_counter() < deadline:
            status, _body, _elapsed = client.call("GET", "/healthz")
            counts[index] += status == 200

    threads = [threading.Thread(target=loop, args=(i,)) for i in range(clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sum(counts) / (time.perf_counter() - started)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_gunicorn(url: str, port: int, workers: int, threads: int) -> subprocess.Popen[bytes]:
    env = {**os.environ, "DATABASE_URL": url, "SECRET_KEY": "load-test", "XUNCHA_DEPLOY_SHIPPED": "0",
           "XUNCHA_LOG_LEVEL": "WARNING", "XUNCHA_BIND": f"127.0.0.1:{port}", "XUNCHA_WORKERS": str(workers)}
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    command = [sys.executable, "-m", "gunicorn", "-c", "python:web.gunicorn_conf", "--threads", str(threads),
               "--worker-class", "gthread" if threads > 1 else "sync", "web.wsgi:app"]
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            status, _body, _elapsed = Client(port).call("GET", "/readyz")
            if status == 200:
                return process
        except OSError:
            pass
        if process.poll() is not None:
            raise SystemExit(f"gunicorn exited: {process.stderr.read().decode() if process.stderr else ''}")
        time.sleep(0.3)
    process.terminate()
    raise SystemExit("gunicorn did not become ready in 60 s")


def quantiles(values: list[float]) -> str:
    if not values:
        return "—"
    ordered = sorted(values)

    def at(q: float) -> float:
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000

    return f"p50 {at(0.5):6.1f} ms  p95 {at(0.95):6.1f} ms  p99 {at(0.99):6.1f} ms  (n={len(values)})"


def check_database(url: str, completed_ids: list[int]) -> list[str]:
    engine = make_engine(url)
    problems = []
    with make_session_factory(engine, read_only=True)() as session:
        completed = session.execute(select(func.count()).select_from(HumanTask)
                                    .where(HumanTask.status == TaskStatus.COMPLETED)).scalar_one()
        if completed != len(completed_ids):
            problems.append(f"{completed} completed task rows, clients saw {len(completed_ids)} completions")
        if len(set(completed_ids)) != len(completed_ids):
            problems.append("a task was completed twice")
        verification = audit.verify(session)
        if not verification.ok:
            problems.append(f"audit chain broken: {verification.first_broken}")
    engine.dispose()
    return problems


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL") or os.environ.get(
        "TEST_DATABASE_URL") or "postgresql://postgres@127.0.0.1:5432/test",
        help="PostgreSQL server (a scratch database xuncha_bench is created there)")
    parser.add_argument("--handlers", type=int, default=16, help="concurrent simulated handlers")
    parser.add_argument("--cases", type=int, default=8000, help="one-task cases started beforehand")
    parser.add_argument("--seconds", type=float, default=20, help="length of the measured run")
    parser.add_argument("--workers", type=int, default=4, help="gunicorn worker processes")
    parser.add_argument("--threads", type=int, default=1, help="threads per worker (gthread when > 1)")
    parser.add_argument("--mode", choices=("next", "pick"), default="next",
                        help="next: 签收下一件 + complete; pick: claim tasks picked from a queue page")
    parser.add_argument("--glance", type=int, default=10, help="next mode: read the queue every N completions")
    args = parser.parse_args()

    url = scratch_database(args.database_url)
    print(f"machine: {describe_machine()}; database: PostgreSQL scratch database; gunicorn {args.workers} "
          f"workers × {args.threads} threads; {args.handlers} handlers ({args.mode} mode); {args.cases} cases")
    started = time.perf_counter()
    users = seed(url, args.handlers, args.cases)
    print(f"seeded in {time.perf_counter() - started:.1f} s")
    port = free_port()
    server = start_gunicorn(url, port, args.workers, args.threads)
    try:
        ceiling = baseline(port, args.handlers, 5)
        results = Results()
        deadline = time.perf_counter() + args.seconds
        # In pick mode handlers of one group read the same queue; starting on different pages of it keeps most
        # claims from colliding (as colleagues do when they split a long list), while conflicts still happen.
        def handler(i: int) -> threading.Thread:
            user = users[i % len(users)]
            if args.mode == "next":
                return threading.Thread(target=next_loop, args=(port, user, args.glance, deadline, results))
            return threading.Thread(target=pick_loop, args=(port, user, 1 + i % 4, deadline, results))

        threads = [handler(i) for i in range(args.handlers)]
        began = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        elapsed = time.perf_counter() - began
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)
    rate = len(results.completed_ids) / elapsed
    requests = sum(len(v) for v in results.latencies.values())
    print(f"\nbaseline: GET /healthz {ceiling:8.1f} req/s (same clients, same server)")
    print(f"load:     {rate:8.1f} completions/s, {requests / elapsed:8.1f} requests/s over {elapsed:.1f} s "
          f"= {rate / ceiling:.2f}× the /healthz rate in completions")
    for kind in ("queue", "claim", "complete"):
        print(f"  {kind:9s} {quantiles(results.latencies[kind])}")
    every = [x for values in results.latencies.values() for x in values]
    print(f"  {'all':9s} {quantiles(every)}")
    print(f"conflicts (409 on claim, a colleague was faster): {results.conflicts}")
    print(f"errors: {dict(results.errors) or 0}")
    problems = check_database(url, results.completed_ids)
    print("database: " + ("consistent (completions match rows, no double completion, audit chains verify)"
                          if not problems else "; ".join(problems)))
    p95 = sorted(every)[int(0.95 * len(every))] * 1000 if every else float("inf")
    target = rate >= 200 and p95 < 100 and not results.errors
    print(f"target (≥ 200 completions/s, p95 < 100 ms, no errors): {'met' if target else 'not met'} "
          f"({rate:.0f}/s, p95 {p95:.0f} ms)")
    if problems:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
