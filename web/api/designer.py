"""The modeler's drafts, validation and catalog (supervisors only). Deploying is ``POST /definitions``."""

from __future__ import annotations

from typing import Any

from flask import g, request

from engine import definition_drafts
from engine.errors import InvalidInput
from models import DefinitionDraft

from ..db import committed, ctx, db
from .params import json_body, optional_int_field
from .serializers import iso


def draft_body(row: DefinitionDraft, *, with_xml: bool = True) -> dict[str, Any]:
    body: dict[str, Any] = {
        "key": row.key, "name": row.name, "revision": row.revision,
        "based_on_version": row.based_on.version if row.based_on else None,
        "created_at": iso(row.created_at), "updated_at": iso(row.updated_at)}
    if with_xml:
        body["bpmn_xml"] = row.bpmn_xml
    return body


def request_xml(body: dict[str, Any] | None = None) -> bytes:
    """The diagram of a request: an XML body, or the JSON field ``bpmn_xml``."""
    if body is None and request.mimetype in ("application/xml", "text/xml"):
        return request.get_data()
    body = body if body is not None else json_body()
    xml = body.get("bpmn_xml")
    if not isinstance(xml, str) or not xml.strip():
        raise InvalidInput("缺少字段 bpmn_xml（流程图 XML）。", "Field 'bpmn_xml' (the diagram's XML) is required.",
                           {"field": "bpmn_xml"})
    return xml.encode("utf-8")


def list_definition_drafts() -> list[dict[str, Any]]:
    return [draft_body(row, with_xml=False) for row in definition_drafts.list_drafts(db(), g.actor)]


def get_definition_draft(key: str) -> dict[str, Any]:
    return draft_body(definition_drafts.get_draft(db(), g.actor, key))


def save_definition_draft(key: str) -> dict[str, Any]:
    body = json_body()
    row = definition_drafts.save_draft(
        db(), g.actor, request_xml(body), now=ctx().clock.now(), key=key,
        expected_revision=optional_int_field(body, "revision"),
        based_on_version=optional_int_field(body, "based_on_version"))
    return committed(draft_body(row))


def discard_definition_draft(key: str) -> tuple[str, int]:
    revision = request.args.get("revision", "").strip()
    if revision and not revision.isdigit():
        raise InvalidInput("参数 revision 必须是整数。", "Parameter 'revision' must be an integer.")
    definition_drafts.discard_draft(db(), g.actor, key, expected_revision=int(revision) if revision else None)
    return committed(("", 204))


def validate_diagram() -> dict[str, Any]:
    """Check a diagram as deploy would and store nothing: ``{ok, problems}``."""
    return definition_drafts.validate(db(), ctx(), g.actor, request_xml()).as_dict()


def get_catalog() -> dict[str, Any]:
    return definition_drafts.catalog(db(), ctx(), g.actor)
