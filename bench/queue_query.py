"""Queue pages at 1,000,000 human-task rows (100,000 open) on PostgreSQL: p50/p95/max of each common
queue query through ``engine.queues``, as real actors, against a baseline measured in the same run.

The baseline is the same queries on the same data before migration 0005 (the schema of 0004, whose
indexes were designed for small tables); then the run migrates to head (timing the index build on the
full table — what an existing installation pays once), analyses, and measures again. The ratio is
baseline p50 / indexed p50.

Data (generated with COPY, about a minute): the demo accounts and organisations plus 96 city units,
10 counties of 40 units each, their offices, discipline bodies, inspection teams and ~1,250 people;
150,000 cases (30 % clues, 70 % rectifications; 100,000 running, each with one open task); a history
of 900,000 completed tasks, written before the open ones (a table grows in time order, so open tasks
are its newest rows); 回避 on a tenth of the clues (and on 200 cases for office1, so that the
anti-join has rows to remove). Deadlines of open tasks spread so that about 20 % are red and 10 %
yellow at the benchmark's clock (2026-11-25 09:00 Beijing time).

    python -m bench.queue_query [--database-url URL] [--runs 50] [--baseline-runs 10] [--explain] [--keep]

The database ``xuncha_bench_queue`` on that server is created and dropped by the run (``--keep``
leaves it for EXPLAIN sessions).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, create_engine, event, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from bench.common import describe_machine
from engine import calendar
from engine import demo as demo_data
from engine.accounts import hash_password
from engine.actors import Actor, load_actor
from engine.bootstrap import add_missing_groups, deploy_shipped
from engine.clock import FrozenClock
from engine.context import EngineContext
from engine.db import make_engine, make_session_factory, normalise_url, transaction
from engine.definitions import SPEC_CACHE, latest_definition
from engine.migrate import upgrade
from engine.queues import TaskFilter, list_tasks, queue_counts
from models import Membership, Organisation, OrgKind, Round, TermPlan, User

DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/test"
BENCH_DB = "xuncha_bench_queue"
NOW = datetime(2026, 11, 25, 9, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
RUNNING, FINISHED = 100_000, 50_000  # cases; each running one has one open task
CITY_UNITS, COUNTIES, COUNTY_UNITS, TEAMS = 96, 10, 40, 10
TOPICS = ["教材采购", "工程招投标", "选人用人", "公务用车", "扶贫资金", "违规吃喝", "办公用房", "财务管理",
          "意识形态", "基层党建", "干部档案", "政府采购", "专项资金", "国有资产", "安全生产", "信访积案",
          "债务化解", "医保基金", "土地出让", "涉企收费", "耕地保护", "生态环保", "食品药品", "民生实事"]


# -- the scratch database --------------------------------------------------------------------------------------

def server_url(url: str) -> Any:
    return make_url(normalise_url(url))


def create_database(url: str) -> str:
    server = server_url(url)
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f"DROP DATABASE IF EXISTS {BENCH_DB} WITH (FORCE)"))
        conn.execute(text(f"CREATE DATABASE {BENCH_DB}"))
    admin.dispose()
    return str(server.set(database=BENCH_DB).render_as_string(hide_password=False))


def drop_database(url: str) -> None:
    admin = create_engine(server_url(url), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f"DROP DATABASE IF EXISTS {BENCH_DB} WITH (FORCE)"))
    admin.dispose()


# -- organisations, people, rounds -----------------------------------------------------------------------------

@dataclass
class World:
    """What the case generator draws from."""

    city: Organisation
    units: list[tuple[Organisation, Organisation]]  # (unit, owning scope: the city or its county)
    teams: dict[int, list[Organisation]]  # scope org id → inspection teams
    bodies: dict[int, list[Organisation]]  # scope org id → receiving bodies (纪委监委, 组织部)
    rounds: dict[int, list[int]]  # scope org id → round ids
    holders: dict[tuple[str, str], list[int]]  # (group key, org path) → user ids holding the role there


def _org(session: Session, code: str, name: str, kind: str, parent: Organisation) -> Organisation:
    org = Organisation(code=code, name=name, kind=kind, parent_id=parent.id)
    session.add(org)
    session.flush()
    org.path = f"{parent.path}{org.id}/"
    return org


def build_world(factory: sessionmaker[Session], ctx: EngineContext) -> World:
    password = hash_password(demo_data.DEMO_PASSWORD)
    with transaction(factory) as session:
        demo_data.seed_reference_data(session, password)
    deploy_shipped(factory, ctx)
    with transaction(factory) as session:
        demo = demo_data.seed_reference_data(session)
        demo_data.seed_plan(session, demo)
    with transaction(factory) as session:
        demo = demo_data.seed_reference_data(session)
        groups = add_missing_groups(session)
        city = demo.orgs[demo_data.CITY_CODE]
        people: list[tuple[str, Organisation, list[tuple[str, Organisation]]]] = []
        units = [(o, city) for o in demo.orgs.values() if o.kind == OrgKind.UNIT]
        for n in range(len(units), CITY_UNITS):
            units.append((_org(session, f"U-B{n:03d}", f"市直单位{n:03d}", OrgKind.UNIT, city), city))
        teams = {city.id: [demo.orgs["TEAM1"], demo.orgs["TEAM2"]]}
        for n in range(3, TEAMS + 1):
            teams[city.id].append(_org(session, f"TEAM{n}", f"市委第{n}巡察组", OrgKind.INSPECTION_TEAM, city))
        bodies = {city.id: [demo.orgs["JW"], demo.orgs["ZZB"]]}
        for n in range(10):
            people.append((f"city-office-{n}", demo.orgs["OFFICE"], [("office", city)]))
            people.append((f"city-jw-{n}", demo.orgs["JW"], [("receiving_body", demo.orgs["JW"])]))
        for n in range(3):
            people.append((f"city-lg-{n}", demo.orgs["LG"], [("leading_group", city)]))
            people.append((f"city-zzb-{n}", demo.orgs["ZZB"], [("receiving_body", demo.orgs["ZZB"])]))
        for team in teams[city.id]:
            people += [(f"{team.code.lower()}-{n}", team, [("inspection_group", team)]) for n in range(5)]
        for c in range(COUNTIES):
            letter = chr(ord("A") + c)
            county = demo.orgs.get(f"COUNTY-{letter}") or _org(session, f"COUNTY-{letter}", f"{letter}县",
                                                                 OrgKind.COUNTY, city)
            office = demo.orgs.get(f"COUNTY-{letter}-OFFICE") or _org(
                session, f"COUNTY-{letter}-OFFICE", f"{letter}县县委巡察办", OrgKind.OFFICE, county)
            jw = _org(session, f"COUNTY-{letter}-JW", f"{letter}县纪委监委", OrgKind.RECEIVING_BODY, county)
            bodies[county.id] = [jw]
            teams[county.id] = [_org(session, f"COUNTY-{letter}-TEAM{n}", f"{letter}县委第{n}巡察组",
                                     OrgKind.INSPECTION_TEAM, county) for n in (1, 2)]
            existing = [o for o in demo.orgs.values() if o.parent_id == county.id and o.kind == OrgKind.TOWNSHIP]
            county_units = existing + [
                _org(session, f"COUNTY-{letter}-U{n:02d}", f"{letter}县{'乡镇单位' if n % 2 else '县直单位'}{n:02d}",
                     OrgKind.TOWNSHIP if n % 2 else OrgKind.UNIT, county)
                for n in range(len(existing), COUNTY_UNITS)]
            units += [(u, county) for u in county_units]
            people += [(f"office-{letter.lower()}{n}", office, [("office", county)]) for n in range(5)]
            people += [(f"jw-{letter.lower()}{n}", jw, [("receiving_body", jw)]) for n in range(5)]
            for team in teams[county.id]:
                people += [(f"{team.code.lower()}-{n}", team, [("inspection_group", team)]) for n in range(4)]
        for unit, _scope in units:
            people += [(f"{unit.code.lower()}-{n}", unit, [("unit", unit)]) for n in range(2)]
        session.flush()
        for username, org, roles in people:
            user = User(username=username, display_name=username, password_hash=password, org_id=org.id)
            session.add(user)
            session.flush()
            session.add_all(Membership(user_id=user.id, group_id=groups[key].id, org_id=scope.id)
                            for key, scope in roles)
        session.flush()
        plans = {city.id: session.execute(select(TermPlan.id)).scalar_one()}
        rounds: dict[int, list[int]] = {}
        for scope_id in teams:
            if scope_id not in plans:
                plan = TermPlan(name="巡察规划", org_id=scope_id, start_year=2022, end_year=2026)
                session.add(plan)
                session.flush()
                plans[scope_id] = plan.id
            for year in range(2022, 2027):
                for number in (1, 2):
                    if scope_id == city.id and (year, number) == (2026, 1):
                        continue  # the demo's round
                    session.add(Round(plan_id=plans[scope_id], org_id=scope_id, year=year, number=number,
                                      name=f"{year}年第{number}轮巡察", stage="整改"))
        session.flush()
        for round_ in session.execute(select(Round)).scalars():
            rounds.setdefault(round_.org_id, []).append(round_.id)
        holders: dict[tuple[str, str], list[int]] = {}
        for user_id, key, path in session.execute(text(
                "SELECT m.user_id, g.key, o.path FROM membership m JOIN app_group g ON g.id = m.group_id "
                "JOIN organisation o ON o.id = m.org_id")):
            holders.setdefault((key, path), []).append(user_id)
        session.expunge_all()
        return World(city, units, teams, bodies, rounds, holders)


# -- cases and tasks ------------------------------------------------------------------------------------------

@dataclass
class Flow:
    key: str
    definition_id: int
    name: str
    steps: list[tuple[str, str, str | None, str | None]]  # bpmn id, name, group key, form key


def flows(factory: sessionmaker[Session], ctx: EngineContext) -> dict[str, Flow]:
    result = {}
    with factory() as session:
        for key in ("clue_disposition", "rectification"):
            definition = latest_definition(session, key)
            parsed = SPEC_CACHE.get(session, definition, ctx.forms)
            steps = [(t.bpmn_id, t.name, t.group_key, t.form_key) for t in parsed.tasks.values()]
            result[key] = Flow(key, definition.id, definition.name, steps)
    return result


INSTANCE_COLUMNS = ("id", "definition_id", "process_key", "status", "state", "version", "title", "reference",
                    "case_kind", "confidential", "scope_org_id", "bindings", "recused_user_ids", "unit_path",
                    "round_id", "started_by_id", "started_at", "updated_at", "completed_at", "audit_seq",
                    "audit_hash")
TASK_COLUMNS = ("instance_id", "task_guid", "bpmn_id", "name", "process_key", "title", "reference", "lane",
                "candidate_group", "candidate_org_id", "candidate_org_path", "scope_path", "assignee_id", "status",
                "form_key", "priority", "due_at", "created_at", "claimed_at", "completed_at", "completed_by_id",
                "revision", "unit_path", "round_id")


@dataclass
class Case:
    id: int
    flow: Flow
    clue: bool
    unit: Organisation
    scope: Organisation
    bindings: dict[str, str]
    started: datetime
    reference: str
    title: str
    round_id: int
    recused: list[int]
    topic: str


def plan_cases(world: World, processes: dict[str, Flow], office1: int, rng: random.Random) -> list[Case]:
    result = []
    for case_id in range(1, RUNNING + FINISHED + 1):
        clue = rng.random() < 0.3
        unit, scope = world.units[rng.randrange(len(world.units))]
        bindings = {"_scope": scope.path, "unit": unit.path, "inspection_group": rng.choice(world.teams[scope.id]).path}
        if clue:
            bindings["receiving_body"] = rng.choice(world.bodies[scope.id]).path
        started = datetime(2022, 1, 1, tzinfo=NOW.tzinfo) + timedelta(days=rng.uniform(0, 1780))
        topic = rng.choice(TOPICS)
        recused = rng.sample(world.holders[("unit", unit.path)], 2) if clue and rng.random() < 0.1 else []
        if case_id % 500 == 0:
            recused.append(office1)
        result.append(Case(
            case_id, processes["clue_disposition" if clue else "rectification"], clue, unit, scope, bindings, started,
            f"{'XS' if clue else 'ZG'}-{started.year}-{case_id:06d}",
            f"{unit.name}：反映{topic}问题" if clue else f"{unit.name}巡察整改（{topic}）",
            rng.choice(world.rounds[scope.id]), recused, topic))
    return result


def task_rows(case: Case, world: World, rng: random.Random, *, open_task: bool) -> Iterator[tuple[Any, ...]]:
    """The case's history of completed tasks, or (``open_task``) its one open task while it runs."""
    running = case.id <= RUNNING
    done_steps = (3 + case.id % 5) if running else (6 + case.id % 5)
    steps = [done_steps] if open_task and running else [] if open_task else range(done_steps)
    at = case.started
    for n in steps:
        bpmn_id, name, group, form_key = case.flow.steps[n % len(case.flow.steps)]
        org_path = case.bindings.get(group or "", case.scope.path)
        candidates = world.holders.get((group or "", org_path)) or world.holders[("office", case.scope.path)]
        common = (case.id, str(uuid.UUID(int=rng.getrandbits(128))), bpmn_id, name, case.flow.key, case.title,
                  case.reference, group, group, int(org_path.strip("/").split("/")[-1]), org_path, case.scope.path)
        priority = 90 if case.clue else 50
        if open_task:
            created = NOW - timedelta(days=rng.uniform(0, 40))
            due = None if rng.random() < 0.05 else NOW + timedelta(days=rng.uniform(-6, 24))
            holder = rng.choice(candidates) if rng.random() < 0.3 else None
            yield (*common, holder, "ready", form_key, priority, due, created,
                   created + timedelta(hours=2) if holder else None, None, None, 1, case.unit.path, case.round_id)
        else:
            finished = at + timedelta(days=rng.uniform(0.2, 5))
            holder = rng.choice(candidates)
            yield (*common, holder, "completed", form_key, priority, at + timedelta(days=5), at,
                   at + timedelta(hours=3), finished, holder, 2, case.unit.path, case.round_id)
            at = finished + timedelta(days=rng.uniform(0, 10))


def generate(engine: Engine, world: World, processes: dict[str, Flow], office1: int) -> Case:
    """COPY the cases, their tasks and 回避 rows; returns one case to search for."""
    rng = random.Random(2026)
    started_by = world.holders[("office", world.city.path)][0]
    cases = plan_cases(world, processes, office1, rng)
    with engine.connect() as conn:
        raw = conn.connection.driver_connection
        assert raw is not None
        with raw.cursor() as cur, cur.copy(f"COPY process_instance ({', '.join(INSTANCE_COLUMNS)}) FROM STDIN") as copy:
            for case in cases:
                running = case.id <= RUNNING
                copy.write_row((
                    case.id, case.flow.definition_id, case.flow.key, "running" if running else "completed", "{}", 1,
                    case.title, case.reference, "clue" if case.clue else "rectification", case.clue, case.scope.id,
                    json.dumps(case.bindings), json.dumps(case.recused), case.unit.path, case.round_id, started_by,
                    case.started, case.started, None if running else NOW - timedelta(days=30), 0, "0" * 64))
        # History first, then the open tasks: the table grows in time order, and open tasks are the
        # newest rows (created in the last 40 days), as in a running installation.
        with raw.cursor() as cur, cur.copy(f"COPY human_task ({', '.join(TASK_COLUMNS)}) FROM STDIN") as copy:
            for open_task in (False, True):
                for case in cases:
                    for row in task_rows(case, world, rng, open_task=open_task):
                        copy.write_row(row)
        with raw.cursor() as cur, cur.copy("COPY recusal (instance_id, user_id) FROM STDIN") as copy:
            for pair in sorted({(case.id, user) for case in cases for user in case.recused}):
                copy.write_row(pair)
        raw.execute("SELECT setval(pg_get_serial_sequence('process_instance', 'id'), %s)", (len(cases),))
        raw.commit()
    return cases[4320]


def vacuum_analyze(engine: Engine) -> None:
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE"))


# -- measuring -------------------------------------------------------------------------------------------------

@dataclass
class Query:
    label: str
    run: Callable[[Session], int]  # returns the rows the query found (its total)


def queries(factory: sessionmaker[Session], sample: Case) -> list[Query]:
    with factory() as session:
        office, liaison = load_actor(session, "office1"), load_actor(session, "u-edu-0")
        county_office = load_actor(session, "office-b0")
        county = session.execute(select(Organisation.id).where(Organisation.code == "COUNTY-B")).scalar_one()
        unit, number = sample.unit.id, sample.reference

    def page(actor: Actor, queue: str, sort: str = "due", **args: str) -> Callable[[Session], int]:
        return lambda s: list_tasks(s, actor, queue, filters=TaskFilter.from_args(args), sort=sort, now=NOW).total

    def counts(s: Session) -> int:
        return sum(queue_counts(s, office).values())  # capped at 999+ each, as the navigation shows them

    return [
        Query("mine (office1)", page(office, "mine")),
        Query("group (office1, city office)", page(office, "group")),
        Query("group (unit liaison)", page(liaison, "group")),
        Query("done (office1)", page(office, "done")),
        Query("all (city office), by due", page(office, "all")),
        Query("all, by priority", page(office, "all", "priority")),
        Query("all, newest first", page(office, "all", "-created")),
        Query("all (county office)", page(county_office, "all")),
        Query("all + unit", page(office, "all", unit=str(unit))),
        Query("all + county", page(office, "all", county=str(county))),
        Query("all + red", page(office, "all", colour="red")),
        Query("all + yellow + process", page(office, "all", colour="yellow", process="rectification")),
        Query("all + search case number", page(office, "all", q=number)),
        Query("all + search number part", page(office, "all", q=number[-6:])),
        Query("all + search title word", page(office, "all", q=sample.topic)),
        Query("all + completed + case number", page(office, "all", status="completed", q=number)),
        Query("nav counts (office1), capped", counts),
    ]


def p(times: list[float], q: float) -> float:
    ordered = sorted(times)
    return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))]


@dataclass
class Figures:
    p50: float
    p95: float
    worst: float
    found: int


def run_all(factory: sessionmaker[Session], qs: list[Query], runs: int) -> dict[str, Figures]:
    """Each query ``runs`` times, one session (one request) per run; the queries take turns, so that
    a burst of load on the machine falls on all of them alike rather than on one."""
    found = {}
    for query in qs:  # warm the caches and the connections
        for _ in range(2):
            with factory() as session:
                found[query.label] = query.run(session)
    times: dict[str, list[float]] = {q.label: [] for q in qs}
    load = os.getloadavg()[0]
    for _ in range(runs):
        for query in qs:
            with factory() as session:
                start = time.perf_counter()
                query.run(session)
                times[query.label].append((time.perf_counter() - start) * 1000)
    result = {}
    for query in qs:
        t = times[query.label]
        result[query.label] = Figures(statistics.median(t), p(t, 0.95), max(t), found[query.label])
        print(f"  {query.label:<32} p50 {result[query.label].p50:8.1f} ms  p95 {result[query.label].p95:8.1f} ms"
              f"  ({found[query.label]:,} rows)", flush=True)
    print(f"  (load average {load:.1f} before, {os.getloadavg()[0]:.1f} after, on {os.cpu_count()} CPUs)")
    return result


@dataclass
class Captured:
    statements: list[tuple[str, Any]]


def explain(engine: Engine, factory: sessionmaker[Session], qs: list[Query]) -> None:
    """EXPLAIN ANALYZE each statement one run of each query sends."""
    captured = Captured([])

    def keep(_conn: Any, _cursor: Any, statement: str, parameters: Any, _context: Any, _many: bool) -> None:
        captured.statements.append((statement, parameters))

    for query in qs:
        captured.statements.clear()
        event.listen(engine, "before_cursor_execute", keep)
        try:
            with factory() as session:
                query.run(session)
        finally:
            event.remove(engine, "before_cursor_execute", keep)
        print(f"\n### {query.label}")
        with engine.connect() as conn:
            raw = conn.connection.driver_connection
            assert raw is not None
            for statement, parameters in captured.statements:
                if not statement.lstrip().upper().startswith("SELECT") or "human_task" not in statement:
                    continue
                with raw.cursor() as cur:
                    cur.execute("EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) " + statement, parameters)
                    print("\n".join(r[0] for r in cur.fetchall()))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("database_url", nargs="?", default=None)
    parser.add_argument("--database-url", dest="url_option", default=None)
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--baseline-runs", type=int, default=10)
    parser.add_argument("--explain", action="store_true", help="print EXPLAIN ANALYZE of every query (indexed)")
    parser.add_argument("--keep", action="store_true", help=f"leave the {BENCH_DB} database for inspection")
    args = parser.parse_args(argv)
    url = args.url_option or args.database_url or os.environ.get("TEST_DATABASE_URL") or DEFAULT_URL
    if not normalise_url(url).startswith("postgresql"):
        print("This benchmark needs PostgreSQL (the target is a PostgreSQL figure).", file=sys.stderr)
        return 2
    print(f"Queue queries at 1,000,000 task rows — {describe_machine()}")
    bench_url = create_database(url)
    engine = make_engine(bench_url)
    try:
        with engine.connect() as conn:
            print(f"PostgreSQL {conn.execute(text('SHOW server_version')).scalar_one()}, "
                  f"runs {args.runs} (baseline {args.baseline_runs})", flush=True)
        upgrade(bench_url, "0004")
        ctx = EngineContext.default(clock=FrozenClock(NOW))
        factory = make_session_factory(engine)
        with factory() as session:
            calendar.load(session)  # deadlines are computed on the office's calendar
        reader = make_session_factory(engine, read_only=True)
        start = time.perf_counter()
        world = build_world(factory, ctx)
        with factory() as session:
            office1 = session.execute(select(User.id).where(User.username == "office1")).scalar_one()
        sample = generate(engine, world, flows(factory, ctx), office1)
        vacuum_analyze(engine)
        with engine.connect() as conn:
            counts = conn.execute(text("SELECT count(*), count(*) FILTER (WHERE status = 'ready') FROM human_task"
                                       )).one()
            cases = conn.execute(text("SELECT count(*) FROM process_instance")).scalar_one()
            recused = conn.execute(text("SELECT count(*) FROM recusal")).scalar_one()
            users = conn.execute(text("SELECT count(*) FROM app_user")).scalar_one()
            orgs = conn.execute(text("SELECT count(*) FROM organisation")).scalar_one()
        print(f"Generated {counts[0]:,} task rows ({counts[1]:,} open), {cases:,} cases, {recused:,} recusals, "
              f"{users:,} people, {orgs:,} organisations in {time.perf_counter() - start:.0f} s", flush=True)
        qs = queries(reader, sample)

        print("\nBaseline: schema 0004 (before the queue indexes)", flush=True)
        baseline = run_all(reader, qs, args.baseline_runs)

        start = time.perf_counter()
        engine.dispose()
        upgrade(bench_url)
        built = time.perf_counter() - start
        vacuum_analyze(engine)
        print(f"\nMigrated to head in {built:.1f} s (index build on the full table); analysed", flush=True)
        print("Indexed: schema head", flush=True)
        indexed = run_all(reader, qs, args.runs)

        print("\n| query | rows | p50 ms | p95 ms | max ms | baseline p50 ms | ratio |")
        print("|---|---:|---:|---:|---:|---:|---:|")
        for query in qs:
            f, b = indexed[query.label], baseline[query.label]
            print(f"| {query.label} | {f.found:,} | {f.p50:.1f} | {f.p95:.1f} | {f.worst:.1f} | {b.p50:.1f} | "
                  f"{b.p50 / f.p50:.1f}× |")
        slow = [q.label for q in qs if indexed[q.label].p95 >= 50]
        print(f"\nTarget p95 < 50 ms: {'met by every query' if not slow else 'missed by ' + ', '.join(slow)}")
        if args.explain:
            explain(engine, reader, qs)
    finally:
        engine.dispose()
        if not args.keep:
            drop_database(url)
    return 0


if __name__ == "__main__":
    sys.exit(main())
