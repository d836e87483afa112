"""流程设计 pages: the modeler page for supervisors (everyone else 403), opening a version or one's draft,
discarding a draft, and the JSON calls the modeler's script makes (save, check, deploy)."""

from __future__ import annotations

import json
import re
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session, sessionmaker

from engine.context import EngineContext
from engine.db import transaction
from engine.versions import current_definition
from tests.helpers import simple_bpmn
from tests.web.helpers import login, make_app

JSON = {"Accept": "application/json"}


def _put(client: FlaskClient, xml: bytes | str, revision: int | None = None) -> Any:
    text = xml.decode() if isinstance(xml, bytes) else xml
    return client.put("/designer/drafts", json={"bpmn_xml": text, "revision": revision}, headers=JSON)


def _data_attribute(html: str, name: str) -> str:
    match = re.search(rf'{name}="([^"]*)"', html)
    assert match, name
    return match.group(1)


def test_a_supervisor_opens_the_current_version_in_the_modeler(client: FlaskClient) -> None:
    login(client, "designer1")
    response = client.get("/designer/rectification")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert _data_attribute(html, "data-xml-url") == "/definitions/rectification/versions/1/bpmn"
    assert "build/modeler.js" in html and "build/modeler.css" in html
    catalog = json.loads(re.search(r"data-catalog='([^']*)'", html).group(1).replace("&#39;", "'"))  # type: ignore[union-attr]
    assert {"office", "unit"} <= {g["key"] for g in catalog["groups"]}
    assert "<script>" not in html  # the CSP forbids inline script
    for label in ("保存草稿", "校验", "部署", "下载 XML", "设为当前版本"):
        assert label in html
    assert client.get("/designer/rectification?version=9").status_code == 404
    assert client.get("/designer/rectification?version=x").status_code == 400
    assert client.get("/designer/no_such_process").status_code == 404


def test_a_blank_diagram_starts_from_new(client: FlaskClient) -> None:
    login(client, "designer1")
    html = client.get("/designer/new").get_data(as_text=True)
    assert _data_attribute(html, "data-xml-url") == "" and "新流程" in html


def test_people_without_the_supervisor_role_are_refused(client: FlaskClient) -> None:
    for username in ("office1", "unit1"):
        login(client, username)
        for path in ("/designer", "/designer/new", "/designer/rectification", "/designer/rectification/draft.xml"):
            assert client.get(path).status_code == 403, (username, path)
        assert client.post("/designer/rectification/discard").status_code == 403
        refused = _put(client, simple_bpmn("memo"))
        assert refused.status_code == 403 and refused.get_json()["error"]["code"] == "not_permitted"
        assert client.post("/designer/validate", json={"bpmn_xml": "x"}, headers=JSON).status_code == 403
        assert client.post("/designer/deploy", json={"bpmn_xml": "x"}, headers=JSON).status_code == 403
    client.post("/logout")
    assert client.get("/designer/new").status_code == 302  # to the login page


def test_a_saved_draft_opens_instead_of_the_version_with_a_notice_and_a_confirmed_discard(client: FlaskClient) -> None:
    login(client, "designer1")
    xml = client.get("/definitions/rectification/versions/1/bpmn").get_data(as_text=True)
    saved = _put(client, xml.replace("反馈问题清单", "反馈问题清单（草稿）"))
    assert saved.status_code == 200 and saved.get_json()["key"] == "rectification"

    html = client.get("/designer/rectification").get_data(as_text=True)
    assert _data_attribute(html, "data-xml-url") == "/designer/rectification/draft.xml"
    assert _data_attribute(html, "data-revision") == str(saved.get_json()["revision"])
    assert _data_attribute(html, "data-saved-at").startswith("2026-11-25T")  # the state reads 已保存 hh:mm
    assert 'data-testid="draft-notice"' in html and "已打开您保存的草稿" in html
    assert 'action="/designer/rectification/discard"' in html and "data-confirm=" in html
    assert "反馈问题清单（草稿）" in client.get("/designer/rectification/draft.xml").get_data(as_text=True)

    html = client.get("/designer/rectification?version=1").get_data(as_text=True)
    assert _data_attribute(html, "data-xml-url") == "/definitions/rectification/versions/1/bpmn"
    assert "您有这个流程的草稿" in html
    assert "rectification" in client.get("/designer").get_data(as_text=True)

    response = client.post("/designer/rectification/discard")
    assert response.status_code == 302
    assert client.get("/designer/rectification/draft.xml").status_code == 404
    assert "草稿" not in _data_attribute(client.get("/designer/rectification").get_data(as_text=True), "data-xml-url")
    assert client.post("/designer/rectification/discard").status_code == 404


def test_saving_over_a_newer_draft_is_a_stale_409(client: FlaskClient) -> None:
    login(client, "designer1")
    first = _put(client, simple_bpmn("memo")).get_json()["revision"]
    assert _put(client, simple_bpmn("memo", task_name="一"), first).status_code == 200
    stale = _put(client, simple_bpmn("memo", task_name="二"), first)
    assert stale.status_code == 409
    assert stale.get_json()["error"]["code"] == "stale_state"
    assert "草稿已在别处修改" in stale.get_json()["error"]["message"]


def test_an_oversized_draft_is_413(client: FlaskClient) -> None:
    login(client, "designer1")
    xml = simple_bpmn("memo").decode().replace("</bpmn:definitions>", "<!--" + "x" * (5 * 1024 * 1024) + "-->"
                                               "</bpmn:definitions>")
    response = _put(client, xml)
    assert response.status_code == 413 and response.get_json()["error"]["code"] == "too_large"


def test_checking_an_invalid_diagram_lists_its_problems_by_element(client: FlaskClient) -> None:
    login(client, "designer1")
    response = client.post("/designer/validate", json={"bpmn_xml": simple_bpmn("memo", lane="no_group").decode()},
                           headers=JSON)
    assert response.status_code == 200
    body = response.get_json()
    assert body["ok"] is False
    assert any(p["element_id"] == "Lane_1" and p["severity"] == "error" for p in body["problems"])
    broken = client.post("/designer/validate", json={"bpmn_xml": "<bpmn:definitions"}, headers=JSON).get_json()
    assert broken["ok"] is False and "XML" in broken["problems"][0]["message_zh"]
    fine = client.post("/designer/validate", json={"bpmn_xml": simple_bpmn("memo").decode()}, headers=JSON)
    assert fine.get_json()["ok"] is True


def test_deploying_from_the_modeler(client: FlaskClient, factory: sessionmaker[Session]) -> None:
    login(client, "designer1")
    _put(client, simple_bpmn("memo"))
    refused = client.post("/designer/deploy", json={"bpmn_xml": simple_bpmn("memo", lane="no_group").decode()},
                          headers=JSON)
    assert refused.status_code == 422
    assert refused.get_json()["error"]["details"]["problems"][0]["element_id"] == "Lane_1"
    assert client.get("/designer/memo/draft.xml").status_code == 200  # kept: nothing was deployed

    deployed = client.post("/designer/deploy", json={"bpmn_xml": simple_bpmn("memo").decode(), "comment": "首版"},
                           headers=JSON)
    assert deployed.status_code == 201
    body = deployed.get_json()
    assert (body["key"], body["version"], body["created"]) == ("memo", 1, True)
    assert body["versions_url"] == "/definitions/memo/versions"
    assert client.get("/designer/memo/draft.xml").status_code == 404  # the draft went with the deploy

    second = client.post("/designer/deploy", json={"bpmn_xml": simple_bpmn("memo", task_name="复核").decode(),
                                                   "make_current": False}, headers=JSON)
    assert second.status_code == 201 and second.get_json()["version"] == 2
    with transaction(factory) as session:
        assert current_definition(session, "memo").version == 1
    again = client.post("/designer/deploy", json={"bpmn_xml": simple_bpmn("memo", task_name="复核").decode()},
                        headers=JSON)
    assert again.status_code == 200 and again.get_json()["created"] is False
    bad = client.post("/designer/deploy", json={"bpmn_xml": "x", "make_current": "yes"}, headers=JSON)
    assert bad.status_code == 400


def test_the_modelers_calls_need_the_csrf_token(db_url: str, ctx: EngineContext, demo: object) -> None:
    app: Flask = make_app(db_url, ctx)
    try:
        with app.test_client() as client:
            login_page = client.get("/login").get_data(as_text=True)
            token = re.search(r'name="csrf_token" value="([^"]+)"', login_page).group(1)  # type: ignore[union-attr]
            client.post("/login", data={"username": "designer1", "password": "xuncha-demo", "csrf_token": token})
            html = client.get("/designer/new").get_data(as_text=True)
            csrf = _data_attribute(html, "data-csrf")
            body = {"bpmn_xml": simple_bpmn("memo").decode()}
            missing = client.put("/designer/drafts", json=body, headers=JSON)
            assert missing.status_code == 400 and missing.get_json()["error"]["code"] == "csrf_failed"
            ok = client.put("/designer/drafts", json=body, headers={**JSON, "X-CSRFToken": csrf})
            assert ok.status_code == 200
    finally:
        app.extensions["xuncha.engine"].dispose()
