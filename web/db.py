"""The request's database session and engine context, kept on the app (no module globals)."""

from __future__ import annotations

from typing import Any

from flask import Flask, current_app, g
from sqlalchemy.orm import Session, sessionmaker

from engine.context import EngineContext
from engine.db import make_engine, make_session_factory


def init_app(app: Flask) -> None:
    engine = make_engine(str(app.config["DATABASE_URL"]))
    app.extensions["xuncha.engine"] = engine
    app.extensions["xuncha.sessions"] = make_session_factory(engine)
    app.extensions["xuncha.context"] = app.config.get("ENGINE_CONTEXT") or EngineContext.default(
        workflows_dir=app.config["WORKFLOWS_DIR"])
    app.teardown_appcontext(_close_session)


def sessions(app: Flask | None = None) -> sessionmaker[Session]:
    factory: sessionmaker[Session] = (app or current_app).extensions["xuncha.sessions"]
    return factory


def db() -> Session:
    """The request's session; it begins on first use and is rolled back unless a route commits."""
    if "db" not in g:
        g.db = sessions()()
    session: Session = g.db
    return session


def ctx() -> EngineContext:
    context: EngineContext = current_app.extensions["xuncha.context"]
    return context


def _close_session(_exc: Any) -> None:
    session = g.pop("db", None)
    if session is not None:
        session.rollback()
        session.close()
