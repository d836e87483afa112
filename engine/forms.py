"""Task forms: JSON Schemas from ``workflows/forms/`` or stored in the form library (``name@version``),
and the one validator HTML and API both use."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Collection, Iterator, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, Protocol

from jsonschema import Draft202012Validator, FormatChecker
from jsonschema.exceptions import SchemaError, ValidationError

from .errors import FormInvalid, InvalidInput, NotFound

GENERIC_FORM_KEY = "generic"

# The form a user task gets when its diagram names none: a comment and evidence files (attachment ids).
GENERIC_SCHEMA: dict[str, Any] = {
    "title": "办理",
    "type": "object",
    "properties": {
        "comment": {"type": "string", "title": "办理意见", "maxLength": 5000},
        "attachments": {"type": "array", "title": "附件", "items": {"type": "integer"}, "uniqueItems": True},
    },
    "required": [],
}
GENERIC_UI: dict[str, Any] = {"comment": {"ui:widget": "textarea"}, "attachments": {"ui:widget": "file"}}

# String fields whose value must be one of the case's people ("user": a user name) or organisations
# ("org": an organisation code). Which ones is the case's business, not the schema's: see Choices.
PICKER_WIDGETS = ("user", "org")


@dataclass(frozen=True)
class Choice:
    value: str  # what is stored: a user name, an organisation code
    label: str  # what people read: a display name, an organisation name


class Choices(Protocol):
    """What a picker field of one case offers and accepts (engine.pickers.CaseChoices reads it from
    the database). ``hints`` are the field's ``ui:options``, e.g. ``{"group": "receiving_body"}``."""

    def options(self, widget: str, hints: Mapping[str, Any]) -> list[Choice]: ...

    def exists(self, widget: str, value: str) -> bool: ...


@dataclass(frozen=True)
class Form:
    key: str
    schema: dict[str, Any]
    ui: dict[str, Any] = field(default_factory=dict)

    @property
    def title(self) -> str:
        return str(self.schema.get("title", self.key))

    def field_names(self) -> list[str]:
        return list(self.schema.get("properties", {}))

    @cached_property
    def validator(self) -> Draft202012Validator:
        return Draft202012Validator(self.schema, format_checker=FormatChecker())

    def field_ui(self, name: str, column: str | None = None) -> dict[str, Any]:
        """The ui hints of a field, or of a column of a table field."""
        hints = self.ui.get(name, {})
        hints = hints.get("items", {}).get(column, {}) if column is not None else hints
        return hints if isinstance(hints, dict) else {}

    def picker(self, name: str, column: str | None = None) -> str | None:
        """"user" or "org" when the field (or table column) is a picker, else None."""
        widget = self.field_ui(name, column).get("ui:widget")
        return widget if widget in PICKER_WIDGETS else None


# Reads one stored form version (engine.form_library.stored_form_loader), None when there is none.
StoredFormLoader = Callable[[str, int], Form | None]
FILE_SUFFIX = ".schema.json"


def stored_key(key: str) -> tuple[str, int] | None:
    """``(name, version)`` of a stored form's key ``name@version``; None for anything else (a file name)."""
    name, at, version = key.partition("@")
    if not at or not name or not version.isdigit() or int(version) < 1:
        return None
    return name, int(version)


class FormStore:
    """Forms by key: files read once and kept (``reload()`` after editing files on disk), and stored
    versions ``name@version`` read through the attached loader. Stored versions never change, so
    they are kept for the life of the process."""

    def __init__(self, directory: Path, loader: StoredFormLoader | None = None):
        self.directory = Path(directory)
        self._loader = loader
        self._cache: dict[str, Form] = {}
        self._lock = threading.Lock()

    def attach(self, loader: StoredFormLoader) -> None:
        """Read stored forms with ``loader`` (set up with the database where the app is built)."""
        with self._lock:
            self._loader = loader
            self._cache = {k: f for k, f in self._cache.items() if stored_key(k) is None}

    def file_keys(self) -> list[str]:
        """The shipped form files, by name."""
        return sorted(p.name for p in self.directory.glob(f"*{FILE_SUFFIX}") if _safe_name(p.name))

    def exists(self, key: str | None) -> bool:
        if key is None or key == GENERIC_FORM_KEY:
            return True
        if "@" in key:
            return self._stored(key) is not None
        return _safe_name(key) and (self.directory / key).is_file()

    def get(self, key: str | None) -> Form:
        if key is None or key == GENERIC_FORM_KEY:
            return Form(GENERIC_FORM_KEY, GENERIC_SCHEMA, GENERIC_UI)
        if "@" in key:
            stored = self._stored(key)
            if stored is None:
                raise NotFound(f"表单 {key} 不存在。", f"Form {key} does not exist.", {"form": key})
            return stored
        with self._lock:
            form = self._cache.get(key)
        if form is None:
            form = self._load(key)
            with self._lock:
                self._cache[key] = form
        return form

    def reload(self) -> None:
        with self._lock:
            self._cache.clear()

    def _stored(self, key: str) -> Form | None:
        parsed = stored_key(key)
        if parsed is None or self._loader is None:
            return None
        with self._lock:
            form = self._cache.get(key)
        if form is None:
            form = self._loader(*parsed)
            if form is not None:  # a missing version may be saved later: only what exists is kept
                with self._lock:
                    self._cache[key] = form
        return form

    def _load(self, key: str) -> Form:
        if not _safe_name(key):
            raise InvalidInput("表单名称无效。", "Invalid form name.", {"form": key})
        path = self.directory / key
        if not path.is_file():
            return Form(GENERIC_FORM_KEY, GENERIC_SCHEMA, GENERIC_UI)
        try:
            schema = json.loads(path.read_text(encoding="utf-8"))
            Draft202012Validator.check_schema(schema)
        except (ValueError, SchemaError) as exc:
            raise InvalidInput(f"表单 {key} 不是有效的 JSON Schema：{exc}",
                               f"Form {key} is not a valid JSON Schema: {exc}", {"form": key}) from exc
        ui_path = path.with_name(path.name.replace(FILE_SUFFIX, ".uischema.json"))
        ui = json.loads(ui_path.read_text(encoding="utf-8")) if ui_path != path and ui_path.is_file() else {}
        return Form(key, schema, ui)


def _safe_name(key: str) -> bool:
    """A plain file name inside the forms folder, never a path out of it."""
    return bool(key) and "/" not in key and "\\" not in key and not key.startswith(".")


_MESSAGES: dict[str, tuple[str, str]] = {
    "required": ("此项为必填项。", "This field is required."),
    "type": ("格式不正确。", "Wrong type of value."),
    "enum": ("请从列出的选项中选择。", "Choose one of the listed options."),
    "const": ("必须确认此项。", "This must be confirmed."),
    "minLength": ("内容太短。", "Too short."),
    "maxLength": ("内容太长。", "Too long."),
    "minItems": ("至少需要填写一项。", "At least one entry is needed."),
    "maxItems": ("填写的条目过多。", "Too many entries."),
    "uniqueItems": ("选项不能重复。", "An option is chosen twice."),
    "format": ("格式不正确。", "Wrong format."),
    "minimum": ("数值太小。", "Value too small."),
    "maximum": ("数值太大。", "Value too large."),
    "pattern": ("格式不符合要求。", "Does not match the required pattern."),
    "additionalProperties": ("包含表单中没有的字段。", "Contains fields the form does not have."),
}
# Text that did not convert to what the field holds: say what is expected, not just "wrong".
_TYPE_MESSAGES: dict[str, tuple[str, str]] = {
    "integer": ("请输入整数。", "Enter a whole number."),
    "number": ("请输入数字。", "Enter a number."),
    "boolean": ("请勾选或不勾选此项。", "Tick the box or leave it empty."),
    "array": ("请选择一项或多项。", "Choose one or more options."),
}
_FORMAT_MESSAGES: dict[str, tuple[str, str]] = {
    "date": ("请输入有效日期（格式为 YYYY-MM-DD）。", "Enter a valid date (YYYY-MM-DD)."),
    "date-time": ("请输入有效的日期和时间。", "Enter a valid date and time."),
    "email": ("请输入有效的电子邮件地址。", "Enter a valid e-mail address."),
}


def _message(error: ValidationError) -> tuple[str, str]:
    if error.validator == "type" and isinstance(error.validator_value, str):
        return _TYPE_MESSAGES.get(error.validator_value, _MESSAGES["type"])
    if error.validator == "format":
        return _FORMAT_MESSAGES.get(str(error.validator_value), _MESSAGES["format"])
    return _MESSAGES.get(str(error.validator), ("内容不符合要求。", "Invalid value."))


def _field_path(error: ValidationError) -> str:
    path = [str(p) for p in error.absolute_path]
    if error.validator == "required":
        missing = error.message.split("'")[1] if "'" in error.message else ""
        path.append(missing)
    return ".".join(p for p in path if p) or "_form"


def _picked(form: Form, data: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any], Any]]:
    """(error path, widget, ui:options, value) of every picker value in the data, table cells included."""
    for name, schema in form.schema.get("properties", {}).items():
        value = data.get(name)
        if widget := form.picker(name):
            yield name, widget, form.field_ui(name).get("ui:options", {}), value
        elif schema.get("type") == "array" and isinstance(value, list):
            for column in schema.get("items", {}).get("properties", {}):
                if column_widget := form.picker(name, column):
                    hints = form.field_ui(name, column).get("ui:options", {})
                    for index, row in enumerate(value):
                        if isinstance(row, dict):
                            yield f"{name}.{index}.{column}", column_widget, hints, row.get(column)


_PICK_MESSAGES: dict[str, tuple[tuple[str, str], tuple[str, str]]] = {  # (does not exist, may not be chosen)
    "user": (("用户 {v} 不存在。", "User {v} does not exist."),
             ("{v} 不在本案可选的人员之中。", "{v} is not among the people you may choose for this case.")),
    "org": (("单位 {v} 不存在。", "Organisation {v} does not exist."),
            ("不能在此选择单位 {v}。", "Organisation {v} cannot be chosen here.")),
}


def _check_picks(form: Form, data: dict[str, Any], choices: Choices, fields: dict[str, dict[str, str]]) -> None:
    allowed: dict[tuple[str, str], set[str]] = {}
    for path, widget, hints, value in _picked(form, data):
        if path in fields or not isinstance(value, str) or not value:
            continue  # absent, or already wrong for the schema
        key = (widget, json.dumps(hints, sort_keys=True, default=str))
        if key not in allowed:
            allowed[key] = {c.value for c in choices.options(widget, hints)}
        if value in allowed[key]:
            continue
        missing, refused = _PICK_MESSAGES[widget]
        zh, en = missing if not choices.exists(widget, value) else refused
        fields[path] = {"message_zh": zh.format(v=value), "message_en": en.format(v=value)}


FILE_WIDGET = "file"
# Which of these attachment ids are live files of the case the form is for.
AttachmentLookup = Callable[[Collection[int]], set[int]]


def file_fields(form: Form) -> list[str]:
    """Fields holding evidence attachments: ``"ui:widget": "file"``, a list of attachment ids."""
    return [name for name in form.field_names()
            if isinstance(hints := form.ui.get(name), dict) and hints.get("ui:widget") == FILE_WIDGET]


def _check_attachments(form: Form, data: dict[str, Any], attachments: AttachmentLookup | None,
                       fields: dict[str, dict[str, str]]) -> None:
    for name in file_fields(form):
        value = data.get(name)
        if name in fields or not isinstance(value, list):
            continue  # absent, or already wrong for the schema
        ids = [v for v in value if isinstance(v, int) and not isinstance(v, bool)]
        unknown = sorted(set(ids) - (attachments(ids) if attachments is not None and ids else set()))
        if unknown:
            listed = "、".join(map(str, unknown))
            fields[name] = {"message_zh": f"附件 {listed} 不属于本案件或已撤回。",
                            "message_en": f"Attachment(s) {', '.join(map(str, unknown))} are not files of this "
                                          "case, or were withdrawn."}


def validate(form: Form, data: dict[str, Any], choices: Choices | None = None,
             attachments: AttachmentLookup | None = None) -> dict[str, Any]:
    """Check ``data`` against the form; return only the form's own fields.

    Unknown keys are refused rather than dropped: a client that sends them has misunderstood the
    form, and silently ignoring input is how data gets lost. Picker fields (``"ui:widget": "user"``
    or ``"org"``) must name one of ``choices``; whoever completes a task passes the case's
    (engine.pickers.CaseChoices). Without ``choices`` only the schema is checked. File fields
    (``"ui:widget": "file"``) hold attachment ids, which ``attachments`` must know as live files of
    the task's case (engine.content.evidence_lookup); without it no id is accepted.
    """
    fields = _unknown(form, data)
    for error in sorted(form.validator.iter_errors(data), key=lambda e: list(e.absolute_path)):
        path = _field_path(error)
        if path in fields:
            continue
        zh, en = _message(error)
        fields[path] = {"message_zh": zh, "message_en": en}
    if choices is not None:
        _check_picks(form, data, choices, fields)
    _check_attachments(form, data, attachments, fields)
    _raise_if(fields)
    return {k: v for k, v in data.items() if k in form.field_names()}


def check_known_fields(form: Form, data: dict[str, Any]) -> None:
    """Refuse keys the form does not have — all a draft is checked for, the rest may be unfinished."""
    _raise_if(_unknown(form, data))


def _unknown(form: Form, data: dict[str, Any]) -> dict[str, dict[str, str]]:
    if not isinstance(data, dict):
        raise InvalidInput("表单数据必须是对象。", "Form data must be a JSON object.")
    return {key: {"message_zh": f"未知字段：{key}。", "message_en": f"Unknown field: {key}."}
            for key in sorted(set(data) - set(form.field_names()))}


def _raise_if(fields: dict[str, dict[str, str]]) -> None:
    if fields:
        raise FormInvalid("表单有错误，请修改后再提交。", "The form has errors; correct them and submit again.",
                          {"fields": fields})
