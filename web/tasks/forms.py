"""Task forms as HTML: fields from a form's JSON Schema (and its ui hints), and the flat HTML
submission turned back into typed JSON for engine.forms.validate, the one validator.

Rows of an array of objects are named ``<field>-<index>-<column>``; the indices need not be
contiguous (a row removed in the browser leaves a gap), and a row left entirely empty is dropped.
Error messages are shown in the reader's language (``locale``); labels come from the schema as written.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from flask_babel import gettext as _
from werkzeug.datastructures import MultiDict

from engine.forms import FILE_WIDGET, PICKER_WIDGETS, Choices, Form

ROW_PLACEHOLDER = "__index__"  # replaced by forms.js when it clones the template row
RADIO_MAX_OPTIONS = 3
CHECKBOXES_MAX_OPTIONS = 8  # more options than this are a <select multiple>, unless the ui says checkboxes
_MISSING = object()


@dataclass
class Field:
    name: str  # the HTML input name
    path: str  # the path engine.forms reports errors under
    title: str
    description: str = ""
    required: bool = False
    # text textarea date integer number select radio checkbox pledge checkboxes multiselect user org file table
    widget: str = "text"
    value: Any = None
    options: list[str] = field(default_factory=list)
    choices: list[tuple[str, str]] = field(default_factory=list)  # user/org/file: (value, label)
    minimum: float | None = None  # integer/number: the schema's bounds, as input attributes
    maximum: float | None = None
    rows: int = 3
    error: str | None = None
    columns: list[Field] = field(default_factory=list)  # table: the template row
    table_rows: list[list[Field]] = field(default_factory=list)


@dataclass
class RenderedForm:
    fields: list[Field]
    general_errors: list[str]  # errors no field shows (e.g. on the form as a whole)
    has_errors: bool = False

    @property
    def multipart(self) -> bool:
        """A file field uploads with the form."""
        return any(f.widget == FILE_WIDGET for f in self.fields)


def _ordered(names: list[str], order: list[str] | None) -> list[str]:
    if not order:
        return names
    listed = [n for n in order if n in names]
    rest = [n for n in names if n not in listed]
    if "*" not in order:
        return listed + rest
    star = [n for n in order if n == "*" or n in names].index("*")
    return listed[:star] + rest + listed[star:]


def _is_table(schema: dict[str, Any]) -> bool:
    return schema.get("type") == "array" and schema.get("items", {}).get("type") == "object"


def _widget(schema: dict[str, Any], ui: dict[str, Any], in_table: bool) -> str:
    kind = schema.get("type")
    hint = ui.get("ui:widget")
    if _is_table(schema):
        return "table"
    if kind == "array" and ui.get("ui:widget") == FILE_WIDGET:
        return FILE_WIDGET
    if kind == "array" and "enum" in schema.get("items", {}):
        few = len(schema["items"]["enum"]) <= CHECKBOXES_MAX_OPTIONS
        if hint == "checkboxes" or (few and hint not in ("select", "multiselect")):
            return "checkboxes"
        return "multiselect"
    if kind == "string" and hint in PICKER_WIDGETS:
        return str(hint)
    if kind == "boolean":
        return "pledge" if schema.get("const") is True else "checkbox"
    if kind in ("integer", "number"):
        return str(kind)
    if "enum" in schema:
        few = ui.get("ui:widget") == "radio" or len(schema["enum"]) <= RADIO_MAX_OPTIONS
        return "radio" if few and not in_table else "select"
    if schema.get("format") == "date":
        return "date"
    return "textarea" if ui.get("ui:widget") == "textarea" else "text"


@dataclass
class _Context:
    """What every field of one rendering shares."""

    errors: dict[str, dict[str, str]]
    locale: str
    choices: Choices | None

    def message(self, path: str, *, with_items: bool = False) -> str | None:
        """The error at ``path`` in the reader's language; ``with_items`` also takes an error on one
        of its values (``sanctions.1``), which has no input of its own."""
        error = self.errors.get(path)
        if error is None and with_items:
            error = next((e for p, e in self.errors.items() if p.startswith(f"{path}.")), None)
        return localised(error, self.locale) if error else None

    def picks(self, widget: str, ui: dict[str, Any], value: Any) -> list[tuple[str, str]]:
        """The picker's options; a value that is not among them is kept (shown with its error)."""
        found = self.choices.options(widget, ui.get("ui:options", {})) if self.choices is not None else []
        picks = [(c.value, c.label) for c in found]
        if isinstance(value, str) and value and value not in {v for v, _ in picks}:
            picks.append((value, value))
        return picks


def localised(error: dict[str, str], locale: str) -> str:
    """One entry of FormInvalid's ``details["fields"]`` in the reader's language."""
    return error["message_en"] if locale.startswith("en") else error["message_zh"]


def _field(name: str, path: str, schema: dict[str, Any], ui: dict[str, Any], required: bool, value: Any,
           context: _Context, in_table: bool = False) -> Field:
    widget = _widget(schema, ui, in_table)
    options = schema.get("enum") or schema.get("items", {}).get("enum") or []
    return Field(name=name, path=path, title=str(schema.get("title", name)),
                 description=str(schema.get("description", "")), required=required, widget=widget,
                 value=value, options=[str(o) for o in options], rows=int(ui.get("ui:options", {}).get("rows", 3)),
                 error=context.message(path, with_items=widget in ("checkboxes", "multiselect", FILE_WIDGET)),
                 choices=context.picks(widget, ui, value) if widget in PICKER_WIDGETS else [],
                 minimum=schema.get("minimum"), maximum=schema.get("maximum"))


def _table(name: str, schema: dict[str, Any], ui: dict[str, Any], required: bool, rows: Any,
           context: _Context) -> Field:
    table = _field(name, name, schema, ui, required, None, context)
    item_schema = schema["items"]
    item_ui = ui.get("items", {})
    properties = item_schema.get("properties", {})
    needed = set(item_schema.get("required", []))
    columns = _ordered(list(properties), item_ui.get("ui:order"))

    def row(index: Any, values: dict[str, Any]) -> list[Field]:
        return [_field(f"{name}-{index}-{col}", f"{name}.{index}.{col}", properties[col], item_ui.get(col, {}),
                       col in needed, values.get(col), context, in_table=True) for col in columns]

    table.columns = row(ROW_PLACEHOLDER, {})
    values = [r for r in rows if isinstance(r, dict)] if isinstance(rows, list) else []
    table.table_rows = [row(i, r) for i, r in enumerate(values or [{}])]
    return table


def render_fields(form: Form, data: dict[str, Any], errors: dict[str, dict[str, str]] | None = None, *,
                  locale: str = "zh_CN", choices: Choices | None = None,
                  attachments: Sequence[tuple[int, str]] = ()) -> RenderedForm:
    """The form's fields in display order, each with its value (or schema default) and its error in
    the reader's ``locale``; user and organisation pickers offer ``choices`` (the case's), file
    fields the case's ``attachments`` (id, name) to tick."""
    errors = errors or {}
    context = _Context(errors, locale, choices)
    properties = form.schema.get("properties", {})
    required = set(form.schema.get("required", []))
    fields = []
    for name in _ordered(list(properties), form.ui.get("ui:order")):
        schema, ui = properties[name], form.ui.get(name, {})
        value = data.get(name, schema.get("default"))
        if _is_table(schema):
            fields.append(_table(name, schema, ui, name in required, value, context))
        else:
            fields.append(_field(name, name, schema, ui, name in required, value, context))
    for f in fields:
        if f.widget == FILE_WIDGET:
            f.choices = [(str(i), label) for i, label in attachments]
    shown = {f.path for f in fields} | {c.path for f in fields for row in f.table_rows for c in row}
    choice_lists = {f.path for f in fields if f.widget in ("checkboxes", "multiselect", FILE_WIDGET)}
    general = [localised(e, locale) if path == "_form"
               else _("%(name)s：%(value)s", name=path, value=localised(e, locale))
               for path, e in errors.items()
               if path not in shown and path.split(".")[0] not in choice_lists]
    return RenderedForm(fields, general, bool(errors))


def _scalar(schema: dict[str, Any], raw: str | None) -> Any:
    """One input's text as the schema's type; text that does not convert is kept for the validator
    to reject (so the user sees their input again with the error)."""
    kind = schema.get("type")
    if kind == "boolean":
        return raw is not None
    text = (raw or "").strip()
    if not text:
        return _MISSING
    try:
        if kind == "integer":
            return int(text)
        if kind == "number":
            number = int(text) if re.fullmatch(r"-?\d+", text) else float(text)
            return number if math.isfinite(number) else text  # "nan", "inf" are no amounts
    except ValueError:
        return text
    return text.replace("\r\n", "\n")


def _rows(name: str, schema: dict[str, Any], formdata: MultiDict[str, str]) -> list[dict[str, Any]]:
    pattern = re.compile(rf"^{re.escape(name)}-(\d+)-")
    indices = sorted({int(m.group(1)) for key in formdata if (m := pattern.match(key))})
    properties = schema["items"].get("properties", {})
    rows = []
    for index in indices:
        row = {col: _scalar(sub, formdata.get(f"{name}-{index}-{col}")) for col, sub in properties.items()}
        row = {col: value for col, value in row.items() if value is not _MISSING}
        if any(value is not False for value in row.values()):
            rows.append(row)
    return rows


def parse_submission(form: Form, formdata: MultiDict[str, str]) -> dict[str, Any]:
    """The submitted HTML form as the JSON the form's schema describes. Empty optional inputs are
    left out rather than sent as "", and inputs the schema does not name are ignored."""
    data: dict[str, Any] = {}
    for name, schema in form.schema.get("properties", {}).items():
        value: Any
        if _is_table(schema):
            value = _rows(name, schema, formdata) or _MISSING
        elif schema.get("type") == "array":
            item = schema.get("items", {})
            value = [_scalar(item, v) if item.get("type") == "integer" else v
                     for v in formdata.getlist(name) if v] or _MISSING
        else:
            value = _scalar(schema, formdata.get(name))
        if value is not _MISSING:
            data[name] = value
    return data


def add_row(data: dict[str, Any], form: Form, name: str) -> dict[str, Any]:
    """The data with one more empty row in table ``name`` (the no-JavaScript "增加一行")."""
    schema = form.schema.get("properties", {}).get(name)
    if schema is None or not _is_table(schema):
        return data
    rows = data.get(name) or [{}]
    return {**data, name: [*rows, {}]}
