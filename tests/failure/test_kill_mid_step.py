"""kill -9 in the middle of a step.

Web (PostgreSQL and SQLite): gunicorn (three workers, web/gunicorn_conf.py) serves completions from six
client threads; a worker is sent SIGKILL several times while requests are in flight.
XUNCHA_TEST_STEP_DELAY holds every commit for a moment after the step's statements were sent, so a kill
lands between a step's writes and its commit. Then:

* every completion a client saw as 200 is in the database;
* the requests that died got a connection error — never a wrong answer (no 500, no 4xx, no 503);
* retried with their Idempotency-Key, every step is done exactly once (one completion event per task);
* nothing is half-written: every state loads, task and timer rows match the workflows, audit chains verify.

Scheduler (PostgreSQL; tests/engine/test_scheduler_processes.py kills one on SQLite too): ``xuncha
scheduler`` processes sweep 90 due timers; one is killed with SIGKILL while inside a sweep's transaction,
three times over (the last time beside a second scheduler), a fresh one started each time: every timer
fires exactly once, and the database is consistent as above.
"""

from __future__ import annotations

import json
import random
import signal
import threading
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from engine.clock import SystemClock
from engine.context import EngineContext
from engine.demo import Demo
from models import AuditEvent, HumanTask, IdempotencyRecord, TaskStatus
from tests.engine.test_scheduler_processes import (
    Schedulers,
    _inside_a_transaction,
    all_settled,
    assert_fired_exactly_once,
    fired_events,
    start_probes,
    wait_until,
)
from tests.failure import consistency
from tests.failure.servers import DROPPED, claimed_first_steps, complete, gunicorn
from tests.web.test_concurrency_http import issue_tokens

pytestmark = [pytest.mark.heavy]

CASES, CLIENTS, KILLS = 60, 6, 4


@pytest.fixture
def pg_url(db_url: str) -> str:
    if db_url.startswith("sqlite"):
        pytest.skip("the repeated scheduler kill runs on PostgreSQL, where schedulers sweep side by side; "
                    "tests/engine/test_scheduler_processes.py kills one on SQLite")
    return db_url


@pytest.fixture
def real_ctx(tmp_path: Path) -> EngineContext:
    """Cases made on the real clock, which the server and the schedulers also use."""
    return EngineContext.default(clock=SystemClock(), attachments_dir=tmp_path / "attachments")


def completion_events(factory: sessionmaker[Session]) -> Counter[int]:
    with factory() as session:
        payloads = session.execute(select(AuditEvent.payload).where(AuditEvent.event_type == "task_completed"))
        return Counter(json.loads(p)["task_id"] for p in payloads.scalars())


def statuses(factory: sessionmaker[Session], task_ids: list[int]) -> dict[int, str]:
    with factory() as session:
        return dict(session.execute(select(HumanTask.id, HumanTask.status).where(HumanTask.id.in_(task_ids))).all())


def test_killing_web_workers_mid_step_loses_no_answered_step_and_half_writes_nothing(
        db_url: str, factory: sessionmaker[Session], real_ctx: EngineContext, demo: Demo, tmp_path: Path) -> None:
    tasks = claimed_first_steps(factory, real_ctx, demo, CASES)
    token = issue_tokens(factory, ["office1"], datetime.now(UTC))["office1"]
    outcomes: dict[int, tuple[int, Any, dict[str, str]]] = {}
    killed: list[int] = []
    # SQLite takes the steps one at a time (its write lock), so its commits are held for less
    delay = 0.1 if db_url.startswith("sqlite") else 0.25
    with gunicorn(db_url, tmp_path, workers=3, step_delay=delay) as server:
        def client(share: list[int]) -> None:
            for task_id in share:
                outcomes[task_id] = complete(server.base, token, task_id)

        threads = [threading.Thread(target=client, args=(tasks[n::CLIENTS],)) for n in range(CLIENTS)]
        for thread in threads:
            thread.start()
        chooser = random.Random(8)
        for _ in range(KILLS):
            time.sleep(0.9)  # every worker is busy: six clients, three workers, each step held open
            victim = chooser.choice(server.workers())
            server.kill_worker(victim)
            killed.append(victim)
        for thread in threads:
            thread.join(timeout=120)
        assert not any(t.is_alive() for t in threads), "a client never came back"
        assert all(pid not in server.workers() for pid in killed)
        first_round = dict(outcomes)

        # The clients retry what died, with the same key (as a client that heard no answer should).
        for task_id, (status, _, _) in first_round.items():
            while status == DROPPED:
                outcomes[task_id] = complete(server.base, token, task_id)
                status = outcomes[task_id][0]
            assert status == 200, (task_id, status)
        assert server.process.poll() is None, "the server itself survived its workers' deaths"

    answered = sorted(t for t, (status, _, _) in first_round.items() if status == 200)
    died = sorted(t for t, (status, _, _) in first_round.items() if status == DROPPED)
    assert sorted(answered + died) == sorted(tasks), {t: o[:2] for t, o in first_round.items()
                                                      if o[0] not in (200, DROPPED)}
    assert died, "the kills should have caught requests in flight"
    assert all(isinstance(first_round[t][1], str) for t in died)  # a connection error, described
    events = completion_events(factory)
    assert all(events[t] == 1 for t in answered), "a step a client saw answered is in the database"
    assert set(events) == set(tasks) and set(events.values()) == {1}, "after the retries: each step exactly once"
    assert set(statuses(factory, tasks).values()) == {TaskStatus.COMPLETED}
    with factory() as session:
        assert session.execute(select(func.count()).select_from(IdempotencyRecord)).scalar_one() == CASES
        second_steps = session.execute(select(func.count()).select_from(HumanTask).where(
            HumanTask.bpmn_id == "second", HumanTask.status == TaskStatus.READY)).scalar_one()
    assert second_steps == CASES
    assert consistency.problems(db_url, tmp_path / "attachments") == []


def test_killing_a_scheduler_mid_sweep_again_and_again_fires_every_timer_exactly_once(
        pg_url: str, factory: sessionmaker[Session], real_ctx: EngineContext, demo: Demo, tmp_path: Path) -> None:
    running = Schedulers(pg_url, tmp_path)
    try:
        ids = start_probes(factory, real_ctx, demo, 90, wait=lambda n: "PT1S", pause=0.08)
        for round_ in range(3):
            fired_before = len(fired_events(factory))
            victim = running.start(f"victim{round_}")
            if round_ == 2:  # the last time, a second scheduler sweeps beside the one that dies
                running.start("steady")
            wait_until(lambda n=fired_before + 3: len(fired_events(factory)) >= n, 40, running)
            wait_until(lambda v=f"victim{round_}": _inside_a_transaction(pg_url, v), 40, running)
            victim.send_signal(signal.SIGKILL)
            victim.wait(timeout=10)
        fired_during_kills = len(fired_events(factory))
        running.start("restarted")
        wait_until(all_settled(factory), 60, running)
    finally:
        running.stop_all()

    assert fired_during_kills < len(ids), "the kills happened while timers were still due"
    assert_fired_exactly_once(factory, ids)
    assert consistency.problems(pg_url, tmp_path / "attachments") == []
