"""Web fixtures: the app on the test database (after the demo data exists) and a test client."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from flask import Flask
from flask.testing import FlaskClient

from engine.context import EngineContext
from engine.demo import Demo


@pytest.fixture
def app(db_url: str, demo: Demo, ctx: EngineContext) -> Iterator[Flask]:
    from web import create_app

    app = create_app({"DATABASE_URL": db_url, "TESTING": True, "WTF_CSRF_ENABLED": False, "ENGINE_CONTEXT": ctx,
                      "DEPLOY_SHIPPED_WORKFLOWS": False, "SECRET_KEY": "test"})
    yield app
    app.extensions["xuncha.engine"].dispose()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()

