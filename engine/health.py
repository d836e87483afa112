"""What operators ask of a running installation: is it ready to serve, and the figures Prometheus
scrapes that live in the database (queue sizes, completions, timer lateness).

Counting from the database rather than in each process keeps these exact however many web workers and
schedulers run, and across restarts: a completion is a completed task row, a fired timer a fired row.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from alembic.script import ScriptDirectory
from sqlalchemy import case, func, select, text
from sqlalchemy.orm import Session

from models import HumanTask, InstanceStatus, ProcessInstance, TaskStatus, Timer, TimerStatus

from . import calendar
from .migrate import alembic_config

LATENESS_WINDOW = timedelta(minutes=10)


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str = ""


def _head_revision() -> str | None:
    script = ScriptDirectory.from_config(alembic_config(""))
    return script.get_current_head()


def readiness(session: Session) -> list[Check]:
    """Database reachable, schema at the newest migration, business calendar loaded."""
    checks: list[Check] = []
    try:
        session.execute(text("SELECT 1"))
        checks.append(Check("database", True))
    except Exception as exc:  # any failure to reach the database means not ready
        session.rollback()
        return [Check("database", False, type(exc).__name__)]
    try:
        current = session.execute(text("SELECT version_num FROM alembic_version")).scalar_one_or_none()
    except Exception:  # no alembic_version table: never migrated
        session.rollback()
        current = None
    head = _head_revision()
    checks.append(Check("migrations", current == head, f"database {current or 'none'}, code {head}"))
    try:
        calendar.current()
        checks.append(Check("calendar", True))
    except calendar.CalendarNotLoaded:
        checks.append(Check("calendar", False, "business calendar not loaded"))
    return checks


@dataclass(frozen=True)
class Sample:
    name: str
    kind: str  # "gauge" or "counter"
    help: str
    labels: dict[str, str]
    value: float


def _quantile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def database_samples(session: Session, now: datetime) -> list[Sample]:
    """Queue sizes, completions, instances and timer lateness, read with a handful of aggregate queries."""
    samples: list[Sample] = []
    open_tasks = session.execute(
        select(HumanTask.candidate_group, func.count(), func.sum(case((HumanTask.due_at < now, 1), else_=0)))
        .where(HumanTask.status == TaskStatus.READY).group_by(HumanTask.candidate_group)).all()
    for group, count, overdue in open_tasks:
        labels = {"group": group or "personal"}
        samples.append(Sample("xuncha_open_tasks", "gauge", "Ready user tasks by candidate group.", labels, count))
        samples.append(Sample("xuncha_overdue_tasks", "gauge", "Ready user tasks past their deadline.", labels,
                              float(overdue or 0)))
    completed = session.execute(select(func.count()).select_from(HumanTask)
                                .where(HumanTask.status == TaskStatus.COMPLETED)).scalar_one()
    samples.append(Sample("xuncha_task_completions_total", "counter", "User tasks completed, ever.", {}, completed))
    for status, count in session.execute(select(ProcessInstance.status, func.count())
                                         .group_by(ProcessInstance.status)).all():
        samples.append(Sample("xuncha_instances", "gauge", "Process instances by status.", {"status": status},
                              count))
    fired_total = session.execute(select(func.count()).select_from(Timer)
                                  .where(Timer.status == TimerStatus.FIRED)).scalar_one()
    samples.append(Sample("xuncha_timers_fired_total", "counter", "Timers fired, ever.", {}, fired_total))
    late_waiting = session.execute(select(func.count()).select_from(Timer).where(
        Timer.status == TimerStatus.WAITING, Timer.due_at < now - timedelta(seconds=30))).scalar_one()
    samples.append(Sample("xuncha_timers_overdue_waiting", "gauge",
                          "Timers due more than 30 s ago and not yet fired (a stalled scheduler shows here).", {},
                          late_waiting))
    recent = session.execute(select(Timer.due_at, Timer.fired_at).where(
        Timer.status == TimerStatus.FIRED, Timer.fired_at >= now - LATENESS_WINDOW)).all()
    lateness = [max(0.0, (fired - due).total_seconds()) for due, fired in recent if fired is not None]
    for q in (0.5, 0.99):
        samples.append(Sample("xuncha_timer_lateness_seconds", "gauge",
                              "Lateness of timers fired in the last 10 minutes (fired_at - due_at).",
                              {"quantile": str(q)}, _quantile(lateness, q)))
    samples.append(Sample("xuncha_timer_lateness_seconds_max", "gauge",
                          "Largest lateness of a timer fired in the last 10 minutes.", {},
                          max(lateness, default=0.0)))
    running = [s for s in samples if s.name == "xuncha_instances" and s.labels["status"] == InstanceStatus.RUNNING]
    if not running:
        samples.append(Sample("xuncha_instances", "gauge", "Process instances by status.",
                              {"status": InstanceStatus.RUNNING}, 0))
    return samples

