"""Timer lateness: 10,000 timers due within one minute, fired by two scheduler processes.

Each timer belongs to its own case of a small process (start → a timer waiting until the case's
``due`` → a script noting it → end), started through the engine like any other. The due times are
spread evenly over a one-minute window that opens once every case is created; then the scheduler
processes (``python -m web.cli scheduler``, exactly as deployed) are started and the run waits
until every timer is fired or a deadline passes. Printed, per round:

* counts: timers, fired, double-fired (timers with more than one ``timer_fired`` audit event) and
  lost (not fired by the deadline, or fired without its audit event);
* lateness as recorded, ``fired_at − due_at`` (the engine clock when the firing step ran), and as
  seen, the moment the benchmark first saw the firing committed (polled every 0.2 s) − ``due_at``:
  p50 / p99 / max.

The baseline round, in the same run and on the same database, is the same load with one scheduler
process; the ratio is baseline p99 / measured p99.

    python -m bench.timer_lateness [--database-url URL] [--timers 10000] [--window 60] [--schedulers 2]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import create_engine, func, select, text
from sqlalchemy.engine import make_url

from bench.common import describe_machine
from engine import demo, runtime
from engine.context import EngineContext
from engine.db import make_engine, make_session_factory, normalise_url, transaction
from engine.definitions import deploy
from engine.migrate import upgrade
from models import AuditEvent, ProcessInstance, Timer, TimerStatus

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_SERVER = "postgresql://postgres@127.0.0.1:5432/test"
CHUNK = 250  # cases started per transaction
SCRATCH = "xuncha_bench_timers"

# A process of our own: the timer waits for the date the case was given (timeDate from a variable).
DIAGRAM = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="bench_defs" targetNamespace="xuncha">
  <bpmn:process id="bench_deadline" name="到期提醒" isExecutable="true">
    <bpmn:startEvent id="opened"/>
    <bpmn:sequenceFlow id="to_wait" sourceRef="opened" targetRef="until_due"/>
    <bpmn:intermediateCatchEvent id="until_due" name="due">
      <bpmn:timerEventDefinition><bpmn:timeDate>due</bpmn:timeDate></bpmn:timerEventDefinition>
    </bpmn:intermediateCatchEvent>
    <bpmn:sequenceFlow id="to_note" sourceRef="until_due" targetRef="note"/>
    <bpmn:scriptTask id="note" name="note"><bpmn:script>reminded = True</bpmn:script></bpmn:scriptTask>
    <bpmn:sequenceFlow id="to_end" sourceRef="note" targetRef="closed"/>
    <bpmn:endEvent id="closed"/>
  </bpmn:process>
</bpmn:definitions>""".encode()


def scratch_database(url: str, *, drop: bool = False) -> str:
    """``xuncha_bench_timers`` on the given server, created afresh (or dropped): never the database given."""
    server = make_url(normalise_url(url))
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f"DROP DATABASE IF EXISTS {SCRATCH} WITH (FORCE)"))
        if not drop:
            conn.execute(text(f"CREATE DATABASE {SCRATCH}"))
    admin.dispose()
    return server.set(database=SCRATCH).render_as_string(hide_password=False)


@dataclass
class Round:
    label: str
    schedulers: int
    timers: int
    fired: int
    double_fired: int
    lost: int
    recorded: list[float]
    seen: list[float]
    drained_after: float


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(share * len(ordered)) - 1))]


def _stats(values: list[float]) -> str:
    if not values:
        return "-"
    return (f"p50 {statistics.median(values):6.3f} s  p99 {_percentile(values, 0.99):6.3f} s  "
            f"max {max(values):6.3f} s")


def start_cases(factory: object, ctx: EngineContext, loaded: demo.Demo, dues: list[datetime], tag: str) -> list[int]:
    office, scope = loaded.actor("office1"), loaded.orgs["CITY"].path
    ids: list[int] = []
    for begin in range(0, len(dues), CHUNK):
        with transaction(factory) as session:  # type: ignore[arg-type]
            for n, due in enumerate(dues[begin:begin + CHUNK], start=begin):
                ids.append(runtime.start_instance(session, ctx, office, "bench_deadline", {"due": due.isoformat()},
                                                  scope_path=scope, title=f"{tag} {n}").id)
    return ids


def run_round(label: str, url: str, factory: object, ctx: EngineContext, loaded: demo.Demo, *, timers: int,
              window: float, schedulers: int, workdir: Path) -> Round:
    # How long creating the cases takes, from a first chunk whose timers are far away (never fired here).
    began = time.perf_counter()
    far = datetime.now(UTC) + timedelta(days=3650)
    start_cases(factory, ctx, loaded, [far] * 50, f"{label} warm-up")
    per_case = (time.perf_counter() - began) / 50
    opens = datetime.now(UTC) + timedelta(seconds=per_case * timers * 1.3 + 5)
    dues = [opens + timedelta(seconds=window * n / timers) for n in range(timers)]
    ids = start_cases(factory, ctx, loaded, dues, label)
    ready = datetime.now(UTC)
    if ready >= opens:
        raise SystemExit(f"creating the cases overran the window's opening by {(ready - opens).total_seconds():.1f} s")
    print(f"  {label}: {timers} cases created at {1 / per_case:.0f}/s; window opens in "
          f"{(opens - ready).total_seconds():.1f} s", flush=True)

    env = {**os.environ, "DATABASE_URL": url, "SECRET_KEY": "bench", "XUNCHA_DEPLOY_SHIPPED": "0",
           "XUNCHA_INSTANCE_DIR": str(workdir / "instance")}
    processes = []
    for n in range(schedulers):
        with (workdir / f"{label}-scheduler-{n}.log").open("w") as output:
            processes.append(subprocess.Popen([sys.executable, "-m", "web.cli", "scheduler"], env=env, cwd=ROOT,
                                              stdout=output, stderr=subprocess.STDOUT))
    reader = make_session_factory(factory.kw["bind"], read_only=True)  # type: ignore[attr-defined]
    seen: dict[int, datetime] = {}
    deadline = opens + timedelta(seconds=window + 120)
    try:
        while datetime.now(UTC) < deadline:
            with reader() as session:
                fired = session.execute(select(Timer.id).where(
                    Timer.instance_id >= ids[0], Timer.instance_id <= ids[-1], Timer.status == TimerStatus.FIRED)
                ).scalars().all()
            now = datetime.now(UTC)
            for timer_id in fired:
                seen.setdefault(timer_id, now)
            if len(seen) >= timers:
                break
            if any(p.poll() is not None for p in processes):
                raise SystemExit("a scheduler process stopped; see its log in " + str(workdir))
            time.sleep(0.2)
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(timeout=60)
    drained = (max(seen.values()) - opens).total_seconds() if seen else float("nan")

    with reader() as session:
        rows = session.execute(select(Timer.id, Timer.due_at, Timer.fired_at, Timer.status)
                               .where(Timer.instance_id >= ids[0], Timer.instance_id <= ids[-1])).all()
        events = Counter(json.loads(p)["timer_id"] for p in session.execute(
            select(AuditEvent.payload).where(AuditEvent.event_type == "timer_fired",
                                             AuditEvent.instance_id >= ids[0],
                                             AuditEvent.instance_id <= ids[-1])).scalars())
        completed = session.execute(select(func.count()).select_from(ProcessInstance).where(
            ProcessInstance.id >= ids[0], ProcessInstance.id <= ids[-1], ProcessInstance.completed_at.is_not(None))
        ).scalar_one()
    fired_rows = [r for r in rows if r.status == TimerStatus.FIRED]
    lost = sum(1 for r in rows if r.status != TimerStatus.FIRED or events[r.id] == 0) + (timers - len(rows))
    recorded = [(r.fired_at - r.due_at).total_seconds() for r in fired_rows]
    seen_lateness = [(seen[r.id] - r.due_at).total_seconds() for r in fired_rows if r.id in seen]
    assert completed == len(fired_rows), (completed, len(fired_rows))
    return Round(label, schedulers, timers, len(fired_rows), sum(1 for n in events.values() if n > 1), lost,
                 recorded, seen_lateness, drained)


def report(r: Round) -> None:
    print(f"  {r.label}: {r.schedulers} scheduler process(es), {r.timers} timers: fired {r.fired}, "
          f"double-fired {r.double_fired}, lost {r.lost}; "
          f"last one seen {r.drained_after:.1f} s after the window opened")
    print(f"    lateness as recorded (fired_at - due_at): {_stats(r.recorded)}")
    print(f"    lateness as seen committed (0.2 s polls): {_stats(r.seen)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL") or os.environ.get(
        "TEST_DATABASE_URL") or DEFAULT_SERVER, help="server to benchmark on (a scratch database is created there)")
    parser.add_argument("--timers", type=int, default=10_000)
    parser.add_argument("--window", type=float, default=60.0, help="seconds over which the timers come due")
    parser.add_argument("--schedulers", type=int, default=2)
    parser.add_argument("--no-baseline", action="store_true", help="skip the one-scheduler round")
    args = parser.parse_args()

    url = scratch_database(args.database_url)
    upgrade(url)
    sql_engine = make_engine(url)
    factory = make_session_factory(sql_engine)
    ctx = EngineContext.default()
    with transaction(factory) as session:
        loaded = demo.seed_reference_data(session)
        deploy(session, DIAGRAM, None, ctx.forms, at=ctx.clock.now())
    with transaction(factory) as session:
        loaded = demo.seed_reference_data(session)
    workdir = Path(tempfile.mkdtemp(prefix="xuncha-bench-timers-"))
    print(f"Timer lateness — {describe_machine()}, {sql_engine.dialect.name} "
          f"{'.'.join(map(str, sql_engine.dialect.server_version_info or ()))}; logs in {workdir}", flush=True)

    rounds = []
    if not args.no_baseline:
        rounds.append(run_round("baseline", url, factory, ctx, loaded, timers=args.timers, window=args.window,
                                schedulers=1, workdir=workdir))
        report(rounds[-1])
    rounds.append(run_round("measured", url, factory, ctx, loaded, timers=args.timers, window=args.window,
                            schedulers=args.schedulers, workdir=workdir))
    report(rounds[-1])
    measured = rounds[-1]
    if len(rounds) == 2 and measured.seen:
        ratio = _percentile(rounds[0].seen, 0.99) / _percentile(measured.seen, 0.99)
        print(f"  p99 seen: baseline / measured = {ratio:.2f}x")
    ok = (measured.double_fired == 0 and measured.lost == 0 and measured.seen
          and _percentile(measured.seen, 0.99) < 2.0)
    print("  targets (p99 < 2 s, none double-fired, none lost):", "met" if ok else "NOT met")
    sql_engine.dispose()
    scratch_database(args.database_url, drop=True)


if __name__ == "__main__":
    main()
