"""Shared fixtures: a migrated database per test on SQLite and (when reachable) PostgreSQL, an engine
context with a clock the test controls, and the demo organisations and accounts.

PostgreSQL is used when ``TEST_DATABASE_URL`` is set, or when 127.0.0.1:5432/test answers.
"""

from __future__ import annotations

import os
import shutil
import socket
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from engine import calendar
from engine import demo as demo_data
from engine.accounts import hash_password
from engine.bootstrap import deploy_shipped
from engine.clock import FrozenClock
from engine.context import EngineContext
from engine.db import make_engine, make_session_factory, normalise_url, transaction
from engine.definitions import SPEC_CACHE
from engine.migrate import upgrade
from models import Base
from tests.web.helpers import make_app

DEFAULT_PG = "postgresql://postgres@127.0.0.1:5432/test"
START = datetime(2026, 11, 25, 9, 0, tzinfo=ZoneInfo("Asia/Shanghai"))


def _postgres_url() -> str | None:
    url = os.environ.get("TEST_DATABASE_URL")
    if url:
        return url
    try:
        with socket.create_connection(("127.0.0.1", 5432), timeout=0.5):
            return DEFAULT_PG
    except OSError:
        return None


PG_URL = _postgres_url()
BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


@pytest.fixture(scope="session")
def demo_password_hash() -> str:
    return hash_password(demo_data.DEMO_PASSWORD)


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "template.db"
    upgrade(f"sqlite:///{path}")
    return path


@pytest.fixture(scope="session")
def postgres_migrated() -> Iterator[str]:
    """A database of this test run's own on the PostgreSQL server, so that runs never collide."""
    if PG_URL is None:
        pytest.skip("PostgreSQL not reachable")
    server = make_url(normalise_url(PG_URL))
    name = f"{server.database}_run_{os.getpid()}"
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = server.set(database=name).render_as_string(hide_password=False)
    upgrade(url)
    yield url
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def _truncate_postgres(engine: Engine) -> None:
    """Empty every table, then put back the business calendar a fresh migration seeds (0008)."""
    tables = ", ".join(t.name for t in Base.metadata.sorted_tables)
    with engine.begin() as conn:
        conn.execute(text("ALTER TABLE audit_event DISABLE TRIGGER USER"))
        conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
        conn.execute(text("ALTER TABLE audit_event ENABLE TRIGGER USER"))
    with transaction(make_session_factory(engine)) as session:
        calendar.seed_from_package(session, START)


@pytest.fixture(scope="session")
def seeded_calendar(sqlite_template: Path) -> calendar.Snapshot:
    """The business calendar every freshly migrated test database holds."""
    engine = make_engine(f"sqlite:///{sqlite_template}")
    with make_session_factory(engine, read_only=True)() as session:
        snapshot = calendar.read(session)
    engine.dispose()
    return snapshot


@pytest.fixture(autouse=True)
def business_calendar(seeded_calendar: calendar.Snapshot) -> calendar.Snapshot:
    """Each test starts with the calendar of a fresh database loaded, as the app and the scheduler load
    theirs at start (engine.calendar.load); a test that edits the calendar refreshes it itself."""
    calendar.install(seeded_calendar)
    return seeded_calendar


@pytest.fixture(params=BACKENDS)
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A freshly migrated, empty database: one test, one database."""
    SPEC_CACHE.clear()
    if request.param == "sqlite":
        path = tmp_path / "xuncha.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        yield f"sqlite:///{path}"
        return
    url = request.getfixturevalue("postgres_migrated")
    engine = make_engine(url)
    _truncate_postgres(engine)
    engine.dispose()
    yield url


@pytest.fixture
def sql_engine(db_url: str) -> Iterator[Engine]:
    engine = make_engine(db_url)
    yield engine
    engine.dispose()


@pytest.fixture
def factory(sql_engine: Engine) -> sessionmaker[Session]:
    return make_session_factory(sql_engine)


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(START)


@pytest.fixture
def ctx(clock: FrozenClock, tmp_path: Path) -> EngineContext:
    return EngineContext.default(clock=clock, attachments_dir=tmp_path / "attachments")


@pytest.fixture
def demo(factory: sessionmaker[Session], ctx: EngineContext, demo_password_hash: str) -> demo_data.Demo:
    """Groups, organisations, the demo accounts, the shipped diagrams and a round with inspections."""
    with transaction(factory) as session:
        loaded = demo_data.seed_reference_data(session, demo_password_hash)
    deploy_shipped(factory, ctx)
    with transaction(factory) as session:
        loaded = demo_data.seed_reference_data(session)
        demo_data.seed_plan(session, loaded)
        loaded = demo_data.seed_reference_data(session)
    return loaded


@pytest.fixture
def session(sql_engine: Engine) -> Iterator[Session]:
    """A read-only session for checking results (each engine call in a test has its own transaction)."""
    with make_session_factory(sql_engine, read_only=True)() as s:
        yield s


@pytest.fixture
def app(db_url: str, demo: demo_data.Demo, ctx: EngineContext) -> Iterator[Flask]:
    """The web app on the test database, after the demo data exists (CSRF off; tests of CSRF turn it on)."""
    app = make_app(db_url, ctx, WTF_CSRF_ENABLED=False)
    yield app
    app.extensions["xuncha.engine"].dispose()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()
