"""Hostile uploads: whatever is refused is refused with a message naming the file and why, and leaves
nothing behind — no attachment row, no audit event, no file on disk (not even a temporary one)."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from engine.context import EngineContext
from engine.demo import Demo
from models import Attachment, AuditEvent
from tests.evidence_files import DOCX, EXE, HTML, JPEG, PDF, PNG, SVG, zip_bomb, zip_of
from tests.helpers import open_clue
from tests.web.helpers import Api, api_for, login, make_app

SCRIPT = b"#!/bin/sh\nrm -rf /\n"
UTF16_HTML = "\ufeff<html><script>alert(1)</script></html>".encode("utf-16-le")


@pytest.fixture
def api(db_url: str, ctx: EngineContext, demo: Demo) -> Iterator[Api]:
    with api_for(db_url, ctx) as client:
        yield client


@pytest.fixture
def case(factory: sessionmaker[Session], ctx: EngineContext, demo: Demo) -> int:
    return open_clue(factory, ctx, demo)


def _upload(api: Api, iid: int, name: str, data: bytes, **headers: str) -> Any:
    return api("office1").post(f"/instances/{iid}/attachments", data={"file": (io.BytesIO(data), name)},
                               headers=headers)


def _nothing_kept(factory: sessionmaker[Session], ctx: EngineContext) -> None:
    with factory() as session:
        assert session.execute(select(func.count()).select_from(Attachment)).scalar_one() == 0
        assert session.execute(select(func.count()).select_from(AuditEvent)
                               .where(AuditEvent.event_type == "attachment_added")).scalar_one() == 0
    stored = [p for p in Path(ctx.attachments_dir).rglob("*") if p.is_file()] if Path(ctx.attachments_dir).exists() \
        else []
    assert stored == []


def _many_entries(count: int) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
        for n in range(count):
            archive.writestr(f"{n}.txt", b"")
    return buffer.getvalue()


REFUSED = [
    # wrong extensions: things a browser or a desktop would run
    ("page.html", HTML, "type_not_allowed"),
    ("logo.svg", SVG, "type_not_allowed"),
    ("setup.exe", EXE, "type_not_allowed"),
    ("run.bat", b"@echo off\r\n", "type_not_allowed"),
    ("macro.js", b"alert(1)", "type_not_allowed"),
    ("shell.php", b"<?php system($_GET['c']); ?>", "type_not_allowed"),
    ("no-extension", PDF, "type_not_allowed"),
    ("report.pdf\x00.exe", EXE, "type_not_allowed"),  # NUL trick: the name shown is report.pdf.exe
    # executables renamed
    ("invoice.pdf", EXE, "executable"),
    ("photo.jpg", EXE, "executable"),
    ("方案.docx", EXE, "executable"),
    ("readme.txt", SCRIPT, "executable"),
    # HTML/SVG with script behind an allowed extension
    ("image.png", SVG, "markup"),
    ("report.pdf", HTML, "markup"),
    ("notes.txt", HTML, "markup"),
    ("notes-utf16.txt", UTF16_HTML, "markup"),
    ("scan.jpg", b"  \n<script>alert(1)</script>", "markup"),
    # content that is not what the name says
    ("report.pdf", PNG, "content_mismatch"),
    ("photo.png", JPEG, "content_mismatch"),
    ("方案.docx", zip_of({"a.txt": b"x"}), "content_mismatch"),
    ("档案.zip", b"PK\x03\x04 not really a zip", "content_mismatch"),
    # zip bombs, by ratio, by size, by count, and hidden one level down
    ("材料.zip", zip_bomb(30), "zip_bomb"),
    ("方案.docx", zip_of({"[Content_Types].xml": b"<Types/>", "word/document.xml": bytes(40 * 1024 * 1024)}),
     "zip_bomb"),
    ("很多文件.zip", _many_entries(10_001), "zip_bomb"),
    ("套娃.zip", zip_of({"inner.zip": zip_bomb(5)}), "zip_entry_not_allowed"),
    # archives that would run something or write outside their folder when extracted
    ("材料.zip", zip_of({"说明.txt": b"ok", "setup.exe": EXE}), "zip_entry_not_allowed"),
    ("材料.zip", zip_of({"page.html": HTML}), "zip_entry_not_allowed"),
    ("材料.zip", zip_of({"../../etc/cron.d/evil.txt": b"x"}), "zip_unsafe_path"),
    ("材料.zip", zip_of({"/etc/passwd.txt": b"x"}), "zip_unsafe_path"),
    ("方案.docx", zip_of({"[Content_Types].xml": b"<Types/>", "word/../../evil.xml": b"x"}), "zip_unsafe_path"),
    # names that climb out of a folder
    ("../../etc/passwd.pdf", PDF, "path_traversal"),
    ("evidence/../../../windows/win.ini.txt", b"text", "path_traversal"),
    ("", PDF, "no_name"),
]


@pytest.mark.parametrize(("name", "data", "reason"), REFUSED, ids=[f"{r}:{n!r}" for n, _, r in REFUSED])
def test_a_hostile_upload_is_refused_naming_the_file_and_nothing_is_kept(
        api: Api, case: int, factory: sessionmaker[Session], ctx: EngineContext, name: str, data: bytes,
        reason: str) -> None:
    response = _upload(api, case, name, data)
    if reason == "no_name":  # werkzeug drops a file part without a name: the request has no file at all
        assert response.status_code == 400
    else:
        assert response.status_code == 422, response.get_json()
        error = response.get_json()["error"]
        assert error["code"] == "file_refused" and error["details"]["reason"] == reason
        assert error["details"]["filename"] in error["message"]  # the message names the file
        english = _upload(api, case, name, data, **{"Accept-Language": "en"}).get_json()["error"]["message"]
        assert error["details"]["filename"] in english and english != error["message"]
    _nothing_kept(factory, ctx)


@pytest.mark.parametrize(("name", "shown"), [
    ("C:/Users/张三/Desktop/整改报告.pdf", "整改报告.pdf"),  # a client sending the whole path
    ("整改\u202ereport.pdf", "整改report.pdf"),  # a right-to-left override cannot disguise the extension
])
def test_a_harmless_name_is_kept_to_its_last_part_without_control_characters(
        api: Api, case: int, name: str, shown: str) -> None:
    response = _upload(api, case, name, PDF)
    assert response.status_code == 201 and response.get_json()["filename"] == shown


def test_a_plain_zip_of_evidence_and_office_files_is_accepted(api: Api, case: int) -> None:
    evidence = zip_of({"整改报告.pdf": PDF, "照片/现场.jpg": JPEG, "方案.docx": DOCX, "说明.txt": b"ok"})
    assert _upload(api, case, "材料.zip", evidence).status_code == 201


def test_a_file_over_the_limit_is_413_naming_the_limit_and_nothing_is_kept(
        api: Api, case: int, factory: sessionmaker[Session], ctx: EngineContext) -> None:
    ctx.max_upload_bytes = 64 * 1024
    response = _upload(api, case, "扫描件.pdf", PDF + bytes(64 * 1024))
    assert response.status_code == 413
    error = response.get_json()["error"]
    assert "64 KB" in error["message"] and error["details"]["max_bytes"] == 64 * 1024
    assert _upload(api, case, "扫描件.pdf", PDF + bytes(60 * 1024)).status_code == 201  # the other side


def test_a_whole_request_over_the_limit_is_413_before_anything_is_read(
        db_url: str, ctx: EngineContext, case: int, factory: sessionmaker[Session]) -> None:
    app = make_app(db_url, ctx, MAX_UPLOAD_BYTES=1024 * 1024, MAX_CONTENT_LENGTH=1024 * 1024 + 1024)
    try:
        with app.test_client() as client:
            response = _upload(Api(client), case, "大文件.pdf", PDF + bytes(3 * 1024 * 1024),
                               **{"Accept-Language": "en"})
            assert response.status_code == 413
            assert response.get_json()["error"]["message"] == \
                "The upload is too large: each file may be at most 1 MB."
    finally:
        app.extensions["xuncha.engine"].dispose()
    _nothing_kept(factory, ctx)


def test_the_case_page_refuses_the_same_files_with_the_message_shown(
        db_url: str, ctx: EngineContext, case: int, factory: sessionmaker[Session]) -> None:
    app = make_app(db_url, ctx, WTF_CSRF_ENABLED=False)
    try:
        client = app.test_client()
        login(client, "office1")
        for name, data in (("invoice.pdf", EXE), ("材料.zip", zip_of({"../evil.txt": b"x"})),
                           ("../../etc/passwd.pdf", PDF)):
            response = client.post(f"/cases/{case}/attachments", data={"file": (io.BytesIO(data), name)})
            assert response.status_code == 422, name
            assert "不允许上传" in response.get_data(as_text=True)
    finally:
        app.extensions["xuncha.engine"].dispose()
    _nothing_kept(factory, ctx)
