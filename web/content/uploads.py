"""File fields of task forms (``"ui:widget": "file"``): the case's files to tick, and new files that
upload with the form.

Files chosen in the form are stored and committed before the form itself is checked, so that a
mistake elsewhere in the form does not make the person upload them again: they are the case's
evidence from then on (audited, withdrawable) and come back ticked on the re-shown form.
"""

from __future__ import annotations

from typing import Any

from flask import g, request

from engine import content
from engine.errors import FileRefused, TooLarge
from engine.forms import Form, file_fields
from models import HumanTask

from ..db import ctx, db

UPLOAD_SUFFIX = "__upload"  # the file input beside a file field's ticks: "<field>__upload"


def evidence_choices(task: HumanTask, form: Form) -> list[tuple[int, str]]:
    """(id, name) of the case's files that a file field may pick (none asked unless the form has one)."""
    if not file_fields(form):
        return []
    return [(a.id, a.filename) for a in content.list_attachments(db(), g.actor, task.instance_id)
            if a.removed_at is None]


def attach_form_uploads(task: HumanTask, form: Form, data: dict[str, Any]
                        ) -> tuple[dict[str, dict[str, str]], int]:
    """Store the files chosen in each file field and add their ids to the field's value in ``data``.
    Returns the errors per field of files refused (nothing of that field is kept), and the status
    to answer with: 413 when a file was too large, else 422."""
    errors: dict[str, dict[str, str]] = {}
    status = 422
    for name in file_fields(form):
        uploads = [f for f in request.files.getlist(name + UPLOAD_SUFFIX) if f.filename]
        if not uploads:
            continue
        try:
            ids = [content.store_attachment(db(), ctx(), g.actor, task.instance_id, upload.filename, upload.stream,
                                            task_id=task.id).id for upload in uploads]
        except (TooLarge, FileRefused) as refused:
            db().rollback()
            errors[name] = {"message_zh": refused.message_zh, "message_en": refused.message_en}
            status = 413 if isinstance(refused, TooLarge) else status
            continue
        db().commit()
        current = data.get(name) if isinstance(data.get(name), list) else []
        data[name] = [*current, *(i for i in ids if i not in current)]
    return errors, status
