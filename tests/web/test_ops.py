"""/healthz, /readyz and /metrics answer without login; readiness names what is missing; metrics count
from the database (exact across workers) and are closed to callers outside the private network unless
a token is configured; every response carries a request id; production logs are JSON lines."""

from __future__ import annotations

import json
import logging

import pytest

from engine.migrate import upgrade
from tests.helpers import act, open_rectification
from tests.web.helpers import make_app
from web.logs import JsonFormatter


def test_healthz_answers_without_login(client):
    response = client.get("/healthz")
    assert response.status_code == 200 and response.get_json() == {"status": "ok"}


def test_readyz_is_ready_on_a_migrated_database_with_the_calendar_loaded(client):
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.get_json()["checks"] == {
        "database": {"ok": True, "detail": ""}, "calendar": {"ok": True, "detail": ""},
        "migrations": {"ok": True, "detail": response.get_json()["checks"]["migrations"]["detail"]}}


def test_readyz_names_a_schema_behind_the_code(tmp_path, ctx):
    url = f"sqlite:///{tmp_path / 'old.db'}"
    upgrade(url, "0009")
    app = make_app(url, ctx)
    try:
        response = app.test_client().get("/readyz")
    finally:
        app.extensions["xuncha.engine"].dispose()
    body = response.get_json()
    assert response.status_code == 503 and body["status"] == "not ready"
    assert body["checks"]["migrations"]["ok"] is False and "0009" in body["checks"]["migrations"]["detail"]


def test_metrics_count_requests_open_tasks_and_completions(client, factory, ctx, demo):
    instance_id = open_rectification(factory, ctx, demo, problems=1)
    client.get("/healthz")
    before = client.get("/metrics").get_data(as_text=True)
    assert 'xuncha_http_requests_total{endpoint="ops.healthz",method="GET",status="200"}' in before
    assert 'xuncha_open_tasks{group="unit"} 1.0' in before
    assert "xuncha_task_completions_total 0.0" in before

    act(factory, ctx, "unit1", instance_id, "receive_feedback", {"feedback_received_on": "2026-11-25"})

    after = client.get("/metrics").get_data(as_text=True)
    assert "xuncha_task_completions_total 1.0" in after
    assert 'xuncha_timer_lateness_seconds{quantile="0.99"}' in after
    assert "xuncha_http_request_duration_seconds_bucket" in after


def test_metrics_are_closed_to_public_addresses_and_open_with_the_token(app, monkeypatch):
    client = app.test_client()
    assert client.get("/metrics", environ_base={"REMOTE_ADDR": "8.8.8.8"}).status_code == 403
    assert client.get("/metrics", environ_base={"REMOTE_ADDR": "10.0.0.7"}).status_code == 200
    monkeypatch.setenv("XUNCHA_METRICS_TOKEN", "s3cret")
    assert client.get("/metrics").status_code == 403
    assert client.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 403
    assert client.get("/metrics", headers={"Authorization": "Bearer s3cret"},
                      environ_base={"REMOTE_ADDR": "8.8.8.8"}).status_code == 200


@pytest.mark.parametrize(("given", "kept"), [("req-123.abc", True), ("bad id with spaces", False), ("", False)])
def test_every_response_carries_a_request_id(client, given, kept):
    response = client.get("/healthz", headers={"X-Request-ID": given} if given else {})
    request_id = response.headers["X-Request-ID"]
    assert (request_id == given) is kept and len(request_id) > 0


def test_json_log_lines_carry_the_request_fields():
    record = logging.LogRecord("xuncha.access", logging.INFO, __file__, 1, "GET %s %s", ("/healthz", 200), None)
    record.request_id, record.user, record.status, record.duration_ms = "r1", "office1", 200, 1.5
    line = json.loads(JsonFormatter().format(record))
    assert line["message"] == "GET /healthz 200" and line["level"] == "info" and line["logger"] == "xuncha.access"
    assert (line["request_id"], line["user"], line["status"], line["duration_ms"]) == ("r1", "office1", 200, 1.5)
