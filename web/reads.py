"""Recording who read a clue — the one helper every page and API endpoint that shows a clue calls."""

from __future__ import annotations

from collections.abc import Sequence

from flask import g, request

from engine import cases, ledgers
from models import Clue, ProcessInstance

from .db import SAFE_METHODS, ctx, db, writing


def record_clue_reads(clues: Sequence[Clue], via: str) -> None:
    """Append ``clue_viewed`` for each clue, committed before the response leaves.

    A reading request's session is read-only, so the record goes through its own short
    transaction; a form post (say, one re-shown with errors) records on its own session, which
    already holds SQLite's write lock — a second writer would only wait behind it.
    """
    if not clues:
        return
    now = ctx().clock.now()
    if request.method in SAFE_METHODS:
        with writing() as session:
            ledgers.record_clue_reads(session, g.actor, clues, via, now)
        return
    ledgers.record_clue_reads(db(), g.actor, clues, via, now)
    db().commit()


def record_case_read(instance: ProcessInstance, via: str) -> None:
    """A clue case's pages, data and history carry the clue itself: reading them reads the clue."""
    if clue := cases.clue_of(db(), instance):
        record_clue_reads([clue], via)
