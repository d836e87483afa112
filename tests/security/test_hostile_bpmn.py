"""Hostile BPMN — external entities (XXE), billion laughs, DTDs, huge files, deep nesting, non-UTF-8,
markup in names, huge attribute values — through the three ways a diagram comes in: the API's deploy,
the upload page and the modeler's validate endpoint. Each is refused quickly, in bounded memory, with
a problem list (or a clear size refusal), and nothing is stored; a name with markup stays text."""

from __future__ import annotations

import io
import resource
import time
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from models import AuditEvent, ProcessDefinition
from tests.helpers import simple_bpmn
from tests.web.helpers import API, login, token_for

BASE = simple_bpmn("hostile", task_name="TASKNAME").decode()
PROLOG = '<?xml version="1.0" encoding="UTF-8"?>\n'
SECONDS = 3.0  # generous for CI; each of these takes milliseconds
MEMORY_GROWTH_KB = 200 * 1024  # an expanded billion laughs would take gigabytes


def _with_doctype(doctype: str, task_name: str = "办理", documentation: str = "") -> bytes:
    xml = BASE.replace(PROLOG, PROLOG + doctype + "\n").replace('name="TASKNAME"', f'name="{task_name}"')
    if documentation:
        xml = xml.replace('<bpmn:startEvent id="start">',
                          f'<bpmn:startEvent id="start"><bpmn:documentation>{documentation}</bpmn:documentation>')
    return xml.encode()


def _laughs() -> str:
    entities = '<!ENTITY lol0 "lol">' + "".join(f'<!ENTITY lol{i} "{f"&lol{i - 1};" * 10}">' for i in range(1, 10))
    return f"<!DOCTYPE bpmn:definitions [{entities}]>"


XXE = '<!DOCTYPE bpmn:definitions [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
REFUSED: dict[str, bytes] = {
    "xxe_in_attribute": _with_doctype(XXE, task_name="&xxe;"),
    "billion_laughs_in_attribute": _with_doctype(_laughs(), task_name="&lol9;"),
    "billion_laughs_in_text": _with_doctype(_laughs(), documentation="&lol9;"),
    "deeply_nested": (PROLOG + "<a>" * 50_000 + "</a>" * 50_000).encode(),
    "not_utf8": BASE.replace("TASKNAME", "办理").encode("gb18030"),
    "not_xml": b"\x89PNG\r\n\x1a\n" + bytes(64),
    "truncated": BASE.encode()[: len(BASE) // 2],
}
# What the checks below expect but the parser (engine/definitions.py, engine/validation.py, not ours to
# edit while their authors work on them) does not refuse yet: reported to the lead. strict: once it is
# refused, these fail and the marker comes off.
HOSTILE_MARKUP = {
    "xxe_in_text": _with_doctype(XXE, documentation="&xxe;"),
    "xxe_parameter_entity": _with_doctype(
        '<!DOCTYPE bpmn:definitions [<!ENTITY % remote SYSTEM "http://127.0.0.1:9/evil.dtd"> %remote;]>'),
    "external_dtd": _with_doctype('<!DOCTYPE bpmn:definitions SYSTEM "http://127.0.0.1:9/evil.dtd">'),
    "internal_dtd": _with_doctype('<!DOCTYPE bpmn:definitions [<!ELEMENT x ANY>]>'),
    "huge_attribute": BASE.replace("TASKNAME", "长" * (1024 * 1024)).encode(),
}
TOO_LARGE = BASE.replace("</bpmn:definitions>", "<!--" + "x" * (6 * 1024 * 1024) + "--></bpmn:definitions>").encode()


def _stored(factory: sessionmaker[Session]) -> tuple[int, int]:
    with factory() as session:
        definitions = session.execute(select(func.count()).select_from(ProcessDefinition)).scalar_one()
        deployed = session.execute(select(func.count()).select_from(AuditEvent)
                                   .where(AuditEvent.event_type.like("definition%"))).scalar_one()
    return int(definitions), int(deployed)


class Timed:
    """A request that must finish fast and without a jump in the process's peak memory."""

    def __enter__(self) -> Timed:
        self.start, self.peak = time.monotonic(), resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return self

    def __exit__(self, *_: Any) -> None:
        assert time.monotonic() - self.start < SECONDS
        assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - self.peak < MEMORY_GROWTH_KB


@pytest.fixture
def designer(client: FlaskClient) -> dict[str, str]:
    return {"Authorization": f"Bearer {token_for(client, 'designer1')}"}


@pytest.fixture
def page(app: Flask) -> Iterator[FlaskClient]:
    client = app.test_client()
    login(client, "designer1")
    yield client


def _deploy(client: FlaskClient, headers: dict[str, str], xml: bytes) -> Any:
    return client.post(f"{API}/definitions", headers=headers,
                       data={"file": (io.BytesIO(xml), "hostile.bpmn")}, content_type="multipart/form-data")


def _validate(client: FlaskClient, headers: dict[str, str], xml: bytes) -> Any:
    return client.post(f"{API}/designer/validate", headers={**headers, "Content-Type": "application/xml"},
                       data=xml)


def _assert_problems(problems: list[dict[str, Any]]) -> None:
    assert problems, "a refusal lists at least one problem"
    for problem in problems:
        assert problem["message_zh"] and problem["message_en"]
        assert "root:" not in problem["message_zh"] + problem["message_en"]  # /etc/passwd never read


@pytest.mark.parametrize("kind", sorted(REFUSED))
def test_hostile_bpmn_is_refused_by_deploy_with_problems_and_nothing_stored(
        client: FlaskClient, designer: dict[str, str], factory: sessionmaker[Session], kind: str) -> None:
    before = _stored(factory)
    with Timed():
        response = _deploy(client, designer, REFUSED[kind])
    assert response.status_code == 422, response.get_json()
    error = response.get_json()["error"]
    assert error["code"] == "definition_invalid"
    _assert_problems(error["details"]["problems"])
    assert _stored(factory) == before


@pytest.mark.parametrize("kind", sorted(REFUSED))
def test_hostile_bpmn_is_reported_by_the_modelers_validate_without_storing(
        client: FlaskClient, designer: dict[str, str], factory: sessionmaker[Session], kind: str) -> None:
    before = _stored(factory)
    with Timed():
        response = _validate(client, designer, REFUSED[kind])
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["ok"] is False
    _assert_problems(body["problems"])
    assert _stored(factory) == before


@pytest.mark.parametrize("kind", ["xxe_in_attribute", "billion_laughs_in_text", "deeply_nested", "not_utf8"])
def test_hostile_bpmn_is_refused_on_the_upload_page_with_the_problem_shown(
        page: FlaskClient, factory: sessionmaker[Session], kind: str) -> None:
    before = _stored(factory)
    with Timed():
        response = page.post("/definitions", data={"file": (io.BytesIO(REFUSED[kind]), "hostile.bpmn")},
                             content_type="multipart/form-data")
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "XML" in html or "UTF-8" in html
    assert "root:" not in html and "lollollol" not in html
    assert _stored(factory) == before


def test_a_file_over_the_limit_is_refused_everywhere_naming_the_limit(
        client: FlaskClient, page: FlaskClient, designer: dict[str, str], factory: sessionmaker[Session]) -> None:
    before = _stored(factory)
    with Timed():
        assert _deploy(client, designer, TOO_LARGE).status_code == 413
        validated = _validate(client, designer, TOO_LARGE)
        uploaded = page.post("/definitions", data={"file": (io.BytesIO(TOO_LARGE), "big.bpmn")},
                             content_type="multipart/form-data")
    assert validated.status_code == 413 and "5 MB" in validated.get_json()["error"]["message"]
    assert uploaded.status_code == 422 and "5 MB" in uploaded.get_data(as_text=True)
    assert _stored(factory) == before


@pytest.mark.parametrize("kind", sorted(HOSTILE_MARKUP))
def test_a_dtd_or_a_huge_attribute_is_refused_too(client: FlaskClient, designer: dict[str, str],
                                                  factory: sessionmaker[Session], kind: str) -> None:
    before = _stored(factory)
    with Timed():
        response = _deploy(client, designer, HOSTILE_MARKUP[kind])
    assert response.status_code == 422
    assert _stored(factory) == before


def test_an_external_entity_is_never_read(
        client: FlaskClient, designer: dict[str, str]) -> None:
    for kind in ("xxe_in_text", "xxe_parameter_entity"):
        with Timed():
            response = _deploy(client, designer, HOSTILE_MARKUP[kind])
        assert "root:" not in response.get_data(as_text=True)
        if response.status_code == 201:
            stored = client.get(f"{API}/definitions/hostile/versions/{response.get_json()['version']}/bpmn",
                                headers=designer).get_data(as_text=True)
            assert "root:" not in stored


def test_a_script_in_a_name_stays_text_on_every_page(
        client: FlaskClient, page: FlaskClient, designer: dict[str, str]) -> None:
    """Names are text: deployed as written, and never markup where they are shown."""
    xml = BASE.replace('name="hostile 流程"', 'name="&lt;script&gt;alert(1)&lt;/script&gt;流程"').replace(
        'name="TASKNAME"', 'name="&lt;img src=x onerror=alert(1)&gt;"').encode()
    assert _deploy(client, designer, xml).status_code == 201
    listed = client.get(f"{API}/definitions", headers=designer).get_json()
    assert any(d["name"] == "<script>alert(1)</script>流程" for d in listed)
    html = page.get("/definitions").get_data(as_text=True)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;流程" in html and "<script>alert(1)" not in html
    versions = page.get("/definitions/hostile/versions").get_data(as_text=True)
    assert "<script>alert(1)" not in versions and "<img src=x" not in versions
