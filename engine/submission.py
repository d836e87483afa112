"""The one check of submitted task-form data, for completing and for resolving a delegated task:
the form's schema, the case's people and organisations for pickers, its live attachments for files."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from models import HumanTask, ProcessInstance

from .content import evidence_lookup
from .context import EngineContext
from .forms import validate
from .pickers import CaseChoices


def validate_submission(session: Session, ctx: EngineContext, task: HumanTask, instance: ProcessInstance,
                        data: dict[str, Any]) -> dict[str, Any]:
    return validate(ctx.forms.get(task.form_key), data, CaseChoices(session, instance),
                    attachments=evidence_lookup(session, instance.id))
