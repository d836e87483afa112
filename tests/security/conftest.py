"""Security fixtures: the app on the test database with the demo data, CSRF on or off as a test needs."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from flask import Flask
from flask.testing import FlaskClient

from engine.context import EngineContext
from engine.demo import Demo
from tests.web.helpers import make_app


@pytest.fixture
def app(db_url: str, demo: Demo, ctx: EngineContext) -> Iterator[Flask]:
    app = make_app(db_url, ctx, WTF_CSRF_ENABLED=False)
    yield app
    app.extensions["xuncha.engine"].dispose()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()
