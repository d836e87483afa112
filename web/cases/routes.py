"""Case pages: the list of cases one may see, and one case with its ledger rows, where it stands
and its history."""

from __future__ import annotations

from flask import Blueprint, g, render_template, request
from flask_babel import gettext as _
from sqlalchemy import select

from engine import audit, cases, projection, runtime
from engine.errors import InvalidInput
from models import RectificationItem, User

from .. import display
from ..auth.routes import login_required
from ..db import db
from ..params import page_number
from ..reads import record_clue_reads
from .queries import CASE_KINDS, event_summary, list_cases

bp = Blueprint("cases", __name__, template_folder="templates")


@bp.route("/cases")
@login_required
def index() -> str:
    kind = request.args.get("kind", "rectification")
    if kind not in CASE_KINDS:
        raise InvalidInput(f"未知的案件类别：{kind}", f"Unknown case kind: {kind}", {"kind": kind})
    listing = list_cases(db(), g.actor, kind, page_number(request.args.get("page")))
    return render_template("cases/index.html", kind=kind, kinds=CASE_KINDS, listing=listing)


@bp.route("/cases/<int:instance_id>")
@login_required
def show(instance_id: int) -> str:
    session = db()
    instance = runtime.get_instance(session, g.actor, instance_id)
    items = None
    if clue := cases.clue_of(session, instance):
        record_clue_reads([clue], "case_page")
    elif instance.case_kind == "rectification":
        items = list(session.execute(select(RectificationItem).where(RectificationItem.instance_id == instance.id)
                                     .order_by(RectificationItem.number, RectificationItem.id)).scalars())
    open_tasks = projection.open_tasks(session, instance.id)
    events = audit.stream_events(session, instance.id)
    actor_ids = {e.actor_id for e in events if e.actor_id}
    names = dict(session.execute(select(User.id, User.display_name).where(User.id.in_(actor_ids))).all())
    history = [(event, names.get(event.actor_id or 0, event.actor_name or _("系统")), event_summary(event))
               for event in events]
    return render_template("cases/show.html", instance=instance, clue=clue, items=items, open_tasks=open_tasks,
                           holders=display.holders(session, open_tasks), history=history)


from . import diagram  # noqa: E402,F401  (the 流程图 routes, on this blueprint)
