"""Process definitions: list the newest versions, deploy a BPMN file, fetch a version's XML."""

from __future__ import annotations

from typing import Any

from flask import g, request
from werkzeug.wrappers import Response

from engine import definitions, versions
from engine.errors import InvalidInput

from ..db import ctx, db
from . import serializers
from .auth import require_permission


def list_definitions() -> list[dict[str, Any]]:
    return [serializers.definition(row) for row in definitions.list_latest(db())]


def _make_current() -> bool:
    """The optional form field ``make_current`` (default true): false keeps new cases on the version
    that was current before."""
    raw = (request.form.get("make_current") or "true").strip().lower()
    if raw not in ("true", "false", "1", "0"):
        raise InvalidInput("字段 make_current 应为 true 或 false。", "Field 'make_current' must be true or false.",
                           {"field": "make_current"})
    return raw in ("true", "1")


def deploy_definition() -> tuple[dict[str, Any], int]:
    require_permission("definition", "deploy")
    upload = request.files.get("file")
    if upload is None:
        raise InvalidInput("请以 multipart/form-data 上传字段 file（.bpmn 文件）。",
                           "Upload the .bpmn file as multipart/form-data field 'file'.", {"field": "file"})
    xml = upload.read(definitions.MAX_BPMN_BYTES + 1)
    if len(xml) > definitions.MAX_BPMN_BYTES:
        raise definitions.bpmn_too_large(len(xml))
    comment = (request.form.get("comment") or "").strip()[:500] or None
    result = versions.deploy_version(db(), xml, g.actor, ctx().forms, at=ctx().clock.now(), comment=comment,
                                     make_current=_make_current())
    db().commit()
    row = result.definition
    body = {"key": row.key, "version": row.version, "sha256": row.sha256,
            "warnings": [w.as_dict() for w in result.warnings]}
    return body, 201 if result.created else 200


def definition_xml(key: str, version: int) -> Response:
    row = definitions.get_version(db(), key, version)
    return Response(row.bpmn_xml, mimetype="application/xml")
