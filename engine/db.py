"""Database engines and sessions, with the locking rules the runtime relies on.

PostgreSQL: ordinary transactions; instance rows are locked with ``SELECT … FOR UPDATE``.
SQLite: every transaction starts with ``BEGIN IMMEDIATE`` so that two writers never both read a
state and then race to write it (SQLite cannot upgrade a read transaction safely under WAL), with
WAL journaling and a busy timeout so that waiting writers queue instead of failing.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker


def normalise_url(url: str) -> str:
    """Plain ``postgresql://`` URLs use psycopg 3, whichever SQLAlchemy 2.x default applies."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


def make_engine(url: str, **kwargs: Any) -> Engine:
    url = normalise_url(url)
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False}, **kwargs)
        _configure_sqlite(engine)
        _test_commit_delay(engine)
        return engine
    # No pre-ping: it costs a round trip on every checkout (~1 ms here, a sixth of a step). After a
    # database restart the first request on a dead connection fails with a clear "busy" answer
    # (web/errors.py), SQLAlchemy discards the pool's stale connections, and the next one works.
    kwargs.setdefault("pool_pre_ping", False)
    kwargs.setdefault("pool_size", 10)
    kwargs.setdefault("max_overflow", 20)
    engine = create_engine(url, **kwargs)
    _test_commit_delay(engine)
    return engine


TEST_COMMIT_DELAY = "XUNCHA_TEST_STEP_DELAY"


def _test_commit_delay(engine: Engine) -> None:
    """Failure tests only (tests/failure, docs/failure-testing.md): with XUNCHA_TEST_STEP_DELAY=<seconds> set,
    every commit (PostgreSQL or SQLite) waits that long after the transaction's statements were sent and
    before COMMIT, so that a process can be killed, or the database restarted, in the middle of a step.
    Unset: nothing is installed."""
    delay = float(os.environ.get(TEST_COMMIT_DELAY) or 0)
    if delay > 0:
        event.listen(engine, "commit", lambda _conn: time.sleep(delay))


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # we issue BEGIN ourselves
        cursor = dbapi_connection.cursor()
        if engine.url.database not in (None, "", ":memory:"):
            cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        read_only = conn.get_execution_options().get(READ_ONLY, False)
        conn.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")


READ_ONLY = "xuncha_read_only"


def make_session_factory(engine: Engine, *, read_only: bool = False) -> sessionmaker[Session]:
    """Sessions for units of work; ``read_only`` ones never take SQLite's write lock (reports, checks)."""
    bind = engine.execution_options(**{READ_ONLY: True}) if read_only else engine
    return sessionmaker(bind=bind, expire_on_commit=False)


@contextmanager
def transaction(factory: sessionmaker[Session]) -> Iterator[Session]:
    """One unit of work: commit on success, roll back everything on any error."""
    session = factory()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def is_postgres(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"
