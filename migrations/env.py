"""Alembic environment: the URL comes from the caller's config, else DATABASE_URL, else the default."""

from __future__ import annotations

from alembic import context

from engine.db import make_engine
from models import Base
from web.config import from_environment

config = context.config


def render_item(type_: str, obj: object, autogen_context: object) -> str | bool:
    """Migrations must not import models: render our column types as plain SQLAlchemy ones."""
    if type_ == "type" and type(obj).__name__ == "UTCDateTime":
        return "sa.DateTime(timezone=True)"
    return False

url = config.attributes.get("url") or config.get_main_option("sqlalchemy.url") or str(
    from_environment()["DATABASE_URL"])


def run_migrations_offline() -> None:
    context.configure(url=url, target_metadata=Base.metadata, literal_binds=True, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connectable = config.attributes.get("connection")
    if connectable is not None:
        context.configure(connection=connectable, target_metadata=Base.metadata, render_as_batch=True,
                          render_item=render_item)
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = make_engine(url)
    with engine.connect() as connection:
        context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True,
                          render_item=render_item)
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
