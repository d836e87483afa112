"""Idempotency records are kept for a retention window and then pruned by the scheduler, in batches;
an unsettled record (which only a bug could have committed) is kept and reported, never pruned."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from engine import idempotency, scheduler
from engine.context import EngineContext
from engine.demo import Demo
from models import IdempotencyRecord
from web import config


def record(factory: sessionmaker[Session], user_id: int, key: str, created_at: datetime, status: int = 201) -> None:
    with factory.begin() as s:
        s.add(IdempotencyRecord(user_id=user_id, key=key, method="POST", path="/api/v1/instances",
                                request_hash="0" * 64, status_code=status, response_body="{}", created_at=created_at))


def keys(factory: sessionmaker[Session]) -> set[str]:
    with factory() as s:
        return set(s.execute(select(IdempotencyRecord.key)).scalars())


@pytest.fixture
def records(factory: sessionmaker[Session], ctx: EngineContext, demo: Demo) -> datetime:
    """Three settled records past a day, one settled an hour ago, one committed unsettled past a day."""
    now = ctx.clock.now()
    office, unit = demo.actor("office1").user_id, demo.actor("unit1").user_id
    for n, user_id in enumerate((office, office, unit)):
        record(factory, user_id, f"old-{n}", now - timedelta(hours=25 + n))
    record(factory, office, "recent", now - timedelta(hours=1))
    record(factory, unit, "leaked", now - timedelta(days=3), status=idempotency.UNSETTLED)
    return now


def test_settled_records_past_the_window_are_pruned_in_batches_and_recent_ones_kept(
        factory: sessionmaker[Session], records: datetime, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="engine.idempotency"):
        deleted = idempotency.prune(factory, records, timedelta(hours=24), batch=2)

    assert deleted == 3
    assert keys(factory) == {"recent", "leaked"}
    assert "1 committed idempotency records were never settled" in caplog.text


def test_the_window_is_a_setting(factory: sessionmaker[Session], records: datetime,
                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XUNCHA_IDEMPOTENCY_RETENTION_HOURS", "0.5")
    hours = config.from_environment()["IDEMPOTENCY_RETENTION_HOURS"]
    assert isinstance(hours, float)

    assert idempotency.prune(factory, records, timedelta(hours=hours)) == 4
    assert keys(factory) == {"leaked"}


def test_the_scheduler_runs_the_pruning_as_a_job_of_its_own(
        factory: sessionmaker[Session], ctx: EngineContext, records: datetime) -> None:
    jobs = scheduler.build(factory, ctx, idempotency_retention=timedelta(hours=24))

    job = jobs.get_job("prune_idempotency_keys")
    assert job is not None and job.trigger.interval == timedelta(seconds=scheduler.PRUNE_EVERY_SECONDS)
    assert job.next_run_time is not None  # right at start, not only an interval later
    job.func()
    assert keys(factory) == {"recent", "leaked"}
