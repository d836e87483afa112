"""Time as a dependency: tests move a clock forward instead of sleeping."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime: ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class FrozenClock:
    """A clock that only moves when told to."""

    def __init__(self, start: datetime | None = None):
        self._now = start or datetime.now(UTC)

    def now(self) -> datetime:
        return self._now

    def advance(self, delta: timedelta) -> None:
        self._now += delta

    def set(self, moment: datetime) -> None:
        self._now = moment


# SpiffWorkflow's timer events read ``datetime.now`` themselves. While the engine runs a workflow it
# makes that "now" its own clock's, so timer deadlines are computed from, and fire by, the same
# clock as everything else (and tests can move it). Outside ``workflow_time`` it is real time.
_CURRENT: ContextVar[Clock | None] = ContextVar("xuncha_workflow_clock", default=None)


class _WorkflowDatetime(datetime):
    @classmethod
    def now(cls, tz: tzinfo | None = None) -> datetime:  # type: ignore[override]
        clock = _CURRENT.get()
        if clock is None:
            return datetime.now(tz)
        moment = clock.now()
        return moment.astimezone(tz) if tz is not None else moment.astimezone().replace(tzinfo=None)


def workflow_now() -> datetime:
    """The time for code the workflow runs (expressions, scripts): the engine's clock inside
    ``workflow_time``, real time elsewhere. Always timezone-aware."""
    clock = _CURRENT.get()
    return clock.now() if clock is not None else datetime.now().astimezone()


@contextmanager
def workflow_time(clock: Clock) -> Iterator[None]:
    token = _CURRENT.set(clock)
    try:
        yield
    finally:
        _CURRENT.reset(token)


def _install() -> None:
    from SpiffWorkflow.bpmn.specs.event_definitions import timer

    timer.datetime = _WorkflowDatetime


_install()
