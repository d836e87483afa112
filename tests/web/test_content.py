"""Comments and evidence files through the pages and the API: uploads refused by size and type, how a
file is served, who sees what (404 for everyone else), withdrawal with confirmation, and the file
field of a task form."""

from __future__ import annotations

import io
import json
import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from engine import audit
from engine.context import EngineContext
from engine.demo import Demo
from models import Attachment, TaskStatus
from tests.evidence_files import EXE, HTML, PDF, PNG, SVG, zip_bomb
from tests.helpers import add_user, approve_plan, open_clue, open_rectification, ready_task, task_row
from tests.web.helpers import Api, api_for, login, make_app

ID_NUMBER = "110101197001011234"


@pytest.fixture
def api(db_url: str, ctx: EngineContext, demo: Demo) -> Iterator[Api]:
    with api_for(db_url, ctx) as client:
        yield client


def _upload(caller: Any, iid: int, name: str = "整改报告.pdf", data: bytes = PDF,
            headers: dict[str, str] | None = None, **form: Any) -> Any:
    return caller.post(f"/instances/{iid}/attachments", data={"file": (io.BytesIO(data), name), **form},
                       headers=headers)


def _events(factory: sessionmaker[Session], iid: int, event_type: str) -> list[dict[str, Any]]:
    with factory() as s:
        return [json.loads(e.payload) | {"_actor": e.actor_name} for e in audit.stream_events(s, iid)
                if e.event_type == event_type]


def _attachments(factory: sessionmaker[Session]) -> int:
    with factory() as s:
        return int(s.execute(select(func.count()).select_from(Attachment)).scalar_one())


# -- the API ----------------------------------------------------------------------------------------------------


def test_an_uploaded_file_comes_back_as_a_download_that_nothing_renders(
        api: Api, factory: sessionmaker[Session], ctx: EngineContext, demo: Demo) -> None:
    iid = open_clue(factory, ctx, demo)
    created = _upload(api("office1"), iid)
    assert created.status_code == 201, created.get_json()
    body = created.get_json()
    assert body["filename"] == "整改报告.pdf" and body["size"] == len(PDF) and body["uploaded_by"] == "office1"
    assert body["content_url"] == f"/api/v1/attachments/{body['id']}/content"

    response = api("group1").get(f"/attachments/{body['id']}/content")
    assert response.status_code == 200 and response.data == PDF
    assert response.mimetype == "application/pdf"
    disposition = response.headers["Content-Disposition"]
    assert disposition.startswith("attachment;")
    assert f"filename*=UTF-8''{quote('整改报告.pdf')}" in disposition
    assert f'filename="attachment-{body["id"]}.pdf"' in disposition
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Content-Security-Policy"] == "sandbox"
    assert "no-store" in response.headers["Cache-Control"]
    [download] = _events(factory, iid, "attachment_downloaded")
    assert download["attachment_id"] == body["id"] and download["_actor"] == "group1"

    meta = api("jw1").get(f"/attachments/{body['id']}")
    assert meta.status_code == 200 and meta.get_json()["sha256"] == body["sha256"]
    listed = api("leader1").get(f"/instances/{iid}/attachments").get_json()
    assert [a["id"] for a in listed] == [body["id"]]
    reads = [e["via"] for e in _events(factory, iid, "clue_viewed")]
    assert "api_attachment" in reads and "api_attachments" in reads


def test_a_text_file_is_served_as_plain_text_with_its_charset(
        api: Api, factory: sessionmaker[Session], ctx: EngineContext, demo: Demo) -> None:
    iid = open_clue(factory, ctx, demo)
    text = "情况说明".encode("gb18030")
    attachment = _upload(api("office1"), iid, name="说明.txt", data=text).get_json()
    response = api("office1").get(f"/attachments/{attachment['id']}/content")
    assert response.headers["Content-Type"] == "text/plain; charset=gb18030" and response.data == text
    assert response.headers["Content-Disposition"].startswith("attachment;")


def test_a_file_over_the_limit_is_413_naming_it_and_nothing_is_kept(
        api: Api, factory: sessionmaker[Session], ctx: EngineContext, demo: Demo) -> None:
    iid = open_clue(factory, ctx, demo)
    ctx.max_upload_bytes = 2048
    response = _upload(api("office1"), iid, name="扫描件.pdf", data=PDF + bytes(4096))
    assert response.status_code == 413
    error = response.get_json()["error"]
    assert error["code"] == "too_large" and "扫描件.pdf" in error["message"] and "2 KB" in error["message"]
    english = _upload(api("office1"), iid, name="扫描件.pdf", data=PDF + bytes(4096),
                      headers={"Accept-Language": "en"})
    assert "exceeds the upload limit" in english.get_json()["error"]["message"]
    assert _attachments(factory) == 0 and _events(factory, iid, "attachment_added") == []


def test_a_request_over_the_whole_request_limit_says_what_the_file_limit_is(
        db_url: str, ctx: EngineContext, factory: sessionmaker[Session], demo: Demo) -> None:
    iid = open_clue(factory, ctx, demo)
    app = make_app(db_url, ctx, MAX_UPLOAD_BYTES=1024 * 1024, MAX_CONTENT_LENGTH=1024 * 1024 + 1024)
    try:
        with app.test_client() as client:
            caller = Api(client)("office1")
            response = _upload(caller, iid, data=PDF + bytes(2 * 1024 * 1024))
            assert response.status_code == 413
            assert response.get_json()["error"]["message"] == "上传的内容过大：每个文件不得超过 1 MB。"
    finally:
        app.extensions["xuncha.engine"].dispose()
    assert _attachments(factory) == 0


@pytest.mark.parametrize(("name", "data", "reason"), [
    ("page.html", HTML, "type_not_allowed"), ("logo.svg", SVG, "type_not_allowed"),
    ("invoice.pdf", EXE, "executable"), ("image.png", SVG, "markup"), ("材料.zip", zip_bomb(30), "zip_bomb"),
    ("report.pdf", PNG, "content_mismatch"),
])
def test_refused_files_are_422_naming_the_file(api: Api, factory: sessionmaker[Session], ctx: EngineContext,
                                               demo: Demo, name: str, data: bytes, reason: str) -> None:
    iid = open_clue(factory, ctx, demo)
    response = _upload(api("office1"), iid, name=name, data=data)
    assert response.status_code == 422
    error = response.get_json()["error"]
    assert error["code"] == "file_refused" and error["details"]["reason"] == reason
    assert error["details"]["filename"] == name and name in error["message"]
    assert _attachments(factory) == 0


def test_an_upload_without_a_file_or_with_a_bad_task_id_is_400(
        api: Api, factory: sessionmaker[Session], ctx: EngineContext, demo: Demo) -> None:
    iid = open_clue(factory, ctx, demo)
    office = api("office1")
    assert office.post(f"/instances/{iid}/attachments", data={}).status_code == 400
    assert _upload(office, iid, task_id="x").status_code == 400
    assert _upload(office, iid, task_id="999999").status_code == 404


def test_units_and_recused_people_get_404_for_everything_of_a_clue(
        api: Api, factory: sessionmaker[Session], ctx: EngineContext, demo: Demo) -> None:
    add_user(factory, "jw-recused", "JW", [("receiving_body", "JW")], id_number=ID_NUMBER)
    iid = open_clue(factory, ctx, demo, persons=[{"name": "当事人", "id_number": ID_NUMBER}])
    attachment = _upload(api("office1"), iid).get_json()
    assert api("office1").post(f"/instances/{iid}/comments", json={"body": "请签收"}).status_code == 201
    for outsider in ("unit2", "unit1", "jw-recused"):
        caller = api(outsider)
        for path in (f"/instances/{iid}/attachments", f"/instances/{iid}/comments",
                     f"/attachments/{attachment['id']}", f"/attachments/{attachment['id']}/content"):
            assert caller.get(path).status_code == 404, (outsider, path)
        assert _upload(caller, iid).status_code == 404
        assert caller.post(f"/instances/{iid}/comments", json={"body": "x"}).status_code == 404
        assert caller.client.delete(f"/api/v1/attachments/{attachment['id']}",
                                    headers={"Authorization": f"Bearer {caller.token}"}).status_code == 404
    for insider in ("office1", "group1", "jw1", "leader1"):
        assert api(insider).get(f"/instances/{iid}/comments").get_json()[0]["body"] == "请签收"
    forbidden = _upload(api("group1"), iid)  # sees the clue, has no task on it now
    assert forbidden.status_code == 403 and forbidden.get_json()["error"]["code"] == "not_permitted"
    assert _attachments(factory) == 1


def test_comments_over_the_api(api: Api, factory: sessionmaker[Session], ctx: EngineContext, demo: Demo) -> None:
    iid = open_clue(factory, ctx, demo)
    handover = ready_task(factory, iid, "handover").id
    office = api("office1")
    created = office.post(f"/instances/{iid}/comments", json={"body": "移交前请核对清单。", "task_id": handover})
    assert created.status_code == 201
    assert created.get_json() | {"id": 0, "created_at": ""} == {
        "id": 0, "instance_id": iid, "task_id": handover, "author": "office1", "author_name": "巡察办 王明",
        "body": "移交前请核对清单。", "created_at": ""}
    empty = office.post(f"/instances/{iid}/comments", json={"body": " "})
    assert empty.status_code == 422 and set(empty.get_json()["error"]["details"]["fields"]) == {"body"}
    assert office.post(f"/instances/{iid}/comments", json={"text": "x"}).status_code == 400
    assert office.post(f"/instances/{iid}/comments", json={"body": "x", "task_id": "1"}).status_code == 400
    assert [c["task_id"] for c in office.get(f"/instances/{iid}/comments?task_id={handover}").get_json()] == [handover]
    [event] = _events(factory, iid, "comment_added")
    assert event["body"] == "移交前请核对清单。" and event["_actor"] == "office1"


def test_withdrawing_over_the_api_keeps_the_row_and_stops_downloads(
        api: Api, factory: sessionmaker[Session], ctx: EngineContext, demo: Demo) -> None:
    iid = open_clue(factory, ctx, demo)
    office = api("office1")
    attachment = _upload(office, iid).get_json()

    def delete(caller: Any, path: str, **kwargs: Any) -> Any:
        return caller.client.delete(f"/api/v1{path}", headers={"Authorization": f"Bearer {caller.token}"}, **kwargs)

    assert delete(api("leader1"), f"/attachments/{attachment['id']}").status_code == 403
    removed = delete(office, f"/attachments/{attachment['id']}", json={"reason": "传错了"})
    assert removed.status_code == 200
    assert removed.get_json()["removed_by"] == "office1" and removed.get_json()["removal_reason"] == "传错了"
    assert removed.get_json()["content_url"] is None and removed.get_json()["removed_at"]
    assert delete(office, f"/attachments/{attachment['id']}").status_code == 409
    assert office.get(f"/attachments/{attachment['id']}/content").status_code == 404
    assert office.get(f"/attachments/{attachment['id']}").get_json()["removed_at"]
    [event] = _events(factory, iid, "attachment_removed")
    assert event["changes"]["removal_reason"] == [None, "传错了"]


# -- the pages --------------------------------------------------------------------------------------------------


def test_the_case_page_lists_files_and_comments_and_takes_new_ones(
        client: FlaskClient, factory: sessionmaker[Session], ctx: EngineContext, demo: Demo) -> None:
    iid = open_clue(factory, ctx, demo)
    login(client, "office1")
    page = client.get(f"/cases/{iid}").get_data(as_text=True)
    assert "佐证材料" in page and "尚无佐证材料" in page and "尚无评论" in page
    assert f'action="/cases/{iid}/attachments"' in page and 'enctype="multipart/form-data"' in page

    uploaded = client.post(f"/cases/{iid}/attachments", data={"file": [(io.BytesIO(PDF), "线索报告.pdf"),
                                                                       (io.BytesIO(PNG), "照片.png")]})
    assert uploaded.status_code == 302 and uploaded.headers["Location"].endswith(f"/cases/{iid}#attachments")
    commented = client.post(f"/cases/{iid}/comments", data={"body": "<b>请</b>尽快签收"})
    assert commented.status_code == 302
    page = client.get(f"/cases/{iid}").get_data(as_text=True)
    assert "已上传 2 个文件" in page and "评论已发表" in page
    assert "线索报告.pdf" in page and "照片.png" in page
    history = page.split("办理记录")[1]
    assert "上传材料" in history and "线索报告.pdf" in history and "发表评论" in history
    assert "&lt;b&gt;请&lt;/b&gt;尽快签收" in page and "<b>请</b>" not in page
    link = re.search(r'href="(/attachments/\d+)" download>线索报告.pdf', page)
    assert link
    download = client.get(link.group(1))
    assert download.data == PDF and download.headers["Content-Disposition"].startswith("attachment;")
    assert download.headers["Content-Security-Policy"] == "sandbox"

    refused = client.post(f"/cases/{iid}/attachments", data={"file": (io.BytesIO(HTML), "page.html")})
    assert refused.status_code == 422 and "page.html" in refused.get_data(as_text=True)
    assert client.post(f"/cases/{iid}/comments", data={"body": ""}).status_code == 422


def test_someone_who_only_reads_sees_the_panels_without_forms_and_outsiders_get_404(
        client: FlaskClient, factory: sessionmaker[Session], ctx: EngineContext, demo: Demo) -> None:
    iid = open_clue(factory, ctx, demo)
    login(client, "group1")
    page = client.get(f"/cases/{iid}").get_data(as_text=True)
    assert "佐证材料" in page and 'name="file"' not in page and 'name="body"' not in page
    assert client.post(f"/cases/{iid}/comments", data={"body": "x"}).status_code == 403
    client.post("/logout")
    login(client, "unit2")
    assert client.post(f"/cases/{iid}/comments", data={"body": "x"}).status_code == 404
    assert client.post(f"/cases/{iid}/attachments",
                       data={"file": (io.BytesIO(PDF), "a.pdf")}).status_code == 404


def test_withdrawing_on_the_page_asks_for_confirmation_first(
        client: FlaskClient, factory: sessionmaker[Session], ctx: EngineContext, demo: Demo) -> None:
    iid = open_clue(factory, ctx, demo)
    login(client, "office1")
    client.post(f"/cases/{iid}/attachments", data={"file": (io.BytesIO(PDF), "误传.pdf")})
    with factory() as s:
        attachment_id = s.execute(select(Attachment.id)).scalar_one()
    page = client.get(f"/cases/{iid}").get_data(as_text=True)
    assert f'href="/attachments/{attachment_id}/remove"' in page
    confirm = client.get(f"/attachments/{attachment_id}/remove")
    assert confirm.status_code == 200 and "确认撤回" in confirm.get_data(as_text=True)
    unconfirmed = client.post(f"/attachments/{attachment_id}/remove", data={"reason": "传错"})
    assert unconfirmed.status_code == 400
    with factory() as s:
        assert s.get(Attachment, attachment_id).removed_at is None  # type: ignore[union-attr]
    done = client.post(f"/attachments/{attachment_id}/remove", data={"confirm": "yes", "reason": "传错"})
    assert done.status_code == 302
    page = client.get(f"/cases/{iid}").get_data(as_text=True)
    assert "已撤回" in page and "传错" in page and f'href="/attachments/{attachment_id}"' not in page
    assert client.get(f"/attachments/{attachment_id}").status_code == 404


# -- the file field of a task form ------------------------------------------------------------------------------


def _rectify_item(factory: sessionmaker[Session], ctx: EngineContext, demo: Demo) -> tuple[int, int]:
    iid = open_rectification(factory, ctx, demo, problems=1)
    approve_plan(factory, ctx, iid)
    return iid, ready_task(factory, iid, "rectify_item").id


def test_evidence_uploads_with_the_task_form_and_is_ticked_by_id(
        client: FlaskClient, factory: sessionmaker[Session], ctx: EngineContext, demo: Demo) -> None:
    iid, task_id = _rectify_item(factory, ctx, demo)
    login(client, "unit1")
    client.post(f"/cases/{iid}/attachments", data={"file": (io.BytesIO(PNG), "旧照片.png"), "task_id": str(task_id)})
    with factory() as s:
        earlier = s.execute(select(Attachment.id)).scalar_one()
    page = client.get(f"/tasks/{task_id}").get_data(as_text=True)
    form = page.split('class="card task-form"')[1].split("</form>")[0]
    assert 'enctype="multipart/form-data"' in form and 'name="evidence__upload"' in form
    assert f'name="evidence" value="{earlier}"' in form and "旧照片.png" in form
    revision = re.search(r'name="revision" value="(\d+)"', page).group(1)  # type: ignore[union-attr]
    fields = {"item_progress": "已建立制度。", "item_completion": "已完成", "revision": revision}

    refused = client.post(f"/tasks/{task_id}/complete", data={
        **fields, "evidence": str(earlier), "evidence__upload": (io.BytesIO(EXE), "制度.pdf")})
    assert refused.status_code == 422
    field = refused.get_data(as_text=True).split("<legend><span data-content>佐证材料")[1].split("</fieldset>")[0]
    assert "制度.pdf" in field and "可执行程序" in field
    assert task_row(factory, task_id).status == TaskStatus.READY

    done = client.post(f"/tasks/{task_id}/complete", data={
        **fields, "evidence": str(earlier), "evidence__upload": (io.BytesIO(PDF), "整改制度.pdf")})
    assert done.status_code == 302, done.get_data(as_text=True)
    with factory() as s:
        new = s.execute(select(Attachment).where(Attachment.filename == "整改制度.pdf")).scalar_one()
    assert new.task_guid == task_row(factory, task_id).task_guid
    [completed] = [e for e in _events(factory, iid, "task_completed") if e["bpmn_id"] == "rectify_item"]
    assert completed["data"]["evidence"] == [earlier, new.id]


def test_a_ticked_id_from_another_case_is_an_error_next_to_the_field(
        client: FlaskClient, factory: sessionmaker[Session], ctx: EngineContext, demo: Demo) -> None:
    _, task_id = _rectify_item(factory, ctx, demo)
    other = open_clue(factory, ctx, demo)
    login(client, "office1")
    client.post(f"/cases/{other}/attachments", data={"file": (io.BytesIO(PDF), "别的案件.pdf")})
    with factory() as s:
        foreign = s.execute(select(Attachment.id)).scalar_one()
    client.post("/logout")
    login(client, "unit1")
    response = client.post(f"/tasks/{task_id}/complete", data={
        "item_progress": "已建立制度。", "item_completion": "已完成", "evidence": str(foreign),
        "revision": str(task_row(factory, task_id).revision)})
    assert response.status_code == 422
    field = response.get_data(as_text=True).split("<legend><span data-content>佐证材料")[1].split("</fieldset>")[0]
    assert f"附件 {foreign} 不属于本案件或已撤回" in field
    assert task_row(factory, task_id).status == TaskStatus.READY


def test_the_task_page_takes_comments_and_files_for_its_task(
        app: Flask, client: FlaskClient, factory: sessionmaker[Session], ctx: EngineContext, demo: Demo) -> None:
    iid = open_clue(factory, ctx, demo)
    task_id = ready_task(factory, iid, "handover").id
    login(client, "office1")
    page = client.get(f"/tasks/{task_id}").get_data(as_text=True)
    assert f'name="task_id" value="{task_id}"' in page and "发表评论" in page
    posted = client.post(f"/cases/{iid}/comments", data={"body": "清单已附", "task_id": str(task_id)})
    assert posted.headers["Location"].endswith(f"/tasks/{task_id}#comments")
    page = client.get(f"/tasks/{task_id}").get_data(as_text=True)
    assert "清单已附" in page and f"任务 {task_id}" in page
