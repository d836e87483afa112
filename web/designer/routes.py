"""流程设计: the modeler page (bpmn-js, bundled in web/static/build/modeler.js) and the JSON calls its
script makes with the session cookie and the CSRF header — saving the draft, checking and deploying.
The same engine functions serve the bearer-token API (web/api/designer.py)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from werkzeug.wrappers import Response as BaseResponse

from engine import definition_drafts
from engine.definitions import list_latest
from engine.errors import InvalidInput

from ..api.designer import draft_body, request_xml
from ..api.params import json_body, optional_int_field
from ..auth.routes import permission_required
from ..db import ctx, db

bp = Blueprint("designer", __name__, template_folder="templates")
SUPERVISOR = "supervisor"


@bp.route("/designer")
@permission_required("definition", "deploy")
def index() -> str:
    return render_template("designer/index.html", drafts=definition_drafts.list_drafts(db(), g.actor),
                           definitions=list_latest(db()))


def _modeler(key: str | None, version: int | None, xml_url: str, *, draft: Any = None,
             draft_available: Any = None) -> str:
    return render_template(
        "designer/modeler.html", key=key, version=version, xml_url=xml_url, draft=draft,
        draft_available=draft_available, catalog=definition_drafts.catalog(db(), ctx(), g.actor))


@bp.route("/designer/new")
@permission_required("definition", "deploy")
def new() -> str:
    return _modeler(None, None, "")


@bp.route("/designer/<key>")
@permission_required("definition", "deploy")
def edit(key: str) -> str:
    """Open version ``version`` (default: the current one). With a saved draft of the process, the draft
    opens instead (a notice says so and offers to discard it) unless ``?version=`` asks for a version."""
    raw = request.args.get("version", "").strip()
    if raw and not raw.isdigit():
        raise InvalidInput("参数 version 必须是正整数。", "Parameter 'version' must be a positive integer.")
    _xml, version = definition_drafts.starting_xml(db(), g.actor, key, int(raw) if raw else None)
    draft = definition_drafts.load_draft(db(), g.actor, key)
    if draft is not None and not raw:
        return _modeler(key, version, url_for("designer.draft_xml", key=key), draft=draft)
    return _modeler(key, version, url_for("definitions.download", key=key, version=version), draft_available=draft)


@bp.route("/designer/<key>/draft.xml")
@permission_required("definition", "deploy")
def draft_xml(key: str) -> Response:
    draft = definition_drafts.get_draft(db(), g.actor, key)
    return Response(draft.bpmn_xml, mimetype="application/xml", headers={"Cache-Control": "no-store"})


@bp.post("/designer/<key>/discard")
@permission_required("definition", "deploy")
def discard(key: str) -> BaseResponse:
    definition_drafts.discard_draft(db(), g.actor, key)
    db().commit()
    flash(_("草稿已丢弃。"), "success")
    return redirect(url_for("designer.edit", key=key))


@bp.put("/designer/drafts")
@permission_required("definition", "deploy")
def save_draft() -> dict[str, Any]:
    """保存草稿 (JSON ``{bpmn_xml, revision, based_on_version}``): the key is the diagram's process id."""
    body = json_body()
    row = definition_drafts.save_draft(
        db(), g.actor, request_xml(body), now=ctx().clock.now(),
        expected_revision=optional_int_field(body, "revision"),
        based_on_version=optional_int_field(body, "based_on_version"))
    db().commit()
    return draft_body(row, with_xml=False)


@bp.post("/designer/validate")
@permission_required("definition", "deploy")
def validate() -> dict[str, Any]:
    return definition_drafts.validate(db(), ctx(), g.actor, request_xml(json_body())).as_dict()


@bp.post("/designer/deploy")
@permission_required("definition", "deploy")
def deploy() -> tuple[dict[str, Any], int]:
    """部署 (JSON ``{bpmn_xml, comment, make_current}``): 201 with the new version, 200 when the XML is
    the newest version's; 422 lists the problems, each naming its element."""
    body = json_body()
    comment = body.get("comment")
    if comment is not None and not isinstance(comment, str):
        raise InvalidInput("字段 comment 必须是字符串。", "Field 'comment' must be a string.", {"field": "comment"})
    make_current = body.get("make_current", True)
    if not isinstance(make_current, bool):
        raise InvalidInput("字段 make_current 必须是布尔值。", "Field 'make_current' must be a boolean.",
                           {"field": "make_current"})
    result = definition_drafts.deploy_diagram(db(), ctx(), g.actor, request_xml(body),
                                              comment=(comment or "").strip()[:500] or None,
                                              make_current=make_current)
    db().commit()
    row = result.definition
    return {"key": row.key, "version": row.version, "sha256": row.sha256, "created": result.created,
            "warnings": [w.as_dict() for w in result.warnings],
            "versions_url": url_for("definitions.list_versions", key=row.key),
            "modeler_url": url_for("designer.edit", key=row.key, version=row.version)}, 201 if result.created else 200
