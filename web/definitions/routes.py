"""流程定义: the deployed BPMN processes, their XML, and (for supervisors) deploying a new version."""

from __future__ import annotations

from flask import Blueprint, Response, g, render_template, request
from werkzeug.utils import secure_filename

from engine.definitions import DeployResult, deploy, get_version, list_latest
from engine.errors import DefinitionInvalid

from ..auth.routes import login_required, role_required
from ..db import ctx, db

bp = Blueprint("definitions", __name__, template_folder="templates")


def _page(status: int = 200, *, result: DeployResult | None = None, invalid: DefinitionInvalid | None = None,
          upload_error: str | None = None, comment: str = "") -> tuple[str, int]:
    return render_template("definitions/index.html", definitions=list_latest(db()), result=result,
                           invalid=invalid, upload_error=upload_error, comment=comment), status


@bp.route("/definitions")
@login_required
def index() -> tuple[str, int]:
    return _page()


@bp.post("/definitions")
@role_required("supervisor")
def upload() -> tuple[str, int]:
    """Deploy, then show the list again with the outcome (re-posting identical XML is a no-op)."""
    comment = request.form.get("comment", "").strip()
    upload_file = request.files.get("file")
    xml = upload_file.read() if upload_file else b""
    if not xml:
        return _page(400, upload_error="请选择要上传的 BPMN 文件。", comment=comment)
    try:
        result = deploy(db(), xml, g.actor, ctx().forms, at=ctx().clock.now(), comment=comment[:500] or None)
    except DefinitionInvalid as exc:
        db().rollback()
        return _page(422, invalid=exc, comment=comment)
    db().commit()
    return _page(result=result)


@bp.route("/definitions/<key>/versions/<int:version>/bpmn")
@login_required
def download(key: str, version: int) -> Response:
    definition = get_version(db(), key, version)
    filename = secure_filename(f"{definition.key}-v{definition.version}.bpmn") or "definition.bpmn"
    return Response(definition.bpmn_xml, mimetype="application/xml",
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})
