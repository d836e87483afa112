"""The scheduler process: APScheduler is only the clock; the ``timer`` table is the truth."""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime, timedelta

from apscheduler.schedulers.blocking import BlockingScheduler
from sqlalchemy.orm import Session, sessionmaker

from . import idempotency
from .context import EngineContext
from .db import make_session_factory, transaction
from .notify import dispatch_mail, offer_new_tasks, warn_due_soon
from .timers import SweepResult, next_due, sweep

log = logging.getLogger(__name__)

SWEEP_LIMIT = 500  # timers per sweep; a sweep that reaches it is followed by another at once
PRUNE_EVERY_SECONDS = 600  # idempotency records: their window is hours, a few minutes late is nothing


def notices(factory: sessionmaker[Session], ctx: EngineContext) -> tuple[int, int, int]:
    """Offer new tasks to their candidates, warn of tasks entering their yellow period, then hand
    committed notifications to the mailer. Returns (offered, warned, mailed)."""
    with transaction(factory) as session:
        offered = offer_new_tasks(session, ctx.clock.now())
        warned = warn_due_soon(session, ctx.clock.now())
    mailed = dispatch_mail(factory, ctx.mailer, ctx.clock)
    if offered or warned or mailed:
        log.info("notifications: offered=%s due-soon=%s mailed=%s", offered, warned, mailed)
    return offered, warned, mailed


def sweep_timers(factory: sessionmaker[Session], reader: sessionmaker[Session], ctx: EngineContext, until: float
                 ) -> SweepResult:
    """Fire due timers until the monotonic moment ``until``: sweep, and while the next timer comes
    due before then, sleep till it is due and sweep again (so a timer waits for its moment, not for
    the next tick); a sweep that hit its limit is followed by another at once."""
    total = SweepResult()
    while True:
        result = sweep(factory, ctx, limit=SWEEP_LIMIT)
        total.fired, total.skipped, total.failed = (total.fired + result.fired, total.skipped + result.skipped,
                                                    total.failed + result.failed)
        left = until - time.monotonic()
        if left <= 0:
            return total
        if result.handled >= SWEEP_LIMIT:
            continue
        with reader() as session:  # read-only: on SQLite it leaves the write lock to others
            upcoming = next_due(session, ctx)
        if upcoming is None:
            return total
        wait = (upcoming - ctx.clock.now()).total_seconds()
        if wait >= left:
            return total
        time.sleep(max(wait, 0.0) + 0.001)


def prune_idempotency_keys(factory: sessionmaker[Session], ctx: EngineContext, retention: timedelta) -> int:
    """Delete the idempotency records past their retention window (engine.idempotency.prune)."""
    deleted = idempotency.prune(factory, ctx.clock.now(), retention)
    if deleted:
        log.info("idempotency records pruned: %s", deleted)
    return deleted


def build(factory: sessionmaker[Session], ctx: EngineContext, interval_seconds: float = 1.0,
          idempotency_retention: timedelta = idempotency.RETENTION) -> BlockingScheduler:
    """The scheduler's jobs: the timer and notice tick, and the pruning of old idempotency records.
    Any number of schedulers may run side by side: each job takes its rows with SKIP LOCKED."""
    scheduler = BlockingScheduler(timezone="UTC")
    reader = make_session_factory(factory.kw["bind"], read_only=True)

    def _tick() -> None:
        started = time.monotonic()
        try:  # timers until most of the interval is gone, then the notices, then the next tick
            result = sweep_timers(factory, reader, ctx, until=started + interval_seconds * 0.8)
            if result.fired or result.skipped or result.failed:
                log.info("timers fired=%s skipped=%s failed=%s", result.fired, result.skipped, result.failed)
        except Exception:  # a failed sweep must not stop the clock; the next tick retries
            log.exception("timer sweep failed")
        try:
            notices(factory, ctx)
        except Exception:
            log.exception("notification sweep failed")

    def _prune() -> None:
        try:
            prune_idempotency_keys(factory, ctx, idempotency_retention)
        except Exception:  # the next run retries
            log.exception("pruning idempotency records failed")

    scheduler.add_job(_tick, "interval", id="tick", seconds=interval_seconds, max_instances=1, coalesce=True)
    # Also at start: a scheduler restarted more often than the interval still prunes.
    scheduler.add_job(_prune, "interval", id="prune_idempotency_keys", seconds=PRUNE_EVERY_SECONDS,
                      next_run_time=datetime.now(UTC), max_instances=1, coalesce=True)
    return scheduler


def run_forever(factory: sessionmaker[Session], ctx: EngineContext, interval_seconds: float = 1.0,
                idempotency_retention: timedelta = idempotency.RETENTION) -> None:
    # SpiffWorkflow logs every task state change at INFO: thousands of lines a second under load.
    logging.getLogger("spiff").setLevel(logging.WARNING)
    scheduler = build(factory, ctx, interval_seconds, idempotency_retention)
    log.info("scheduler started: sweeping timers every %ss, keeping idempotency records %s", interval_seconds,
             idempotency_retention)
    scheduler.start()
