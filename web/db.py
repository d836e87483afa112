"""The request's database session and engine context, kept on the app (no module globals)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from flask import Flask, current_app, g, request
from sqlalchemy.orm import Session, sessionmaker

from engine.context import EngineContext
from engine.db import make_engine, make_session_factory, transaction

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


def ctx() -> EngineContext:
    context: EngineContext = current_app.extensions["xuncha.context"]
    return context


def _close_session(_exc: Any) -> None:
    session = g.pop("db", None)
    if session is not None:
        session.rollback()
        session.close()
