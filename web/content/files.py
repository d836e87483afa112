"""Serving an evidence file: always as a download, never as something the browser would render or run.

Shared by the download link on the pages and ``GET /api/v1/attachments/{id}/content``.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

from flask import g, send_file
from werkzeug.wrappers import Response

from engine import content
from engine.filetypes import SERVED_TYPES

from ..db import ctx, db, writing


def content_disposition(attachment_id: int, filename: str) -> str:
    """``attachment`` with the name in RFC 5987 form (Chinese names intact) and a plain ASCII fallback."""
    ext = filename.rpartition(".")[2] if "." in filename else ""
    plain = filename if filename.isascii() and filename.isprintable() and not set(filename) & set('"\\;') else (
        f"attachment-{attachment_id}.{ext}" if ext.isascii() and ext.isalnum() else f"attachment-{attachment_id}")
    return f"attachment; filename=\"{plain}\"; filename*=UTF-8''{quote(filename, safe='')}"


def send_attachment(attachment_id: int) -> Response:
    """The file, if the actor may read it; a clue's file is recorded as downloaded first."""
    row, path = content.open_attachment(db(), ctx(), g.actor, attachment_id)
    if content.download_is_audited(content.visible_instance(db(), g.actor, row.instance_id)):
        with writing() as session:
            content.record_download(session, ctx(), g.actor, row)
    return _file_response(row.id, row.filename, row.content_type, row.sha256, path)


def _file_response(attachment_id: int, filename: str, content_type: str, sha256: str, path: Path) -> Response:
    mimetype = content_type if content_type in SERVED_TYPES else "application/octet-stream"
    response = send_file(path, mimetype=mimetype, conditional=True, etag=sha256, max_age=None)
    response.headers["Content-Type"] = mimetype  # as stored: text keeps the charset it was found in
    response.headers["Content-Disposition"] = content_disposition(attachment_id, filename)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = "sandbox"
    response.headers["Cache-Control"] = "private, no-store"
    return response
