"""表单库: supervisors list, write and version task forms, with a live preview drawn by the task pages'
own renderer (web.tasks.forms), so what they see is what the person doing the task will get."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from flask import Blueprint, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from werkzeug.wrappers import Response

from engine import form_library
from engine.errors import Conflict, FormInvalid, NotFound
from engine.forms import Form, stored_key
from engine.paging import Page

from ..auth.routes import permission_required
from ..db import ctx, db
from ..errors import locale
from ..i18n import t
from ..params import page_number
from ..tasks.forms import localised, render_fields

bp = Blueprint("form_editor", __name__, template_folder="templates", url_prefix="/designer/forms")
PER_PAGE = 20
EMPTY_SCHEMA: dict[str, Any] = {"title": "", "type": "object", "properties": {}, "required": []}


@dataclass
class Draft:
    """What the editor shows: a stored version, a copy, or what was just posted."""

    name: str
    title: str
    schema_text: str
    ui_text: str
    comment: str = ""
    expected_version: int = 0  # the newest version the editor saw (0: a new form)


def _pretty(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, indent=2)


@bp.route("")
@permission_required("form", "edit")
def index() -> str:
    q = request.args.get("q", "").strip()
    page = page_number(request.args.get("page"))
    entries = form_library.list_forms(db(), ctx().forms, q)
    listing = Page.cut(entries, page, PER_PAGE)
    usage = form_library.form_usage(db())
    used_by = {e.name: [(process, version, key) for key in ([e.key_for(v) for v in e.versions] or [e.key])
                        for process, version in usage.get(key, [])] for e in listing.items}
    return render_template("form_editor/index.html", listing=listing, q=q, used_by=used_by)


@bp.route("/new")
@permission_required("form", "edit")
def new() -> str:
    """An empty form, or a copy of a shipped or stored form (``?from=rect_review_plan.schema.json``)."""
    source = request.args.get("from", "").strip()
    if source and ctx().forms.exists(source):
        form = ctx().forms.get(source)
        base = source.split("@")[0].removesuffix(".schema.json")
        draft = Draft(f"{base}_copy" if stored_key(source) else base, form.title, _pretty(form.schema),
                      _pretty(form.ui))
    else:
        draft = Draft("", "", _pretty(EMPTY_SCHEMA), _pretty({}))
    return _editor(draft)


@bp.route("/<name>")
@permission_required("form", "edit")
def edit(name: str) -> str:
    rows = form_library.form_versions(db(), name)
    version = request.args.get("version", "")
    row = next((r for r in rows if str(r.version) == version), None) if version else rows[0]
    if row is None:
        raise NotFound(f"表单 {name} 没有第 {version} 版。", f"Form {name} has no version {version}.")
    return _editor(Draft(name, row.title, _pretty(row.schema), _pretty(row.ui_schema or {}),
                         expected_version=rows[0].version), versions=rows, shown=row.version)


def _editor(draft: Draft, *, versions: list[Any] | None = None, shown: int | None = None,
            errors: dict[str, dict[str, str]] | None = None, message: str | None = None) -> str:
    preview = _preview(draft.schema_text, draft.ui_text)
    return render_template("form_editor/edit.html", draft=draft, versions=versions or [], shown=shown,
                           errors={path: localised(e, locale()) for path, e in (errors or {}).items()},
                           message=message, preview=preview, files=ctx().forms.file_keys())


@bp.post("")
@permission_required("form", "edit")
def save() -> Response | tuple[str, int]:
    posted = request.form
    draft = Draft(posted.get("name", "").strip(), posted.get("title", "").strip(), posted.get("schema", ""),
                  posted.get("ui_schema", ""), posted.get("comment", "").strip(),
                  int(posted["expected_version"]) if posted.get("expected_version", "").isdigit() else 0)
    existing = form_library.form_versions(db(), draft.name) if form_library.newest_version(db(), draft.name) else []
    try:
        schema, ui = _parse(draft.schema_text, "schema"), _parse(draft.ui_text, "ui_schema")
        row, created = form_library.save_form(db(), g.actor, draft.name, schema, ui, draft.title, draft.comment,
                                              at=ctx().clock.now(), expected_version=draft.expected_version)
    except FormInvalid as exc:
        db().rollback()
        return _editor(draft, versions=existing, errors=exc.details.get("fields", {}),
                       message=t(exc.message_zh, exc.message_en)), 422
    except Conflict as exc:  # stale, or a new form taking a used name
        db().rollback()
        return _editor(draft, versions=existing, message=t(exc.message_zh, exc.message_en)), 409
    db().commit()
    flash(_("已保存表单 %(name)s 第 %(version)s 版（%(key)s）。", name=row.name, version=row.version, key=row.key)
          if created else _("内容与第 %(version)s 版相同，未创建新版本。", version=row.version), "success")
    return redirect(url_for("form_editor.edit", name=row.name))


def _parse(text: str, field: str) -> Any:
    try:
        return json.loads(text) if text.strip() else ({} if field == "ui_schema" else None)
    except ValueError as exc:
        label = "JSON Schema" if field == "schema" else "UI Schema"
        raise FormInvalid("表单定义有错误，未保存。", "The form definition has errors; nothing was saved.",
                          {"fields": {field: {"message_zh": f"{label} 不是有效的 JSON：{exc}",
                                              "message_en": f"The {label} is not valid JSON: {exc}"}}}) from exc


@dataclass
class Preview:
    rendered: Any  # web.tasks.forms.RenderedForm, or None when the form is invalid
    title: str
    errors: list[str]


def _preview(schema_text: str, ui_text: str) -> Preview:
    size = len(schema_text.encode()) + len(ui_text.encode())
    if size > form_library.MAX_FORM_BYTES:
        return Preview(None, "", [_("表单定义过大（%(size)s 字节，上限 %(limit)s）。", size=size,
                                    limit=form_library.MAX_FORM_BYTES)])
    try:
        schema, ui = _parse(schema_text, "schema"), _parse(ui_text, "ui_schema")
    except FormInvalid as exc:
        return Preview(None, "", [localised(e, locale()) for e in exc.details["fields"].values()])
    empty = isinstance(schema, dict) and schema.get("properties") == {} and isinstance(ui, dict)  # new: nothing yet
    problems = {} if empty else form_library.schema_errors(schema, ui)
    if problems:
        return Preview(None, "", [localised(e, locale()) for e in problems.values()])
    form = Form("preview", schema, ui)
    return Preview(render_fields(form, {}, locale=locale()), form.title if "title" in schema else "", [])


@bp.post("/preview")
@permission_required("form", "edit")
def preview() -> tuple[str, int]:
    """The form drawn as a task page draws it (an HTML fragment), or its problems (422)."""
    shown = _preview(request.form.get("schema", ""), request.form.get("ui_schema", ""))
    return render_template("form_editor/_preview.html", preview=shown), 422 if shown.errors else 200
