"""Comments and evidence attachments of a case, over the API (the same engine.content the pages use)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from flask import g, request, url_for
from werkzeug.wrappers import Response

from engine import content
from engine.errors import InvalidInput
from models import Attachment, Comment

from ..content.files import send_attachment
from ..db import committed, ctx, db
from ..reads import record_case_read
from .params import int_arg, json_body, optional_int_field
from .serializers import iso


def _comment(row: Comment, task_ids: dict[str, int]) -> dict[str, Any]:
    return {"id": row.id, "instance_id": row.instance_id, "task_id": task_ids.get(row.task_guid or ""),
            "author": row.author.username, "author_name": row.author.display_name, "body": row.body,
            "created_at": iso(row.created_at)}


def _attachment(row: Attachment, task_ids: dict[str, int]) -> dict[str, Any]:
    return {"id": row.id, "instance_id": row.instance_id, "task_id": task_ids.get(row.task_guid or ""),
            "filename": row.filename, "content_type": row.content_type, "size": row.size, "sha256": row.sha256,
            "uploaded_by": row.uploaded_by.username, "uploaded_at": iso(row.uploaded_at),
            "removed_at": iso(row.removed_at), "removed_by": row.removed_by.username if row.removed_by else None,
            "removal_reason": row.removal_reason,
            "content_url": None if row.removed_at else url_for("api.attachment_content", attachment_id=row.id)}


def _ids(rows: Sequence[Comment | Attachment]) -> dict[str, int]:
    return content.task_ids(db(), [r.task_guid for r in rows])


def _read(instance_id: int, via: str) -> None:
    record_case_read(content.visible_instance(db(), g.actor, instance_id), via)


def list_comments(instance_id: int) -> list[dict[str, Any]]:
    rows = content.list_comments(db(), g.actor, instance_id, task_id=int_arg("task_id"))
    body = [_comment(r, _ids(rows)) for r in rows]
    _read(instance_id, "api_comments")
    return body


def add_comment(instance_id: int) -> tuple[dict[str, Any], int]:
    body = json_body()
    text = body.get("body")
    if not isinstance(text, str):
        raise InvalidInput("缺少字段 body（字符串）。", "Field 'body' (a string) is required.", {"field": "body"})
    row = content.add_comment(db(), ctx(), g.actor, instance_id, text, task_id=optional_int_field(body, "task_id"))
    return committed((_comment(row, _ids([row])), 201))


def list_attachments(instance_id: int) -> list[dict[str, Any]]:
    rows = content.list_attachments(db(), g.actor, instance_id, task_id=int_arg("task_id"))
    body = [_attachment(r, _ids(rows)) for r in rows]
    _read(instance_id, "api_attachments")
    return body


def upload_attachment(instance_id: int) -> tuple[dict[str, Any], int]:
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        raise InvalidInput("请以 multipart/form-data 上传字段 file。", "Upload the file as multipart/form-data field "
                           "'file'.", {"field": "file"})
    raw_task = (request.form.get("task_id") or "").strip()
    if raw_task and not (raw_task.isascii() and raw_task.isdigit()):
        raise InvalidInput("task_id 必须是整数。", "'task_id' must be an integer.", {"task_id": raw_task})
    row = content.store_attachment(db(), ctx(), g.actor, instance_id, upload.filename, upload.stream,
                                   task_id=int(raw_task) if raw_task else None)
    return committed((_attachment(row, _ids([row])), 201))


def get_attachment(attachment_id: int) -> dict[str, Any]:
    row = content.get_attachment(db(), g.actor, attachment_id)
    body = _attachment(row, _ids([row]))
    _read(row.instance_id, "api_attachment")
    return body


def attachment_content(attachment_id: int) -> Response:
    return send_attachment(attachment_id)


def remove_attachment(attachment_id: int) -> dict[str, Any]:
    """DELETE withdraws the file (nothing is deleted); an optional ``reason`` in the query or body."""
    given = request.get_json(silent=True)
    reason = given.get("reason") if isinstance(given, dict) else request.args.get("reason")
    if reason is not None and not isinstance(reason, str):
        raise InvalidInput("reason 必须是字符串。", "'reason' must be a string.", {"field": "reason"})
    row = content.remove_attachment(db(), ctx(), g.actor, attachment_id, reason)
    body = _attachment(row, _ids([row]))
    return committed(body)
