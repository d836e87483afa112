"""The form library: the shipped form files and the forms supervisors write in the browser.

A stored form is a series of immutable versions (models.FormVersion); saving an edit makes the next
version, and a diagram names one version as ``name@version``, so a running case's form never changes
under it. Shipped forms are named by their file (``rect_review_plan.schema.json``) as before.
Saving checks more than JSON Schema: the form must be one the task pages can render (engine.forms,
web.tasks.forms), so a supervisor learns of a widget nobody can show when saving, not when a case
reaches the task.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from models import FormVersion, ProcessDefinition, User

from . import audit
from .actors import Actor
from .errors import Conflict, FormInvalid, NotFound, NotPermitted, StaleState
from .forms import FILE_WIDGET, PICKER_WIDGETS, Form, FormStore
from .permissions import allows

NAME_PATTERN = re.compile(r"^[a-z][a-z0-9_]{1,62}$")
FIELD_PATTERN = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
MAX_FORM_BYTES = 64 * 1024  # schema and ui schema together, as JSON
MAX_TITLE = 200
MAX_COMMENT = 500
SCALAR_TYPES = ("string", "integer", "number", "boolean")

# The ui:widget values the task pages render (web.tasks.forms._widget), and the fields each fits.
WIDGETS: dict[str, str] = {
    "textarea": "string", "radio": "enum", "select": "enum", "checkboxes": "options", "multiselect": "options",
    "user": "string", "org": "string", FILE_WIDGET: "files",
}
_FITS: dict[str, tuple[str, str]] = {
    "string": ("文本字段", "text fields"),
    "enum": ("有选项的字段", "fields with options"),
    "options": ("多选字段", "multiple-choice fields"),
    "files": ("附件字段", "attachment fields"),
}


@dataclass(frozen=True)
class FormEntry:
    """One form of the library as a picker or list shows it."""

    name: str  # stored: "rect_recheck"; shipped: the file name
    title: str
    source: str  # "stored" or "file"
    key: str  # what a diagram names to use it: the newest version's "name@n", or the file name
    versions: tuple[int, ...] = ()  # stored: every version, oldest first
    updated_at: datetime | None = None
    updated_by: str | None = None

    def key_for(self, version: int) -> str:
        return f"{self.name}@{version}"


def list_forms(session: Session, forms: FormStore, q: str | None = None) -> list[FormEntry]:
    """Stored forms (newest version of each, with all its versions) and then the shipped form files,
    each sorted by name; ``q`` keeps those whose name or title contains it."""
    rows = session.execute(
        select(FormVersion.name, FormVersion.version, FormVersion.title, FormVersion.created_at, User.username)
        .outerjoin(User, User.id == FormVersion.created_by_id)
        .order_by(FormVersion.name, FormVersion.version)).all()
    stored: dict[str, FormEntry] = {}
    for name, version, title, created_at, username in rows:
        before = stored.get(name)
        stored[name] = FormEntry(name, title or name, "stored", f"{name}@{version}",
                                 (before.versions if before else ()) + (version,), created_at, username)
    files = [FormEntry(key, forms.get(key).title, "file", key) for key in forms.file_keys()]
    entries = list(stored.values()) + files
    needle = (q or "").strip().lower()
    return [e for e in entries if needle in e.name.lower() or needle in e.title.lower()] if needle else entries


_FORM_PROPERTY = re.compile(r'name="formJsonSchemaFilename"\s+value="([^"]+)"'
                            r'|value="([^"]+)"\s+name="formJsonSchemaFilename"')


def form_usage(session: Session) -> dict[str, list[tuple[str, int]]]:
    """Which deployed diagrams (process key, version) name each form key, from their XML."""
    usage: dict[str, list[tuple[str, int]]] = {}
    rows = session.execute(select(ProcessDefinition.key, ProcessDefinition.version, ProcessDefinition.bpmn_xml)
                           .order_by(ProcessDefinition.key, ProcessDefinition.version))
    for key, version, xml in rows:
        for form_key in sorted({a or b for a, b in _FORM_PROPERTY.findall(xml)}):
            usage.setdefault(form_key, []).append((key, version))
    return usage


def get_form(session: Session, name: str, version: int) -> FormVersion:
    row = session.execute(select(FormVersion).where(FormVersion.name == name, FormVersion.version == version)
                          ).scalar_one_or_none()
    if row is None:
        raise NotFound(f"表单 {name}@{version} 不存在。", f"Form {name}@{version} does not exist.")
    return row


def form_versions(session: Session, name: str) -> list[FormVersion]:
    """Every version of a stored form, newest first."""
    rows = list(session.execute(select(FormVersion).where(FormVersion.name == name)
                                .order_by(FormVersion.version.desc())).scalars())
    if not rows:
        raise NotFound(f"表单 {name} 不存在。", f"Form {name} does not exist.")
    return rows


def newest_version(session: Session, name: str) -> int:
    """The newest stored version of ``name``, 0 when there is none."""
    return int(session.execute(select(func.max(FormVersion.version)).where(FormVersion.name == name)).scalar() or 0)


def as_form(row: FormVersion) -> Form:
    return Form(row.key, row.schema, row.ui_schema or {})


def stored_form_loader(sessions: sessionmaker[Session]) -> Callable[[str, int], Form | None]:
    """What FormStore reads stored versions with: a short session of its own per miss (rows never change,
    so the store keeps what it read)."""

    def load(name: str, version: int) -> Form | None:
        with sessions() as session:
            row = session.execute(select(FormVersion).where(FormVersion.name == name, FormVersion.version == version)
                                  ).scalar_one_or_none()
            return as_form(row) if row is not None else None

    return load


def can_edit(actor: Actor | None) -> bool:
    return allows(actor, "form", "edit")


def save_form(session: Session, actor: Actor, name: str, schema: Any, ui_schema: Any, title: str | None,
              comment: str | None, *, at: datetime, expected_version: int | None) -> tuple[FormVersion, bool]:
    """Store the next version of form ``name``; return it and whether it is new.

    ``expected_version`` is the version the editor started from (None or 0 for a new form): if
    someone saved since, this raises StaleState rather than overwrite their version. Saving what the
    newest version already holds returns that version unchanged. Checks the form with
    :func:`check_form` first (FormInvalid, 422, nothing stored)."""
    if not can_edit(actor):
        raise NotPermitted("只有流程管理员可以编辑表单。", "Only supervisors may edit forms.")
    title = (title or "").strip() or (str(schema.get("title", "")) if isinstance(schema, dict) else "") or name
    ui_schema = {} if ui_schema is None else ui_schema
    check_form(name, schema, ui_schema, title, comment)
    if "title" not in schema:
        schema = {"title": title, **schema}
    newest = newest_version(session, name)
    if newest != (expected_version or 0):
        if not expected_version:
            raise Conflict(f"表单 {name} 已存在，请打开它并保存为新版本。",
                           f"Form {name} already exists; open it and save a new version.",
                           {"current_version": newest})
        raise StaleState(f"表单 {name} 已有人保存了第 {newest} 版，请刷新后再修改。",
                         f"Someone saved version {newest} of form {name} meanwhile; reload and edit again.",
                         {"current_version": newest})
    if newest:
        current = get_form(session, name, newest)
        if (current.schema, current.ui_schema or {}, current.title) == (schema, ui_schema, title):
            return current, False
    row = FormVersion(name=name, version=newest + 1, title=title, schema=schema, ui_schema=ui_schema,
                      comment=(comment or "").strip() or None, created_by_id=actor.user_id, created_at=at)
    try:
        with session.begin_nested():
            session.add(row)
            session.flush()
    except IntegrityError as exc:
        raise StaleState(f"表单 {name} 刚刚被另一人保存，请刷新后再修改。",
                         f"Form {name} was saved by someone else just now; reload and edit again.") from exc
    digest = hashlib.sha256(audit.canonical_json({"schema": schema, "ui": ui_schema}).encode()).hexdigest()
    audit.record(session, audit.SYSTEM_STREAM, [audit.EventDraft("form_saved", {
        "form_id": row.id, "name": name, "version": row.version, "title": title, "comment": row.comment,
        "sha256": digest})], at=at, actor_id=actor.user_id, actor_name=actor.username)
    return row, True


def _error(zh: str, en: str) -> dict[str, str]:
    return {"message_zh": zh, "message_en": en}


def check_form(name: str, schema: Any, ui_schema: Any, title: str = "", comment: str | None = None) -> None:
    """Raise FormInvalid (``details["fields"]`` by path) unless this is a form the task pages can render."""
    errors: dict[str, dict[str, str]] = {}
    if not isinstance(name, str) or not NAME_PATTERN.fullmatch(name):
        errors["name"] = _error("表单名称须以小写字母开头，只含小写字母、数字和下划线（2–63 个字符）。",
                                "The form name must start with a lower-case letter and hold only lower-case "
                                "letters, digits and underscores (2–63 characters).")
    if len(title) > MAX_TITLE:
        errors["title"] = _error(f"标题不能超过 {MAX_TITLE} 个字符。",
                                 f"The title may have at most {MAX_TITLE} characters.")
    if comment and len(comment) > MAX_COMMENT:
        errors["comment"] = _error(f"说明不能超过 {MAX_COMMENT} 个字符。",
                                   f"The comment may have at most {MAX_COMMENT} characters.")
    size = len(audit.canonical_json([schema, ui_schema]).encode())
    if size > MAX_FORM_BYTES:
        errors["schema"] = _error(f"表单定义过大（{size} 字节，上限 {MAX_FORM_BYTES}）。",
                                  f"The form is too large ({size} bytes, at most {MAX_FORM_BYTES}).")
    else:
        errors.update(schema_errors(schema, ui_schema))
    if errors:
        raise FormInvalid("表单定义有错误，未保存。", "The form definition has errors; nothing was saved.",
                          {"fields": errors})


def schema_errors(schema: Any, ui_schema: Any) -> dict[str, dict[str, str]]:
    """What is wrong with a schema and ui schema for the task pages (empty when nothing is), by path."""
    if not isinstance(schema, dict):
        return {"schema": _error("JSON Schema 必须是对象。", "The JSON Schema must be an object.")}
    try:
        Draft202012Validator.check_schema(schema)
    except SchemaError as exc:
        where = "/".join(str(p) for p in exc.path)
        return {"schema": _error(f"不是有效的 JSON Schema（{where or '根'}）：{exc.message}",
                                 f"Not a valid JSON Schema (at {where or 'the root'}): {exc.message}")}
    properties = schema.get("properties")
    if schema.get("type") != "object" or not isinstance(properties, dict) or not properties:
        return {"schema": _error("表单的 JSON Schema 须为 \"type\": \"object\"，且至少有一个字段（properties）。",
                                 "A form's JSON Schema must be \"type\": \"object\" with at least one field "
                                 "(properties).")}
    errors: dict[str, dict[str, str]] = {}
    if not isinstance(ui_schema, dict):
        return {"ui_schema": _error("UI Schema 必须是对象。", "The UI schema must be an object.")}
    for field_name, field_schema in properties.items():
        hints = ui_schema.get(field_name, {})
        problem = _field_problem(field_name, field_schema, hints if isinstance(hints, dict) else {})
        if problem:
            errors[f"schema.{field_name}"] = problem
    for key, hints in ui_schema.items():
        if key == "ui:order":
            if not isinstance(hints, list) or not all(isinstance(n, str) for n in hints):
                errors["ui_schema.ui:order"] = _error("ui:order 必须是字段名列表。",
                                                      "ui:order must be a list of field names.")
        elif key not in properties:
            errors[f"ui_schema.{key}"] = _error(f"UI Schema 提到了表单中没有的字段 {key}。",
                                                f"The UI schema names {key}, which is not a field of the form.")
        elif not isinstance(hints, dict):
            errors[f"ui_schema.{key}"] = _error(f"字段 {key} 的 UI 设置必须是对象。",
                                                f"The UI settings of field {key} must be an object.")
        elif problem := _widget_problem(key, properties[key], hints):
            errors[f"ui_schema.{key}"] = problem
        elif _is_table(properties[key]):
            columns = properties[key]["items"].get("properties", {})
            for column, column_hints in (hints.get("items") or {}).items():
                label = f"{key}.{column}"
                if column == "ui:order":
                    continue
                if column not in columns or not isinstance(column_hints, dict):
                    errors[f"ui_schema.{label}"] = _error(f"UI Schema 提到了表格中没有的列 {label}。",
                                                          f"The UI schema names {label}, which is not a column.")
                elif problem := _widget_problem(label, columns[column], column_hints):
                    errors[f"ui_schema.{label}"] = problem
    return errors


def _is_table(schema: dict[str, Any]) -> bool:
    items = schema.get("items")
    return schema.get("type") == "array" and isinstance(items, dict) and items.get("type") == "object"


def _field_problem(name: str, schema: Any, hints: dict[str, Any]) -> dict[str, str] | None:
    if not FIELD_PATTERN.fullmatch(name):
        return _error(f"字段名 {name} 只能含字母、数字和下划线，且不以数字开头。",
                      f"Field name {name} may hold only letters, digits and underscores, not starting with a digit.")
    if not isinstance(schema, dict):
        return _error(f"字段 {name} 的定义必须是对象。", f"The definition of field {name} must be an object.")
    kind = schema.get("type")
    if kind in SCALAR_TYPES:
        return None
    if kind == "array":
        items = schema.get("items")
        if not isinstance(items, dict):
            return _error(f"列表字段 {name} 需要 items。", f"List field {name} needs items.")
        if "enum" in items or hints.get("ui:widget") == FILE_WIDGET:
            return None
        if items.get("type") == "object":
            columns = items.get("properties")
            if not isinstance(columns, dict) or not columns:
                return _error(f"表格字段 {name} 至少需要一列。", f"Table field {name} needs at least one column.")
            for column, sub in columns.items():
                scalar = isinstance(sub, dict) and sub.get("type") in SCALAR_TYPES
                if not FIELD_PATTERN.fullmatch(column) or not scalar:
                    return _error(f"表格 {name} 的列 {column} 必须是文本、数字或是否字段。",
                                  f"Column {column} of table {name} must be a text, number or yes/no field.")
            return None
        return _error(f"列表字段 {name} 须有选项（items.enum）、是附件（ui:widget file）或是表格（items 为对象）。",
                      f"List field {name} must have options (items.enum), be a file field (ui:widget file) "
                      "or be a table (items of type object).")
    return _error(f"字段 {name} 的类型 {kind!r} 无法显示；可用 string、integer、number、boolean、array。",
                  f"Field {name} has type {kind!r}, which the task pages cannot show; use string, integer, "
                  "number, boolean or array.")


def _widget_problem(name: str, schema: Any, hints: dict[str, Any]) -> dict[str, str] | None:
    widget = hints.get("ui:widget")
    if widget is None or not isinstance(schema, dict):
        return None
    known = "、".join(WIDGETS)
    if widget not in WIDGETS:
        return _error(f"字段 {name} 的控件 {widget!r} 不受支持（可用：{known}）。",
                      f"Field {name} asks for widget {widget!r}, which is not supported (use one of "
                      f"{', '.join(WIDGETS)}).")
    fits = WIDGETS[widget]
    kind = schema.get("type")
    items: dict[str, Any] = schema["items"] if isinstance(schema.get("items"), dict) else {}
    ok = {"string": kind == "string" and (widget != "textarea" or "enum" not in schema),
          "enum": "enum" in schema,
          "options": kind == "array" and "enum" in items,
          "files": kind == "array" and items.get("type") == "integer"}[fits]
    if ok:
        return None
    zh, en = _FITS[fits]
    if widget in PICKER_WIDGETS and kind != "string":
        zh, en = "文本字段（保存用户名或单位代码）", "text fields (holding a user name or an organisation code)"
    return _error(f"字段 {name} 不能使用控件 {widget}：它只用于{zh}。",
                  f"Field {name} cannot use widget {widget}: it is only for {en}.")
