"""流程定义: the deployed BPMN processes, their versions and XML, which version new cases start on,
roll-backs, and the visual comparison of two versions. Supervisors act; everyone else reads."""

from __future__ import annotations

from flask import Blueprint, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from werkzeug.utils import secure_filename
from werkzeug.wrappers import Response

from engine import versions
from engine.definitions import DeployResult, get_version, list_latest
from engine.errors import DefinitionInvalid, InvalidInput, XunchaError

from ..auth.routes import login_required, permission_required
from ..db import ctx, db
from ..i18n import english
from ..pages import refused
from ..params import page_number

bp = Blueprint("definitions", __name__, template_folder="templates")


def _page(status: int = 200, *, result: DeployResult | None = None, invalid: DefinitionInvalid | None = None,
          upload_error: str | None = None, comment: str = "") -> tuple[str, int]:
    return render_template("definitions/index.html", definitions=list_latest(db()),
                           pinned=versions.pinned_versions(db()), result=result,
                           invalid=invalid, upload_error=upload_error, comment=comment), status


@bp.route("/definitions")
@login_required
def index() -> tuple[str, int]:
    return _page()


@bp.post("/definitions")
@permission_required("definition", "deploy")
def upload() -> tuple[str, int]:
    """Deploy, then show the list again with the outcome (re-posting identical XML is a no-op). Without
    ``make_current`` ticked, new cases keep starting on the version that was current (not sending the
    field at all means ticked, as for the API)."""
    comment = request.form.get("comment", "").strip()
    upload_file = request.files.get("file")
    xml = upload_file.read() if upload_file else b""
    if not xml:
        return _page(400, upload_error=_("请选择要上传的 BPMN 文件。"), comment=comment)
    sent = request.form.getlist("make_current")  # the form sends "0", and "1" too when ticked
    make_current = not sent or "1" in sent
    try:
        result = versions.deploy_version(db(), xml, g.actor, ctx().forms, at=ctx().clock.now(),
                                         comment=comment[:500] or None, make_current=make_current)
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


@bp.route("/definitions/<key>/versions")
@login_required
def list_versions(key: str) -> str:
    listing = versions.list_versions(db(), g.actor, key, page=page_number(request.args.get("page")))
    return render_template("definitions/versions.html", listing=listing)


@bp.route("/definitions/<key>/versions/<int:version>")
@login_required
def show_version(key: str, version: int) -> str:
    definition = get_version(db(), key, version)
    current = versions.current_definition(db(), key)
    return render_template("definitions/version.html", definition=definition, is_current=current.id == definition.id)


def _version_field() -> int:
    raw = (request.form.get("version") or "").strip()
    if not raw.isdigit():
        raise InvalidInput("请选择版本。", "Choose a version.", {"field": "version"})
    return int(raw)


def _act(key: str, action: str) -> Response:
    """Release or roll back, commit, and say so on the versions page (or why not, rolled back)."""
    try:
        version = _version_field()
        if action == "release":
            versions.release(db(), g.actor, key, version, at=ctx().clock.now())
            done = _("新建案件将使用第 %(version)s 版。", version=version)
        else:
            comment = (request.form.get("comment") or "").strip()[:500] or None
            result = versions.roll_back(db(), g.actor, ctx().forms, key, version, at=ctx().clock.now(),
                                        comment=comment)
            new = result.definition.version
            done = _("已回滚：第 %(new)s 版沿用第 %(version)s 版的内容，新建案件将使用它。", new=new, version=version)
    except XunchaError as exc:
        problems = exc.details.get("problems") or []
        field = "message_en" if english() else "message_zh"
        lines = "; ".join(p.get(field, "") for p in problems if p.get("severity", "error") == "error")
        return refused(exc, url_for("definitions.list_versions", key=key), f" {lines}" if lines else "")
    db().commit()
    flash(done, "success")
    return redirect(url_for("definitions.list_versions", key=key))


@bp.post("/definitions/<key>/release")
@permission_required("definition", "release")
def release(key: str) -> Response:
    return _act(key, "release")


@bp.post("/definitions/<key>/rollback")
@permission_required("definition", "release")
def roll_back(key: str) -> Response:
    return _act(key, "rollback")


def _int_arg(name: str) -> int | None:
    raw = (request.args.get(name) or "").strip()
    if not raw:
        return None
    if not raw.isdigit():
        raise InvalidInput(f"参数 {name} 应为版本号。", f"Parameter {name} must be a version number.",
                           {"field": name})
    return int(raw)


@bp.route("/definitions/<key>/diff")
@login_required
def diff(key: str) -> str:
    """Two versions side by side: the older with removed and changed elements coloured, the newer with
    added and changed ones, and the list of changes beneath. Defaults: the newest against the one before."""
    listing = versions.list_versions(db(), g.actor, key, per_page=200)
    to_version = _int_arg("to") or listing.newest_version
    from_version = _int_arg("from") or max(to_version - 1, 1)
    before, after, changes = versions.compare(db(), key, from_version, to_version)
    return render_template("definitions/diff.html", listing=listing, before=before, after=after, changes=changes,
                           lines=changes.lines(english=english()))
