"""Timers fire exactly once with real scheduler processes (``python -m web.cli scheduler``), on SQLite
and on PostgreSQL, on the real clock (timers due a second or two ahead). What is proved:

* two schedulers sweeping the same due timers fire every one exactly once: one ``timer_fired``
  event per timer, ``fired_at`` set, each case moved on by one step, and (on PostgreSQL, where they
  run side by side; SQLite's write lock takes them in turns) both schedulers took part;
* a scheduler killed with SIGKILL while it is inside a sweep's transaction (checked: it holds
  PostgreSQL's transaction open / SQLite's write lock at that moment) loses no timer and doubles
  none; the other scheduler fires what it had claimed, and every audit chain still verifies;
* timers that came due while no scheduler ran fire as soon as one starts;
* a boundary timer whose task was completed before its time never fires (its row is cancelled),
  also when the completions race the schedulers right at the due time: each case either fired or
  was completed, never both.

The diagram's timer leads to a script that waits ``pause`` seconds (a busy wait on ``datetime``: deploy
refuses imports in scripts), so firing can be made slow enough to kill a scheduler in the middle of it.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from engine import audit, runtime
from engine.clock import FrozenClock, SystemClock
from engine.context import EngineContext
from engine.db import make_session_factory, normalise_url, transaction
from engine.definitions import deploy
from engine.demo import Demo
from engine.errors import XunchaError
from models import AuditEvent, HumanTask, InstanceStatus, TaskStatus, Timer, TimerStatus

ROOT = Path(__file__).resolve().parents[2]

PROBE_DIAGRAM = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="probe_defs" targetNamespace="xuncha">
  <bpmn:process id="timer_probe" name="定时器探针" isExecutable="true">
    <bpmn:laneSet id="lanes"><bpmn:lane id="office_lane" name="office">
      <bpmn:flowNodeRef>handle</bpmn:flowNodeRef><bpmn:flowNodeRef>chase</bpmn:flowNodeRef>
    </bpmn:lane></bpmn:laneSet>
    <bpmn:startEvent id="begin"/>
    <bpmn:sequenceFlow id="to_handle" sourceRef="begin" targetRef="handle"/>
    <bpmn:userTask id="handle" name="办理"/>
    <bpmn:sequenceFlow id="handled" sourceRef="handle" targetRef="done"/>
    <bpmn:endEvent id="done"/>
    <bpmn:boundaryEvent id="overdue" attachedToRef="handle" cancelActivity="true">
      <bpmn:timerEventDefinition><bpmn:timeDuration>wait</bpmn:timeDuration></bpmn:timerEventDefinition>
    </bpmn:boundaryEvent>
    <bpmn:sequenceFlow id="to_note" sourceRef="overdue" targetRef="note_overdue"/>
    <bpmn:scriptTask id="note_overdue" name="记录超期"><bpmn:script>overdue_noted = True
if pause:
    until = datetime.datetime.now() + datetime.timedelta(seconds=pause)
    while datetime.datetime.now() &lt; until:
        pass
    del until</bpmn:script></bpmn:scriptTask>
    <bpmn:sequenceFlow id="to_chase" sourceRef="note_overdue" targetRef="chase"/>
    <bpmn:userTask id="chase" name="督办"/>
    <bpmn:sequenceFlow id="chased" sourceRef="chase" targetRef="closed"/>
    <bpmn:endEvent id="closed"/>
  </bpmn:process>
</bpmn:definitions>""".encode()


# -- scheduler processes ---------------------------------------------------------------------------------------


class Schedulers:
    """Starts ``xuncha scheduler`` processes on the test's database; stops whatever is left at the end."""

    def __init__(self, db_url: str, tmp_path: Path):
        self.db_url, self.tmp_path = db_url, tmp_path
        self.processes: list[tuple[subprocess.Popen[bytes], Path]] = []

    def start(self, name: str, *, wait_ready: bool = True) -> subprocess.Popen[bytes]:
        url = self.db_url
        if not url.startswith("sqlite"):  # so the test can find this scheduler's backend
            url = make_url(normalise_url(url)).update_query_dict({"application_name": name}).render_as_string(
                hide_password=False)
        env = {**os.environ, "DATABASE_URL": url, "SECRET_KEY": "scheduler-test", "XUNCHA_DEPLOY_SHIPPED": "0",
               "XUNCHA_INSTANCE_DIR": str(self.tmp_path / "instance")}
        log = self.tmp_path / f"{name}.log"
        with log.open("w") as output:
            process = subprocess.Popen([sys.executable, "-m", "web.cli", "scheduler"], env=env, cwd=ROOT,
                                       stdout=output, stderr=subprocess.STDOUT)
        self.processes.append((process, log))
        deadline = time.monotonic() + 30
        while wait_ready and "scheduler started" not in log.read_text():
            assert process.poll() is None, log.read_text()
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.05)
        return process

    def logs(self) -> str:
        lines = [f"--- {log.name}\n" + "\n".join(log.read_text().splitlines()[-30:]) for _, log in self.processes]
        return "\n".join(lines)

    def stop_all(self) -> None:
        for process, _ in self.processes:
            if process.poll() is None:
                process.terminate()
        for process, _ in self.processes:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


@pytest.fixture
def schedulers(db_url: str, tmp_path: Path) -> Iterator[Schedulers]:
    running = Schedulers(db_url, tmp_path)
    try:
        yield running
    finally:
        running.stop_all()


@pytest.fixture
def real_ctx(tmp_path: Path) -> EngineContext:
    """Cases started on the real clock, which the scheduler processes also use."""
    return EngineContext.default(clock=SystemClock(), attachments_dir=tmp_path / "attachments")


# -- cases with timers -----------------------------------------------------------------------------------------


def start_probes(factory: sessionmaker[Session], ctx: EngineContext, demo: Demo, count: int, *,
                 wait: Callable[[int], str], pause: float = 0.0) -> list[int]:
    """``count`` cases whose 办理 task carries a boundary timer of ``wait(n)`` (an ISO duration)."""
    with transaction(factory) as session:
        deploy(session, PROBE_DIAGRAM, None, ctx.forms, at=ctx.clock.now())
    office = demo.actor("office1")
    ids = []
    with transaction(factory) as session:
        for n in range(count):
            ids.append(runtime.start_instance(session, ctx, office, "timer_probe", {"wait": wait(n), "pause": pause},
                                              scope_path=demo.orgs["CITY"].path, title=f"探针 {n}").id)
    return ids


def reading(factory: sessionmaker[Session]) -> Session:
    """A session that only reads: on SQLite it never queues for the write lock the schedulers hold."""
    bind = factory.kw["bind"]
    return make_session_factory(bind, read_only=True)()


def timer_rows(factory: sessionmaker[Session]) -> list[Timer]:
    with reading(factory) as session:
        return list(session.execute(select(Timer).order_by(Timer.id)).scalars())


def fired_events(factory: sessionmaker[Session]) -> list[dict[str, Any]]:
    with reading(factory) as session:
        payloads = session.execute(select(AuditEvent.payload).where(AuditEvent.event_type == "timer_fired")).scalars()
        return [json.loads(p) for p in payloads]


def wait_until(condition: Callable[[], bool], seconds: float, schedulers: Schedulers) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out\n" + schedulers.logs()
        time.sleep(0.1)


def all_settled(factory: sessionmaker[Session]) -> Callable[[], bool]:
    """No timer left waiting, and still none a second later: a scheduler that had read a timer as
    waiting and fired it a second time would have written by then (its steps take milliseconds)."""
    def none_waiting() -> bool:
        with reading(factory) as session:
            return session.execute(select(Timer.id).where(Timer.status == TimerStatus.WAITING).limit(1)).first() is None

    def settled() -> bool:
        if not none_waiting():
            return False
        time.sleep(1.5)
        return none_waiting()
    return settled


def assert_fired_exactly_once(factory: sessionmaker[Session], instance_ids: list[int]) -> list[dict[str, Any]]:
    """Every timer fired once: its row, one audit event each, and each case moved to 督办 once."""
    rows = timer_rows(factory)
    assert len(rows) == len(instance_ids)
    assert {r.status for r in rows} == {TimerStatus.FIRED}
    assert all(r.fired_at is not None and r.fired_at >= r.due_at for r in rows)
    events = fired_events(factory)
    per_timer = Counter(e["timer_id"] for e in events)
    assert sorted(per_timer) == sorted(r.id for r in rows)
    assert set(per_timer.values()) == {1}, [t for t, n in per_timer.items() if n > 1]
    with reading(factory) as session:
        chase = Counter(session.execute(select(HumanTask.instance_id).where(
            HumanTask.bpmn_id == "chase", HumanTask.status == TaskStatus.READY)).scalars())
        handle_open = session.execute(select(HumanTask.id).where(
            HumanTask.bpmn_id == "handle", HumanTask.status == TaskStatus.READY)).all()
        assert chase == Counter(instance_ids) and not handle_open
        checked = audit.verify(session)
        assert checked.ok, checked.first_broken
    return events


# -- the tests -------------------------------------------------------------------------------------------------


def test_two_schedulers_fire_every_timer_exactly_once(db_url, factory, real_ctx, demo, schedulers):  # type: ignore[no-untyped-def]
    schedulers.start("first")
    schedulers.start("second")
    # half of them due together (both schedulers reach for the same rows), half spread over three seconds
    ids = start_probes(factory, real_ctx, demo, 150, wait=lambda n: "PT3S" if n % 2 else f"PT{2 + n % 4}S",
                       pause=0.01)

    wait_until(all_settled(factory), 25, schedulers)

    events = assert_fired_exactly_once(factory, ids)
    if not db_url.startswith("sqlite"):  # SQLite's busy wait is unfair: one may hold the write lock throughout
        assert len({e["scheduler"] for e in events}) == 2, "both schedulers should have fired some"


def test_a_scheduler_killed_mid_sweep_loses_and_doubles_nothing(  # type: ignore[no-untyped-def]
        db_url, factory, real_ctx, demo, schedulers):
    ids = start_probes(factory, real_ctx, demo, 50, wait=lambda n: "PT1S", pause=0.15)
    victim = schedulers.start("victim")
    wait_until(lambda: len(fired_events(factory)) >= 3, 20, schedulers)
    wait_until(lambda: _inside_a_transaction(db_url, "victim"), 10, schedulers)
    victim.send_signal(signal.SIGKILL)
    victim.wait(timeout=10)
    fired_by_victim = len(fired_events(factory))
    assert 3 <= fired_by_victim < len(ids)
    assert sum(r.status == TimerStatus.WAITING for r in timer_rows(factory)) == len(ids) - fired_by_victim

    schedulers.start("survivor")
    wait_until(all_settled(factory), 25, schedulers)

    events = assert_fired_exactly_once(factory, ids)
    assert len({e["scheduler"] for e in events}) == 2


def _inside_a_transaction(db_url: str, name: str) -> bool:
    """Whether the (only) scheduler holds a transaction open right now: its PostgreSQL backend is in
    one, or SQLite's write lock is taken."""
    if db_url.startswith("sqlite"):
        probe = sqlite3.connect(make_url(db_url).database or "", timeout=0, isolation_level=None)
        try:
            probe.execute("BEGIN IMMEDIATE")
            probe.execute("ROLLBACK")
            return False
        except sqlite3.OperationalError:
            return True
        finally:
            probe.close()
    engine = create_engine(normalise_url(db_url))
    try:
        with engine.connect() as conn:
            states = conn.execute(text("SELECT state FROM pg_stat_activity WHERE application_name = :n"),
                                  {"n": name}).scalars().all()
        return any(s in ("idle in transaction", "active") for s in states)
    finally:
        engine.dispose()


def test_timers_due_while_no_scheduler_ran_fire_when_one_starts(factory, tmp_path, demo, schedulers):  # type: ignore[no-untyped-def]
    an_hour_ago = EngineContext.default(clock=FrozenClock(datetime.now(UTC) - timedelta(hours=1)),
                                        attachments_dir=tmp_path / "attachments")
    ids = start_probes(factory, an_hour_ago, demo, 30, wait=lambda n: f"PT{n + 1}M")
    assert all(r.due_at < datetime.now(UTC) for r in timer_rows(factory))
    time.sleep(1)
    assert {r.status for r in timer_rows(factory)} == {TimerStatus.WAITING}  # nobody fires them yet

    started = datetime.now(UTC)
    schedulers.start("late")
    wait_until(all_settled(factory), 15, schedulers)

    assert_fired_exactly_once(factory, ids)
    assert all(r.fired_at is not None and r.fired_at >= started for r in timer_rows(factory))


def test_a_timer_whose_task_was_completed_before_its_time_never_fires(  # type: ignore[no-untyped-def]
        factory, real_ctx, demo, schedulers):
    schedulers.start("watcher")
    done, late = start_probes(factory, real_ctx, demo, 2, wait=lambda n: "PT2S")
    office = demo.actor("office1")
    with transaction(factory) as session:
        (task,) = session.execute(select(HumanTask).where(HumanTask.instance_id == done)).scalars()
        runtime.complete_task(session, real_ctx, office, task.id, {}, claim_if_free=True)

    wait_until(lambda: len(fired_events(factory)) == 1, 15, schedulers)
    time.sleep(2)  # a few more sweeps past the cancelled timer's time

    by_instance = {r.instance_id: r for r in timer_rows(factory)}
    assert by_instance[done].status == TimerStatus.CANCELLED and by_instance[done].fired_at is None
    assert by_instance[late].status == TimerStatus.FIRED
    assert [e["timer_id"] for e in fired_events(factory)] == [by_instance[late].id]
    with reading(factory) as session:
        statuses = dict(session.execute(text("SELECT id, status FROM process_instance")).all())
    assert statuses[done] == InstanceStatus.COMPLETED and statuses[late] == InstanceStatus.RUNNING


def test_completions_racing_the_schedulers_at_the_due_time_either_fire_or_complete(  # type: ignore[no-untyped-def]
        factory, real_ctx, demo, schedulers):
    schedulers.start("one")
    schedulers.start("two")
    ids = start_probes(factory, real_ctx, demo, 40, wait=lambda n: "PT2S", pause=0.01)
    with reading(factory) as session:
        tasks = dict(session.execute(select(HumanTask.instance_id, HumanTask.id)).all())
        due = min(session.execute(select(Timer.due_at)).scalars())
    time.sleep(max(0.0, (due - datetime.now(UTC)).total_seconds() - 0.2))
    office, completed = demo.actor("office1"), set()
    for iid in ids:  # one by one, from just before the due time into the schedulers' sweep
        try:
            with transaction(factory) as session:
                runtime.complete_task(session, real_ctx, office, tasks[iid], {}, claim_if_free=True)
            completed.add(iid)
        except XunchaError:
            pass  # the timer fired first: the task is gone
    wait_until(all_settled(factory), 20, schedulers)

    rows = {r.instance_id: r for r in timer_rows(factory)}
    fired = {e["timer_id"] for e in fired_events(factory)}
    assert len(fired_events(factory)) == len(fired)
    for iid in ids:
        timer = rows[iid]
        if iid in completed:
            assert timer.status == TimerStatus.CANCELLED and timer.id not in fired
        else:
            assert timer.status == TimerStatus.FIRED and timer.id in fired
    with reading(factory) as session:
        checked = audit.verify(session)
        assert checked.ok, checked.first_broken
        chase = set(session.execute(select(HumanTask.instance_id).where(HumanTask.bpmn_id == "chase")).scalars())
    assert chase == set(ids) - completed
