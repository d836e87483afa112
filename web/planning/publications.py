"""公开发布: the office's list of publications, the prefilled form to publish a 巡察公告 or a 整改公开
(confirmed before it goes out), and withdrawing one with a reason (engine.disclosure)."""

from __future__ import annotations

from flask import g, render_template, request, url_for
from flask_babel import gettext as _
from werkzeug.wrappers import Response

from engine import disclosure
from engine.errors import InvalidInput
from engine.permissions import allows
from models import Organisation, PublicationKind, User

from ..auth.routes import login_required, permission_required
from ..db import ctx, db
from ..params import page_number
from .routes import bp, step

KINDS = {PublicationKind.ANNOUNCEMENT: ("巡察公告", "Inspection announcement"),
         PublicationKind.RECTIFICATION: ("整改公开", "Rectification result")}
FIELDS = ("title", "body", "period_start", "period_end", "contact_phone", "contact_mailbox", "contact_address")


def _kind(raw: str | None) -> str:
    if raw not in KINDS:
        raise InvalidInput("公开类型须为 announcement 或 rectification。",
                           "The kind must be announcement or rectification.", {"kind": raw})
    return raw


def _source(raw: str | None) -> int:
    if not raw or not raw.isdigit():
        raise InvalidInput("缺少公开来源（巡察对象或整改案件）。", "Say what is published (inspection or case).")
    return int(raw)


@bp.route("/publications")
@permission_required("publication", "read")
def publications() -> str:
    kind = request.args.get("kind") or None
    listing = disclosure.office_page(db(), g.actor, kind=kind if kind in KINDS else None,
                                     page=page_number(request.args.get("page")))
    ids = {p.published_by_id for p in listing.items} | {p.withdrawn_by_id for p in listing.items}
    names = {u.id: u.display_name for u in db().query(User).filter(User.id.in_(ids - {None}))}
    units = {o.id: o.name for o in db().query(Organisation).filter(
        Organisation.id.in_({p.unit_id for p in listing.items} - {None}))}
    editable = {p.id: _may_withdraw(p.scope_org_id) for p in listing.items}
    return render_template("planning/publications.html", listing=listing, kinds=KINDS, kind=kind, names=names,
                           units=units, editable=editable)


def _may_withdraw(org_id: int) -> bool:
    org = db().get(Organisation, org_id)
    return org is not None and allows(g.actor, "publication", "publish", org.path)


@bp.route("/publications/new")
@login_required
def new_publication() -> str:
    kind, source = _kind(request.args.get("kind")), _source(request.args.get("source"))
    if kind == PublicationKind.ANNOUNCEMENT:
        draft = disclosure.announcement_draft(db(), g.actor, source)
    else:
        draft = disclosure.rectification_draft(db(), g.actor, source)
    return render_template("planning/publish.html", draft=draft, kind=kind, source=source, kinds=KINDS)


@bp.post("/publications")
@login_required
def publish() -> Response:
    kind, source = _kind(request.form.get("kind")), _source(request.form.get("source"))
    values = {name: request.form.get(name, "") for name in FIELDS if name in request.form}
    return step(lambda: disclosure.publish(db(), ctx(), g.actor, kind=kind, source_id=source, values=values),
                _('已发布，公众可在“公开信息”页面看到。'),
                url_for("planning.publications"))


@bp.post("/publications/<int:publication_id>/withdraw")
@login_required
def withdraw_publication(publication_id: int) -> Response:
    return step(lambda: disclosure.withdraw(db(), ctx(), g.actor, publication_id, request.form.get("reason", "")),
                _('已撤回，公开页面不再显示。'),
                url_for("planning.publications"))
