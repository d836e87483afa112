"""Task forms: JSON Schemas from ``workflows/forms/`` and the one validator HTML and API both use."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator, FormatChecker
from jsonschema.exceptions import SchemaError, ValidationError

from .errors import FormInvalid, InvalidInput

GENERIC_FORM_KEY = "generic"

# The form a user task gets when its diagram names none: a comment (evidence uploads come with issue 4).
GENERIC_SCHEMA: dict[str, Any] = {
    "title": "办理",
    "type": "object",
    "properties": {
        "comment": {"type": "string", "title": "办理意见", "maxLength": 5000},
    },
    "required": [],
}
GENERIC_UI: dict[str, Any] = {"comment": {"ui:widget": "textarea"}}


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


class FormStore:
    """Reads form files once and keeps them; ``reload()`` after editing files on disk."""

    def __init__(self, directory: Path):
        self.directory = Path(directory)
        self._cache: dict[str, Form] = {}
        self._lock = threading.Lock()

    def exists(self, key: str | None) -> bool:
        return key is None or key == GENERIC_FORM_KEY or (_safe_name(key) and (self.directory / key).is_file())

    def get(self, key: str | None) -> Form:
        if key is None or key == GENERIC_FORM_KEY:
            return Form(GENERIC_FORM_KEY, GENERIC_SCHEMA, GENERIC_UI)
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
        ui_path = path.with_name(path.name.replace(".schema.json", ".uischema.json"))
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
    "format": ("格式不正确（日期请用 YYYY-MM-DD）。", "Wrong format (dates are YYYY-MM-DD)."),
    "minimum": ("数值太小。", "Value too small."),
    "maximum": ("数值太大。", "Value too large."),
    "pattern": ("格式不符合要求。", "Does not match the required pattern."),
    "additionalProperties": ("包含表单中没有的字段。", "Contains fields the form does not have."),
}


def _field_path(error: ValidationError) -> str:
    path = [str(p) for p in error.absolute_path]
    if error.validator == "required":
        missing = error.message.split("'")[1] if "'" in error.message else ""
        path.append(missing)
    return ".".join(p for p in path if p) or "_form"


def validate(form: Form, data: dict[str, Any]) -> dict[str, Any]:
    """Check ``data`` against the form; return only the form's own fields.

    Unknown keys are refused rather than dropped: a client that sends them has misunderstood the
    form, and silently ignoring input is how data gets lost.
    """
    if not isinstance(data, dict):
        raise InvalidInput("表单数据必须是对象。", "Form data must be a JSON object.")
    allowed = set(form.field_names())
    unknown = sorted(set(data) - allowed)
    fields: dict[str, dict[str, str]] = {}
    for key in unknown:
        fields[key] = {"message_zh": f"未知字段：{key}。", "message_en": f"Unknown field: {key}."}
    for error in sorted(form.validator.iter_errors(data), key=lambda e: list(e.absolute_path)):
        path = _field_path(error)
        if path in fields:
            continue
        zh, en = _MESSAGES.get(str(error.validator), ("内容不符合要求。", "Invalid value."))
        fields[path] = {"message_zh": zh, "message_en": en}
    if fields:
        raise FormInvalid("表单有错误，请修改后再提交。", "The form has errors; correct them and submit again.",
                          {"fields": fields})
    return {k: v for k, v in data.items() if k in allowed}
