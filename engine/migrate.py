"""Running the Alembic migrations from code (the CLI, the tests and `make run` all use this)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["url"] = url
    return config


def upgrade(url: str, revision: str = "head") -> None:
    command.upgrade(alembic_config(url), revision)


# Tables the application may only read and append to: the audit trail (a trigger also refuses UPDATE,
# DELETE and TRUNCATE there, and only the owner could drop that trigger) and the migration bookkeeping.
APPEND_ONLY_TABLES = ("audit_event",)
READ_ONLY_TABLES = ("alembic_version",)


def grant_app_role(url: str, role: str, password: str | None = None) -> None:
    """PostgreSQL: make sure ``role`` exists (with ``password`` if given) and holds exactly what the
    application needs — data rights on the tables, no ownership — so it cannot alter the schema, drop
    or disable the audit trigger, or rewrite the audit trail. Run as the schema owner after upgrading."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    from .db import normalise_url

    if not role.replace("_", "").isalnum():
        raise ValueError(f"invalid role name: {role!r}")
    engine = create_engine(make_url(normalise_url(url)))
    if engine.dialect.name != "postgresql":
        engine.dispose()
        raise ValueError("database roles are a PostgreSQL feature; SQLite has none")
    try:
        with engine.begin() as conn:
            exists = conn.execute(text("SELECT 1 FROM pg_roles WHERE rolname = :r"), {"r": role}).first()
            if not exists:
                conn.execute(text(f'CREATE ROLE "{role}" LOGIN'))
            if password:
                quoted = conn.execute(text("SELECT quote_literal(:p)"), {"p": password}).scalar_one()
                conn.execute(text(f'ALTER ROLE "{role}" WITH LOGIN PASSWORD {quoted}'))
            database = conn.execute(text("SELECT current_database()")).scalar_one()
            conn.execute(text(f'GRANT CONNECT ON DATABASE "{database}" TO "{role}"'))
            conn.execute(text(f'GRANT USAGE ON SCHEMA public TO "{role}"'))
            conn.execute(text(f'REVOKE CREATE ON SCHEMA public FROM "{role}"'))
            conn.execute(text(f'GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO "{role}"'))
            for table in APPEND_ONLY_TABLES:
                conn.execute(text(f'REVOKE UPDATE, DELETE, TRUNCATE ON "{table}" FROM "{role}"'))
            for table in READ_ONLY_TABLES:
                conn.execute(text(f'REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON "{table}" FROM "{role}"'))
            conn.execute(text(f'GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO "{role}"'))
    finally:
        engine.dispose()
