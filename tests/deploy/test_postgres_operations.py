"""PostgreSQL operations as docs/deployment.md describes them, on the local server: the application's
role can run the product but can neither rewrite the audit trail nor drop or disable its trigger; a
pg_dump / pg_restore round trip gives back every row and an audit chain that still verifies."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import DBAPIError

from engine import audit
from engine import demo as demo_data
from engine.bootstrap import deploy_shipped
from engine.context import EngineContext
from engine.db import make_engine, make_session_factory, normalise_url, transaction
from engine.migrate import grant_app_role, upgrade
from models import Base
from tests.conftest import PG_URL

pytestmark = pytest.mark.postgres


def _server() -> str:
    if PG_URL is None:
        pytest.skip("PostgreSQL not reachable")
    return normalise_url(PG_URL)


def _admin() -> Engine:
    return create_engine(make_url(_server()), isolation_level="AUTOCOMMIT")


def _create(name: str) -> str:
    with _admin().connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    return make_url(_server()).set(database=name).render_as_string(hide_password=False)


def _drop(*names: str, role: str | None = None) -> None:
    with _admin().connect() as conn:
        for name in names:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        if role:
            conn.execute(text(f'DROP ROLE IF EXISTS "{role}"'))


@pytest.fixture
def loaded_database(tmp_path: Path) -> Iterator[str]:
    """A migrated database with the shipped diagrams, the demo accounts and cases (with audit trails)."""
    name = f"ops_{os.getpid()}"
    url = _create(name)
    upgrade(url)
    engine = make_engine(url)
    factory = make_session_factory(engine)
    context = EngineContext.default(attachments_dir=tmp_path / "files")
    deploy_shipped(factory, context)
    with transaction(factory) as session:
        demo_data.load(session, context)
    engine.dispose()
    yield url
    _drop(name)


def test_the_application_role_runs_the_product_but_cannot_touch_the_audit_trail(loaded_database: str):
    role = f"xuncha_app_{os.getpid()}"
    grant_app_role(loaded_database, role, password="app-secret")
    grant_app_role(loaded_database, role)  # idempotent: upgrades re-run it
    as_app = make_url(loaded_database).set(username=role, password="app-secret")
    engine = create_engine(as_app)
    try:
        with engine.begin() as conn:  # everyday work: read, insert, update
            assert conn.execute(text("SELECT count(*) FROM audit_event")).scalar_one() > 0
            conn.execute(text("UPDATE app_user SET locale = 'en' WHERE username = 'office1'"))
        refused = [
            "UPDATE audit_event SET payload = '{}'",
            "DELETE FROM audit_event",
            "TRUNCATE audit_event",
            "DROP TRIGGER audit_event_append_only ON audit_event",
            "ALTER TABLE audit_event DISABLE TRIGGER ALL",
            "DROP TABLE audit_event",
            "CREATE TABLE scratch (id int)",
            "UPDATE alembic_version SET version_num = '0001'",
        ]
        for statement in refused:
            with pytest.raises(DBAPIError) as error, engine.begin() as conn:
                conn.execute(text(statement))
            assert "permission denied" in str(error.value) or "must be owner" in str(error.value), statement
        with engine.connect() as conn:
            triggers = conn.execute(text("SELECT tgname FROM pg_trigger WHERE tgrelid = 'audit_event'::regclass "
                                         "AND NOT tgisinternal AND tgenabled <> 'D'")).scalars().all()
        assert set(triggers) == {"audit_event_append_only", "audit_event_no_truncate"}
    finally:
        engine.dispose()
        owner = create_engine(make_url(loaded_database))
        with owner.begin() as conn:
            conn.execute(text(f'DROP OWNED BY "{role}"'))
        owner.dispose()
        _drop(role=role)


@pytest.mark.skipif(shutil.which("pg_dump") is None, reason="pg_dump is not installed")
def test_a_dump_restored_into_a_new_database_has_every_row_and_a_verifying_audit_chain(loaded_database: str,
                                                                                      tmp_path: Path):
    dump = tmp_path / "xuncha.dump"
    source = make_url(loaded_database)
    restored_name = f"ops_restored_{os.getpid()}"
    restored_url = _create(restored_name)
    connection = ["-h", source.host or "127.0.0.1", "-p", str(source.port or 5432), "-U", source.username or "postgres"]
    try:
        subprocess.run(["pg_dump", *connection, "-Fc", "-f", str(dump), source.database or ""], check=True)
        subprocess.run(["pg_restore", *connection, "--no-owner", "--exit-on-error", "-d", restored_name, str(dump)],
                       check=True)

        def counts(url: str) -> dict[str, int]:
            engine = make_engine(url)
            with engine.connect() as conn:
                result = {t.name: conn.execute(select(func.count()).select_from(t)).scalar_one()
                          for t in Base.metadata.sorted_tables}
            engine.dispose()
            return result

        assert counts(restored_url) == counts(loaded_database)
        assert counts(restored_url)["audit_event"] > 0
        engine = make_engine(restored_url)
        with make_session_factory(engine, read_only=True)() as session:
            result = audit.verify(session)
        engine.dispose()
        assert result.ok, result
        with pytest.raises(DBAPIError), create_engine(make_url(restored_url)).begin() as conn:
            conn.execute(text("DELETE FROM audit_event"))  # the restored trigger refuses it, even to the owner
    finally:
        _drop(restored_name)
