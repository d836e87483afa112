"""Persisted task completions per second through the engine, beside a naive baseline, same run.

Both sides do the same work per step on the same database: lock the instance row, restore the
workflow, complete the ready task with its form data, run to the next wait, save, write audit.
- naive: the state is SpiffWorkflow's default JSON *with* the embedded spec, deserialized and
  serialized whole every step, one audit row (the approach the guide measured at ≈415 steps/s);
- engine: ``engine.runtime.complete_task`` as the product runs it (spec-free state + cached spec,
  form validation, human-task projection, case ledger hook, hash-chained audit).

The instance is a clue in its 办理情况反馈 loop (the progress report repeats until finished), so one
instance grows as long as we like; per-step cost at the start and at the end of a long instance shows
whether cost stays flat as an instance ages. Also printed: SQL statements per completion.

    python bench/engine_steps.py [--database-url URL] [--steps N] [--long N]
"""

from __future__ import annotations

import argparse
import statistics
import time
from typing import Any
from uuid import UUID

from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.util.task import TaskState
from sqlalchemy import Column, DateTime, Integer, MetaData, Table, Text, event, select, text

from bench.common import describe_machine, scratch_database
from engine import demo, runtime
from engine.bootstrap import deploy_shipped
from engine.context import EngineContext
from engine.db import make_engine, make_session_factory, transaction
from engine.definitions import SPEC_CACHE, latest_definition
from engine.migrate import upgrade
from engine.serialization import FULL_SERIALIZER
from models import HumanTask, TaskStatus
from tests.helpers import act, open_clue

NAIVE = MetaData()
Table("naive_instance", NAIVE, Column("id", Integer, primary_key=True), Column("state", Text, nullable=False))
Table("naive_audit", NAIVE, Column("id", Integer, primary_key=True, autoincrement=True),
      Column("instance_id", Integer), Column("event", Text), Column("at", DateTime(timezone=True)))
DISPOSE = {"disposition_method": "初步核实", "disposition_opinion": "核实"}
REPORT = {"progress_text": "本月调取资料、开展谈话。", "handling_finished": False}


def _into_the_loop(factory: Any, ctx: EngineContext, loaded: demo.Demo, number: str) -> int:
    iid = open_clue(factory, ctx, loaded, unit="U-HOUSING", number=number)
    act(factory, ctx, loaded.actor("office1"), iid, "handover", {"handover_list": "清单"})
    act(factory, ctx, loaded.actor("jw1"), iid, "acknowledge", {"ack_decision": "签收"})
    act(factory, ctx, loaded.actor("jw1"), iid, "dispose", DISPOSE)
    return iid


def engine_steps(factory: Any, ctx: EngineContext, actor: Any, iid: int, steps: int) -> list[float]:
    timings = []
    for _ in range(steps):
        with factory() as s:
            tid = s.execute(select(HumanTask.id).where(HumanTask.instance_id == iid,
                                                       HumanTask.status == TaskStatus.READY)).scalar_one()
        start = time.perf_counter()
        with transaction(factory) as session:
            runtime.complete_task(session, ctx, actor, tid, REPORT, claim_if_free=True)
        timings.append(time.perf_counter() - start)
    return timings


def naive_setup(factory: Any, ctx: EngineContext, loaded: demo.Demo) -> int:
    """A copy of the same instance in the naive layout: full JSON with the spec, plain audit rows."""
    with transaction(factory) as session:
        NAIVE.create_all(session.connection())
        definition = latest_definition(session, "clue_disposition")
        parsed = SPEC_CACHE.get(session, definition, ctx.forms)
        workflow = BpmnWorkflow(parsed.spec, parsed.subprocess_specs)
        workflow.get_tasks(state=TaskState.READY)[0].data.update({"clue_id": 0, "clue_number": "N"})
        workflow.do_engine_steps()
        for answer in ({"handover_list": "清单"}, {"ack_decision": "签收"}, DISPOSE):
            task = workflow.get_tasks(state=TaskState.READY, manual=True)[0]
            task.data.update(answer)
            task.run()
            workflow.do_engine_steps()
        session.execute(text("INSERT INTO naive_instance (id, state) VALUES (1, :s)"),
                        {"s": FULL_SERIALIZER.serialize_json(workflow)})
    return 1


def naive_steps(factory: Any, ctx: EngineContext, iid: int, steps: int, reset_to: str | None = None) -> list[float]:
    """``reset_to``: put this state back before each step, so the instance never grows (the guide's
    small-workflow setting); without it the naive instance ages like ours does."""
    postgres = factory.kw["bind"].dialect.name == "postgresql"
    lock = " FOR UPDATE" if postgres else ""
    timings = []
    for n in range(steps):
        if reset_to is not None:
            with transaction(factory) as session:
                session.execute(text("UPDATE naive_instance SET state = :s WHERE id = :i"), {"s": reset_to, "i": iid})
        start = time.perf_counter()
        with transaction(factory) as session:
            state = session.execute(text(f"SELECT state FROM naive_instance WHERE id = :i{lock}"),
                                    {"i": iid}).scalar_one()
            workflow = FULL_SERIALIZER.deserialize_json(state)
            task = workflow.get_tasks(state=TaskState.READY, manual=True)[0]
            task.data.update(REPORT)
            task.run()
            workflow.do_engine_steps()
            session.execute(text("UPDATE naive_instance SET state = :s WHERE id = :i"),
                            {"s": FULL_SERIALIZER.serialize_json(workflow), "i": iid})
            session.execute(text("INSERT INTO naive_audit (instance_id, event, at) VALUES (:i, :e, :t)"),
                            {"i": iid, "e": f"completed {task.task_spec.bpmn_id} {UUID(int=n)}", "t": ctx.clock.now()})
        timings.append(time.perf_counter() - start)
    return timings


def count_statements(sql_engine: Any, work: Any) -> int:
    counter = {"n": 0}

    def _count(*_args: Any) -> None:
        counter["n"] += 1

    event.listen(sql_engine, "before_cursor_execute", _count)
    try:
        work()
    finally:
        event.remove(sql_engine, "before_cursor_execute", _count)
    return counter["n"]


def _rate(timings: list[float]) -> float:
    return len(timings) / sum(timings)


def _ms(values: list[float]) -> str:
    ordered = sorted(values)
    p95 = ordered[int(len(ordered) * 0.95) - 1]
    return f"p50 {statistics.median(values) * 1000:.2f} ms, p95 {p95 * 1000:.2f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", help="server to benchmark on (a scratch database is created there); "
                        "default: a temporary SQLite file")
    parser.add_argument("--steps", type=int, default=300,
                        help="completions measured per side (the naive side stalls near 500: see docs)")
    parser.add_argument("--long", type=int, default=1000, help="length of the long instance for the flatness check")
    args = parser.parse_args()

    url = scratch_database(args.database_url)
    upgrade(url)
    sql_engine = make_engine(url)
    factory = make_session_factory(sql_engine)
    ctx = EngineContext.default()
    with transaction(factory) as session:
        loaded = demo.seed_reference_data(session)
    deploy_shipped(factory, ctx)
    with transaction(factory) as session:
        demo.seed_plan(session, loaded)
        loaded = demo.seed_reference_data(session)
    jw = loaded.actor("jw1")

    iid = _into_the_loop(factory, ctx, loaded, "BENCH-1")
    naive_iid = naive_setup(factory, ctx, loaded)
    with factory() as s:
        fresh_state = s.execute(text("SELECT state FROM naive_instance WHERE id = 1")).scalar_one()
    engine_steps(factory, ctx, jw, iid, 20)  # warm caches and connections on both sides
    naive_steps(factory, ctx, naive_iid, 20, reset_to=fresh_state)
    naive_fresh = naive_steps(factory, ctx, naive_iid, args.steps, reset_to=fresh_state)
    ours = engine_steps(factory, ctx, jw, iid, args.steps)
    naive = naive_steps(factory, ctx, naive_iid, args.steps)

    with factory() as s:
        tid = s.execute(select(HumanTask.id).where(HumanTask.instance_id == iid,
                                                   HumanTask.status == TaskStatus.READY)).scalar_one()

    def one_completion() -> None:
        with transaction(factory) as session:
            runtime.complete_task(session, ctx, jw, tid, REPORT, claim_if_free=True)

    statements = count_statements(sql_engine, one_completion)

    long_iid = _into_the_loop(factory, ctx, loaded, "BENCH-LONG")
    long_run = engine_steps(factory, ctx, jw, long_iid, args.long)
    head, tail = long_run[10:110], long_run[-100:]

    print(f"engine_steps on {sql_engine.dialect.name} ({describe_machine()})")
    print(f"  naive, fresh   : {_rate(naive_fresh):7.1f} completions/s   ({_ms(naive_fresh)})  [baseline]")
    print(f"  naive, ageing  : {_rate(naive):7.1f} completions/s   ({_ms(naive)})")
    print(f"  engine         : {_rate(ours):7.1f} completions/s   ({_ms(ours)})")
    print(f"  ratio          : {_rate(ours) / _rate(naive_fresh):7.2f}x the fresh naive baseline (target >= 1.3x); "
          f"{_rate(ours) / _rate(naive):.2f}x the ageing one")
    print(f"  SQL statements : {statements} per completion (spiff-arena: 74-95)")
    print(f"  long instance  : steps 10-110 {_ms(head)}; last 100 of {args.long} {_ms(tail)}; "
          f"ratio last/first {statistics.median(tail) / statistics.median(head):.2f}")
    with factory() as s:
        size = s.execute(text("SELECT length(state) FROM process_instance WHERE id = :i"), {"i": iid}).scalar_one()
        naive_size = s.execute(text("SELECT length(state) FROM naive_instance WHERE id = 1")).scalar_one()
    print(f"  stored state   : {size} bytes (naive with spec: {naive_size} bytes)")
    sql_engine.dispose()


if __name__ == "__main__":
    main()
