"""The request's database session and engine context, kept on the app (no module globals)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from flask import Flask, current_app, g, request
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from engine.context import EngineContext
from engine.db import READ_ONLY, make_engine, make_session_factory, transaction

SAFE_METHODS = ("GET", "HEAD", "OPTIONS")


def init_app(app: Flask) -> None:
    engine = make_engine(str(app.config["DATABASE_URL"]))
    app.extensions["xuncha.engine"] = engine
    app.extensions["xuncha.sessions"] = make_session_factory(engine)
    app.extensions["xuncha.read_sessions"] = make_session_factory(engine, read_only=True)
    app.extensions["xuncha.context"] = app.config.get("ENGINE_CONTEXT") or EngineContext.default(
        workflows_dir=app.config["WORKFLOWS_DIR"])
    app.teardown_appcontext(_close_session)


def sessions(app: Flask | None = None, *, read_only: bool = False) -> sessionmaker[Session]:
    """The app's session factory: for units of work, or ``read_only`` (never SQLite's write lock)."""
    factory: sessionmaker[Session] = (app or current_app).extensions[
        "xuncha.read_sessions" if read_only else "xuncha.sessions"]
    return factory


def db() -> Session:
    """The request's session; it begins on first use and is rolled back unless a route commits.

    Reading requests (GET, HEAD) get a read-only session, which on SQLite never takes the write lock,
    so page views do not queue behind writers; a record made while serving one goes through
    :func:`writing`.
    """
    if "db" not in g:
        read = request.method in SAFE_METHODS
        g.db = sessions(read_only=read)()
    session: Session = g.db
    return session


@contextmanager
def writing() -> Iterator[Session]:
    """A separate unit of work, committed on leaving the block (e.g. auditing who read a clue)."""
    with transaction(sessions()) as session:
        yield session


T = TypeVar("T")


def committed(answer: T) -> T:
    """Commit the request's session once its ``answer`` is built: ``return committed(serialize(row))``
    reads what the answer needs inside the transaction that made the change. Built after the commit, it
    would begin a second transaction for the same reads (a BEGIN and a ROLLBACK more per request — and on
    PostgreSQL psycopg drops its prepared statements on every ROLLBACK)."""
    db().commit()
    return answer


def ctx() -> EngineContext:
    context: EngineContext = current_app.extensions["xuncha.context"]
    return context


def _close_session(exc: Any) -> None:
    """A reading request's transaction ends with COMMIT, which for reads is the same as ROLLBACK but keeps
    psycopg's prepared statements (it drops them all on every ROLLBACK, and prepares them again later);
    anything else not committed by its route is rolled back."""
    session = g.pop("db", None)
    if session is None:
        return
    try:
        if exc is None and session.get_bind().get_execution_options().get(READ_ONLY) and session.in_transaction():
            session.commit()
    except SQLAlchemyError:
        pass  # a failed transaction: rolled back below
    finally:
        session.rollback()
        session.close()
