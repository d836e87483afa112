"""A real database restart under load: PostgreSQL (a private cluster, tests/failure/private_postgres.py)
is restarted with ``pg_ctl restart -m fast`` while gunicorn serves completions from four client threads.

* Every answer during the outage is a clear 503 (``busy``, "nothing was changed") — never a 500, never a
  dropped connection;
* the app serves again after the restart by itself: the same gunicorn workers (no process restarted)
  answer 200 within seconds;
* the clients retry their 503s with the same Idempotency-Key: every step is done exactly once (a commit
  whose acknowledgement was lost is replayed, not repeated), and nothing is half-written (state loads,
  task and timer rows match the workflows, audit chains verify).
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from engine import demo as demo_data
from engine.clock import SystemClock
from engine.context import EngineContext
from engine.db import make_engine, make_session_factory, transaction
from engine.migrate import upgrade
from models import AuditEvent, HumanTask, TaskStatus
from tests.failure import consistency
from tests.failure.private_postgres import Cluster, missing_reason, private_cluster
from tests.failure.servers import DROPPED, claimed_first_steps, complete, gunicorn
from tests.web.test_concurrency_http import issue_tokens

pytestmark = [pytest.mark.heavy, pytest.mark.skipif(missing_reason() is not None, reason=str(missing_reason()))]

CASES, CLIENTS = 48, 4


@pytest.fixture
def cluster() -> Iterator[Cluster]:
    with private_cluster() as running:
        yield running


def test_requests_during_a_database_restart_get_a_clear_503_and_the_app_recovers_by_itself(
        cluster: Cluster, tmp_path: Path, demo_password_hash: str) -> None:
    url = cluster.create_database("xuncha")
    upgrade(url)
    engine = make_engine(url)
    factory = make_session_factory(engine)
    ctx = EngineContext.default(clock=SystemClock(), attachments_dir=tmp_path / "attachments")
    with transaction(factory) as session:
        demo = demo_data.seed_reference_data(session, demo_password_hash)
    tasks = claimed_first_steps(factory, ctx, demo, CASES)
    token = issue_tokens(factory, ["office1"], datetime.now(UTC))["office1"]
    engine.dispose()

    answers: list[tuple[float, int, Any]] = []  # (when, status, body) of every request sent
    done: set[int] = set()
    with gunicorn(url, tmp_path, workers=3, step_delay=0.05) as server:
        workers_before = server.workers()

        def client(share: list[int]) -> None:
            deadline = time.monotonic() + 90
            for task_id in share:
                while time.monotonic() < deadline:
                    status, body, _ = complete(server.base, token, task_id)
                    answers.append((time.monotonic(), status, body))
                    if status == 200:
                        done.add(task_id)
                        break
                    time.sleep(0.1)  # a 503 says: try again shortly (with the same key)

        threads = [threading.Thread(target=client, args=(tasks[n::CLIENTS],)) for n in range(CLIENTS)]
        for thread in threads:
            thread.start()
        while len(done) < CASES // 4:
            time.sleep(0.05)
        before_restart = len(done)
        cluster.restart()
        restarted_at = time.monotonic()
        for thread in threads:
            thread.join(timeout=120)
        assert not any(t.is_alive() for t in threads)
        workers_after = server.workers()

    statuses = Counter(status for _, status, _ in answers)
    assert set(statuses) <= {200, 503}, statuses  # no 500, no 409, no dropped connection
    assert DROPPED not in statuses
    assert statuses[503] >= 1, "the restart was felt by requests in flight"
    assert all(body["error"]["code"] == "busy" and "操作未生效" in body["error"]["message"]
               for _, status, body in answers if status == 503)
    assert before_restart < CASES and done == set(tasks), "every client finished after the restart"
    first_ok_after = min(when for when, status, _ in answers if status == 200 and when > restarted_at)
    assert first_ok_after - restarted_at < 10, "the app served again within seconds, by itself"
    assert workers_after == workers_before, "no worker was restarted to reconnect"
    # No pre-ping (engine/db.py): a worker that slept through the outage answers its first request on a
    # dead connection with one 503, and SQLAlchemy then drops that worker's whole stale pool.
    assert sum(1 for when, status, _ in answers if status == 503 and when > restarted_at) <= len(workers_after)

    engine = make_engine(url)
    try:
        with make_session_factory(engine, read_only=True)() as session:
            completions = Counter(json.loads(p)["task_id"] for p in session.execute(
                select(AuditEvent.payload).where(AuditEvent.event_type == "task_completed")).scalars())
            statuses_now = set(session.execute(select(HumanTask.status).where(HumanTask.id.in_(tasks))).scalars())
    finally:
        engine.dispose()
    assert set(completions) == set(tasks) and set(completions.values()) == {1}, "each step exactly once"
    assert statuses_now == {TaskStatus.COMPLETED}
    assert consistency.problems(url, tmp_path / "attachments") == []

