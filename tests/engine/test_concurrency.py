"""Real concurrency: separate processes claiming one task, two people completing one task at once.

Each contender is its own OS process with its own connection, as gunicorn workers are.
"""

from __future__ import annotations

import json
import multiprocessing
import threading

from engine import audit, runtime
from engine.actors import Actor
from engine.context import EngineContext
from engine.db import make_engine, make_session_factory, transaction
from engine.errors import Conflict
from models import HumanTask, TaskStatus
from tests.helpers import instance, make_members, open_clue, open_rectification, ready_task, ready_tasks


def _claim_in_process(url: str, actor: Actor, task_id: int, start: object, results: object) -> None:
    engine = make_engine(url)
    factory = make_session_factory(engine)
    ctx = EngineContext.default()
    start.wait()  # type: ignore[attr-defined]
    try:
        with transaction(factory) as session:
            runtime.claim_task(session, ctx, actor, task_id)
        results.put((actor.username, "won"))  # type: ignore[attr-defined]
    except Conflict as exc:
        results.put((actor.username, exc.code))  # type: ignore[attr-defined]
    finally:
        engine.dispose()


def test_exactly_one_of_twenty_processes_claims_the_task(db_url, factory, ctx, demo):
    iid = open_rectification(factory, ctx, demo)
    task_id = ready_task(factory, iid, "receive_feedback").id
    contenders = make_members(factory, 20, "unit", "U-EDU")
    spawn = multiprocessing.get_context("spawn")
    start, results = spawn.Event(), spawn.Queue()
    processes = [spawn.Process(target=_claim_in_process, args=(db_url, actor, task_id, start, results))
                 for actor in contenders]
    for process in processes:
        process.start()
    start.set()
    for process in processes:
        process.join(timeout=120)
    outcomes = dict(results.get(timeout=5) for _ in processes)
    assert sorted(outcomes.values()) == ["task_already_claimed"] * 19 + ["won"]
    (winner,) = [a for a in contenders if outcomes[a.username] == "won"]
    with factory() as session:
        task = session.get(HumanTask, task_id)
        assert task is not None and task.assignee_id == winner.user_id
        claims = [e for e in audit.stream_events(session, iid) if e.event_type == "task_claimed"]
        assert [(e.actor_id, json.loads(e.payload)["assignee"]) for e in claims] == [(winner.user_id, winner.username)]
        assert audit.verify(session).ok


def test_two_people_completing_one_task_at_once_one_wins_one_gets_a_conflict(factory, ctx, demo):
    """Two office members each open the unclaimed 移交 task and submit at the same moment."""
    iid = open_clue(factory, ctx, demo)
    task_id = ready_task(factory, iid, "handover").id
    people = make_members(factory, 2, "office", "CITY")
    barrier, outcomes = threading.Barrier(2), ["", ""]

    def submit(index: int, actor: Actor) -> None:
        barrier.wait()
        try:
            with transaction(factory) as session:
                runtime.complete_task(session, ctx, actor, task_id, {"handover_list": actor.username},
                                      claim_if_free=True)
            outcomes[index] = "won"
        except Conflict as exc:
            outcomes[index] = exc.code

    threads = [threading.Thread(target=submit, args=(i, p)) for i, p in enumerate(people)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(outcomes) == 2 and outcomes.count("won") == 1
    (loser,) = set(outcomes) - {"won"}
    assert loser in {"task_not_active", "stale_state", "task_not_claimed_by_you"}  # all are 409s
    (winner,) = [p for p, outcome in zip(people, outcomes, strict=True) if outcome == "won"]
    with factory() as session:
        task = session.get(HumanTask, task_id)
        assert task is not None and task.status == TaskStatus.COMPLETED and task.completed_by_id == winner.user_id
        completions = [e for e in audit.stream_events(session, iid) if e.event_type == "task_completed"]
        assert [e.actor_id for e in completions] == [winner.user_id]
        assert audit.verify(session).ok
    assert instance(factory, iid).version == 3  # started, then exactly one completion (claim included)
    assert len(ready_tasks(factory, iid, "acknowledge")) == 1  # the next task, created once
