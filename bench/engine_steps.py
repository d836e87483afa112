"""Persisted task completions per second through the engine, beside a naive baseline in the same run.

Both sides do a step the same way on the same database: lock the instance row, restore the
workflow, complete the ready task with its form data, run to the next wait, save, write an audit row.
- naive: the state is SpiffWorkflow's default JSON *with* the embedded spec, deserialized and
  serialized whole every step, one plain audit row (the approach the guide measured);
- engine: ``engine.runtime.complete_task`` as the product runs it (spec-free pruned state, cached
  spec, form validation, human-task projection, ledger update, hash-chained audit).

Scenarios:
1. lifecycle — whole rectification cases (3 items) from 反馈 to 归档, 15 completions each: the
   product's real work. This is the baseline the target (>= 1.3x) is judged on.
2. ageing — one clue in its monthly 办理情况反馈 loop: per-step cost early and late in a long
   instance (ours must stay flat; the naive state grows, and SpiffWorkflow stops finding its ready
   task near 500 iterations, so the naive side is capped below that).
3. fresh naive — the naive step on a state reset before every step (it never grows): the best case
   of the naive design, printed for transparency.

    python -m bench.engine_steps [--database-url URL] [--cases N] [--long N]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from typing import Any

from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.util.task import TaskState
from sqlalchemy import Column, DateTime, Integer, MetaData, Table, Text, event, insert, select, text

from bench.common import describe_machine, scratch_database
from engine import calendar, demo, runtime
from engine.actors import Actor
from engine.bootstrap import deploy_shipped
from engine.context import EngineContext
from engine.db import make_engine, make_session_factory, transaction
from engine.definitions import SPEC_CACHE, latest_definition
from engine.migrate import upgrade
from engine.serialization import FULL_SERIALIZER
from models import HumanTask, RectificationItem, TaskStatus
from tests.helpers import PLAN_ROW, act, open_clue, open_rectification

NAIVE = MetaData()
NAIVE_INSTANCE = Table("naive_instance", NAIVE, Column("id", Integer, primary_key=True),
                       Column("state", Text, nullable=False))
NAIVE_AUDIT = Table("naive_audit", NAIVE, Column("id", Integer, primary_key=True, autoincrement=True),
                    Column("instance_id", Integer), Column("event", Text), Column("at", DateTime(timezone=True)))

ANSWERS: dict[str, dict[str, Any]] = {
    "receive_feedback": {"feedback_received_on": "2026-11-20"},
    "review_plan": {"plan_decision": "通过"},
    "rectify_item": {"item_progress": "已整改", "item_completion": "已完成"},
    "verify_item": {"item_verify_decision": "通过"},
    "strike_off_item": {"strike_off_date": "2026-12-01"},
    "rectification_report": {"report_summary": "全部完成", "report_date": "2026-12-02"},
    "disclosure": {"publish": True, "public_text": "整改情况公开"},
    "close_out": {"archive_note": "立卷归档"},
    "handover": {"handover_list": "清单"},
    "acknowledge": {"ack_decision": "签收"},
    "dispose": {"disposition_method": "初步核实", "disposition_opinion": "核实"},
    "progress_report": {"progress_text": "本月调取资料、开展谈话。", "handling_finished": False},
}
LANE_USERS = {"unit": "unit1", "office": "office1", "inspection_group": "group1", "receiving_body": "jw1"}


def answer(bpmn_id: str, numbers: list[str]) -> dict[str, Any]:
    if bpmn_id == "draft_plan":
        return {"plan_summary": "逐项整改", "pledge_signed": True, "pledge_signer": "书记",
                "plan_measures": [{"item_number": n, **PLAN_ROW} for n in numbers]}
    return ANSWERS[bpmn_id]


# -- the engine side ----------------------------------------------------------------------------------

def engine_case(factory: Any, ctx: EngineContext, actors: dict[str, Actor], iid: int, numbers: list[str],
                limit: int | None = None) -> list[float]:
    """Complete the instance's ready tasks one by one (timing only the completing transaction)."""
    timings = []
    while limit is None or len(timings) < limit:
        with factory() as s:
            task = s.execute(select(HumanTask).where(HumanTask.instance_id == iid, HumanTask.status == TaskStatus.READY)
                             .order_by(HumanTask.id).limit(1)).scalar_one_or_none()
        if task is None:
            break
        start = time.perf_counter()
        with transaction(factory) as session:
            runtime.complete_task(session, ctx, actors[task.candidate_group or "office"], task.id,
                                  answer(task.bpmn_id, numbers), claim_if_free=True)
        timings.append(time.perf_counter() - start)
    return timings


# -- the naive side -----------------------------------------------------------------------------------

def naive_start(factory: Any, ctx: EngineContext, key: str, data: dict[str, Any], answers: list[str]) -> int:
    """Store a new naive instance (full JSON with the spec), after ``answers`` steps done in memory."""
    with transaction(factory) as session:
        parsed = SPEC_CACHE.get(session, latest_definition(session, key), ctx.forms)
        workflow = BpmnWorkflow(parsed.spec, parsed.subprocess_specs, script_engine=runtime.SCRIPT_ENGINE)
        workflow.get_tasks(state=TaskState.READY)[0].data.update(data)
        workflow.do_engine_steps()
        for bpmn_id in answers:
            task = workflow.get_tasks(state=TaskState.READY, manual=True)[0]
            task.data.update(answer(bpmn_id, []))
            task.run()
            workflow.do_engine_steps()
        return int(session.execute(insert(NAIVE_INSTANCE).values(state=FULL_SERIALIZER.serialize_json(workflow))
                                   .returning(NAIVE_INSTANCE.c.id)).scalar_one())


def naive_step(session: Any, iid: int, numbers: list[str], at: Any, lock: str) -> bool:
    state = session.execute(text(f"SELECT state FROM naive_instance WHERE id = :i{lock}"), {"i": iid}).scalar_one()
    workflow = FULL_SERIALIZER.deserialize_json(state)
    workflow.script_engine = runtime.SCRIPT_ENGINE  # the diagrams' functions (deadline_in …), as ours
    ready = workflow.get_tasks(state=TaskState.READY, manual=True)
    if not ready:
        return False
    task = ready[0]
    task.data.update(answer(task.task_spec.bpmn_id, numbers))
    task.run()
    workflow.do_engine_steps()
    session.execute(text("UPDATE naive_instance SET state = :s WHERE id = :i"),
                    {"s": FULL_SERIALIZER.serialize_json(workflow), "i": iid})
    session.execute(insert(NAIVE_AUDIT).values(instance_id=iid, event=f"completed {task.task_spec.bpmn_id}", at=at))
    return True


def naive_case(factory: Any, ctx: EngineContext, iid: int, numbers: list[str], limit: int | None = None,
               reset_to: str | None = None) -> list[float]:
    """``reset_to``: put this state back before each step, so the instance never grows."""
    lock = " FOR UPDATE" if factory.kw["bind"].dialect.name == "postgresql" else ""
    timings: list[float] = []
    while limit is None or len(timings) < limit:
        if reset_to is not None:
            with transaction(factory) as session:
                session.execute(text("UPDATE naive_instance SET state = :s WHERE id = :i"), {"s": reset_to, "i": iid})
        start = time.perf_counter()
        with transaction(factory) as session:
            if not naive_step(session, iid, numbers, ctx.clock.now(), lock):
                break
        timings.append(time.perf_counter() - start)
    return timings


# -- measuring ----------------------------------------------------------------------------------------

def count_statements(sql_engine: Any, work: Callable[[], Any]) -> int:
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
    p95 = ordered[max(0, int(len(ordered) * 0.95) - 1)]
    return f"p50 {statistics.median(values) * 1000:.2f} ms, p95 {p95 * 1000:.2f} ms"


def _line(label: str, timings: list[float], note: str = "") -> str:
    return f"  {label:<22}: {_rate(timings):7.1f} completions/s  ({_ms(timings)}){note}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", help="server to benchmark on (a scratch database is created there); "
                        "default: a temporary SQLite file")
    parser.add_argument("--cases", type=int, default=20, help="whole rectification cases per side")
    parser.add_argument("--long", type=int, default=1000, help="monthly reports in the ageing instance")
    args = parser.parse_args()

    url = scratch_database(args.database_url)
    upgrade(url)
    sql_engine = make_engine(url)
    factory = make_session_factory(sql_engine)
    with factory() as session:
        calendar.load(session)  # deadlines are computed on the office's calendar
    ctx = EngineContext.default()
    with transaction(factory) as session:
        loaded = demo.seed_reference_data(session)
    deploy_shipped(factory, ctx)
    with transaction(factory) as session:
        demo.seed_plan(session, loaded)
        loaded = demo.seed_reference_data(session)
        NAIVE.create_all(session.connection())
    actors = {group: loaded.actor(user) for group, user in LANE_USERS.items()}

    def engine_lifecycles(count: int) -> list[float]:
        timings: list[float] = []
        for _ in range(count):
            iid = open_rectification(factory, ctx, loaded, problems=3)
            with factory() as s:
                numbers = list(s.execute(select(RectificationItem.number).where(RectificationItem.instance_id == iid)
                                         .order_by(RectificationItem.id)).scalars())
            timings += engine_case(factory, ctx, actors, iid, numbers)
        return timings

    def naive_lifecycles(count: int) -> list[float]:
        numbers = ["N-01", "N-02", "N-03"]
        items = [{"item_id": n, "number": number, "problem": "问题"} for n, number in enumerate(numbers)]
        timings: list[float] = []
        for _ in range(count):
            iid = naive_start(factory, ctx, "rectification", {"unit_name": "单位", "case_title": "整改",
                                                              "items": items}, [])
            timings += naive_case(factory, ctx, iid, numbers)
        return timings

    engine_lifecycles(2), naive_lifecycles(2)  # warm caches and connections on both sides
    ours, naive = engine_lifecycles(args.cases), naive_lifecycles(args.cases)

    # One more completion, counted statement by statement.
    iid = open_rectification(factory, ctx, loaded, problems=3)
    statements = count_statements(sql_engine, lambda: engine_case(factory, ctx, actors, iid, [], limit=1))

    clue = open_clue(factory, ctx, loaded, unit="U-HOUSING", number="BENCH-LONG")
    for bpmn_id in ("handover", "acknowledge", "dispose"):
        act(factory, ctx, actors[{"handover": "office"}.get(bpmn_id, "receiving_body")], clue, bpmn_id,
            answer(bpmn_id, []))
    ageing = engine_case(factory, ctx, actors, clue, [], limit=args.long)
    naive_clue = naive_start(factory, ctx, "clue_disposition", {"clue_id": 0, "clue_number": "N"},
                             ["handover", "acknowledge", "dispose"])
    with factory() as s:
        small = s.execute(select(NAIVE_INSTANCE.c.state).where(NAIVE_INSTANCE.c.id == naive_clue)).scalar_one()
    fresh = naive_case(factory, ctx, naive_clue, [], limit=300, reset_to=small)
    naive_ageing = naive_case(factory, ctx, naive_clue, [], limit=min(args.long, 400))
    with factory() as s:
        size = s.execute(text("SELECT length(state) FROM process_instance WHERE id = :i"), {"i": clue}).scalar_one()
        naive_size = s.execute(select(NAIVE_INSTANCE.c.state).where(NAIVE_INSTANCE.c.id == naive_clue)).scalar_one()

    print(f"engine_steps on {sql_engine.dialect.name} ({describe_machine()})")
    print(f"1. lifecycle: {args.cases} rectification cases x {len(ours) // args.cases} completions per side")
    print(_line("naive", naive, "  [baseline]"))
    print(_line("engine", ours))
    print(f"  {'ratio':<22}: {_rate(ours) / _rate(naive):7.2f}x the naive baseline (target >= 1.3x)")
    print(f"  {'SQL per completion':<22}: {statements} (spiff-arena: 74-95)")
    print(f"2. ageing: one clue, {len(ageing)} monthly reports")
    print(f"  {'engine, steps 10-110':<22}: {_ms(ageing[10:110])}")
    print(f"  {'engine, last 100':<22}: {_ms(ageing[-100:])}  (last/first "
          f"{statistics.median(ageing[-100:]) / statistics.median(ageing[10:110]):.2f})")
    print(f"  {'naive, steps 10-110':<22}: {_ms(naive_ageing[10:110])}")
    print(f"  {'naive, last 100':<22}: {_ms(naive_ageing[-100:])}  (after {len(naive_ageing)} reports)")
    print(f"  {'stored state':<22}: engine {size} bytes; naive {len(naive_size)} bytes")
    print("3. fresh naive (state reset before every step, never grows)")
    print(_line("naive, fresh", fresh))
    print(f"  {'engine vs fresh':<22}: {_rate(ours) / _rate(fresh):7.2f}x")
    sql_engine.dispose()


if __name__ == "__main__":
    main()
