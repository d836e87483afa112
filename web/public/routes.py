"""公开信息: what the public may read without logging in — the publications the office has explicitly
published (巡察公告 with their contact channels, 整改公开 results) and not withdrawn. Nothing is read from
cases here: only a Publication row's own fields reach this page (engine.disclosure)."""

from __future__ import annotations

from flask import Blueprint, render_template, request

from engine import disclosure
from models import PublicationKind

from ..db import db
from ..params import page_number

bp = Blueprint("public", __name__, template_folder="templates")

KINDS = {PublicationKind.ANNOUNCEMENT: ("巡察公告", "Inspection announcements"),
         PublicationKind.RECTIFICATION: ("整改情况公开", "Rectification results")}


@bp.route("/public")
def index() -> str:
    kind = request.args.get("kind")
    kind = kind if kind in KINDS else None
    listing = disclosure.public_page(db(), kind=kind, page=page_number(request.args.get("page")), per_page=20)
    return render_template("public/index.html", listing=listing, kinds=KINDS, kind=kind)
