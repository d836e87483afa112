"""Browser tests: the real app served over HTTP on a free local port, driven by Playwright in
Debian's Chromium (headless). `make test` installs Chromium; a machine without it fails here."""

from __future__ import annotations

import shutil
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, sync_playwright
from werkzeug.serving import make_server

from engine import demo
from engine.bootstrap import deploy_shipped
from engine.context import EngineContext
from engine.db import make_engine, make_session_factory, transaction
from engine.definitions import SPEC_CACHE
from web import create_app

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@pytest.fixture
def browser_db(sqlite_template: Path, tmp_path: Path) -> str:
    """The embedded database the server runs on, with the demo system loaded; a test may add to it."""
    SPEC_CACHE.clear()
    db_path = tmp_path / "browser.db"
    shutil.copy(sqlite_template, db_path)
    url = f"sqlite:///{db_path}"
    ctx = EngineContext.default()
    engine = make_engine(url)
    factory = make_session_factory(engine)
    deploy_shipped(factory, ctx)
    with transaction(factory) as session:
        demo.load(session, ctx)
    engine.dispose()
    return url


@pytest.fixture
def server(browser_db: str) -> Iterator[str]:
    """The demo system (as `make run` shows it) on an embedded database, at the returned base URL."""
    app = create_app({"DATABASE_URL": browser_db, "SECRET_KEY": "browser-test",
                      "ENGINE_CONTEXT": EngineContext.default(), "DEPLOY_SHIPPED_WORKFLOWS": False})
    http = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=http.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{http.server_port}"
    http.shutdown()
    app.extensions["xuncha.engine"].dispose()


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    assert Path(CHROMIUM).exists(), "Debian's chromium is missing: `make test` installs it"
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


def log_in(browser: Browser, base: str, username: str) -> Page:
    """A fresh browser context (its own cookies) logged in as ``username``."""
    page = browser.new_context(locale="zh-CN").new_page()
    page.goto(f"{base}/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", demo.DEMO_PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/tasks**")
    return page
