"""The scheduler process: APScheduler is only the clock; the ``timer`` table is the truth."""

from __future__ import annotations

import logging

from apscheduler.schedulers.blocking import BlockingScheduler
from sqlalchemy.orm import Session, sessionmaker

from .context import EngineContext
from .db import transaction
from .notify import dispatch_mail, offer_new_tasks, warn_due_soon
from .timers import sweep

log = logging.getLogger(__name__)


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


def run_forever(factory: sessionmaker[Session], ctx: EngineContext, interval_seconds: float = 1.0) -> None:
    scheduler = BlockingScheduler(timezone="UTC")

    def _tick() -> None:
        try:
            result = sweep(factory, ctx)
            if result.fired or result.skipped or result.failed:
                log.info("timers fired=%s skipped=%s failed=%s", result.fired, result.skipped, result.failed)
        except Exception:  # a failed sweep must not stop the clock; the next tick retries
            log.exception("timer sweep failed")
        try:
            notices(factory, ctx)
        except Exception:
            log.exception("notification sweep failed")

    scheduler.add_job(_tick, "interval", seconds=interval_seconds, max_instances=1, coalesce=True)
    log.info("scheduler started: sweeping timers every %ss", interval_seconds)
    scheduler.start()
