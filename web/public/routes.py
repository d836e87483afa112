"""公开信息: what the public may read without logging in — announced rounds with their contact
channels, and published rectification results. Nothing else: never clues, never case details."""

from __future__ import annotations

from dataclasses import dataclass

from flask import Blueprint, render_template
from sqlalchemy import select

from engine.cases import RECTIFICATION_PROCESS
from engine.runtime import instance_data
from models import Inspection, InstanceStatus, ProcessInstance, Round

from ..db import ctx, db

bp = Blueprint("public", __name__, template_folder="templates")


@dataclass
class PublishedResult:
    unit_name: str
    public_text: str
    completed_at: object


def _published_results() -> list[PublishedResult]:
    """Completed rectifications whose 整改公开 step chose to publish, with the approved text only."""
    instances = db().execute(
        select(ProcessInstance).where(ProcessInstance.case_kind == "rectification",
                                      ProcessInstance.process_key == RECTIFICATION_PROCESS,
                                      ProcessInstance.status == InstanceStatus.COMPLETED)
        .order_by(ProcessInstance.completed_at.desc())).scalars()
    results = []
    for instance in instances:
        data = instance_data(db(), ctx(), instance)
        if data.get("publish") is True and data.get("public_text"):
            results.append(PublishedResult(str(data.get("unit_name", "")), str(data["public_text"]),
                                           instance.completed_at))
    return results


@bp.route("/public")
def index() -> str:
    announced = db().execute(
        select(Inspection).join(Round, Round.id == Inspection.round_id).where(Inspection.announced.is_(True))
        .order_by(Round.year.desc(), Round.number.desc(), Inspection.id)).scalars().all()
    return render_template("public/index.html", announced=announced, results=_published_results())
