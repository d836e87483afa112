"""The ``Idempotency-Key`` header on the API's changing requests (POST, PUT, PATCH, DELETE).

A client that did not hear the answer (timeout, dropped connection) sends the same request again with
the same key and gets the first answer — stored status and body, header ``Idempotent-Replay: true`` —
without the change being made twice. The same key on a different request is a 422; a key that is not
1–128 printable ASCII characters is a 400. Records are per user (engine/idempotency.py).

How the record joins the change's transaction: while a request holds a key, its session is a
:class:`HeldSession`, whose ``commit()`` (called by the view as usual) only flushes. After the view
answered 2xx, :func:`finish` stores the answer and commits once, change and record together; any other
answer rolls everything back (nothing is recorded, the client may retry). A commit that fails is
answered like any database failure (503, nothing changed).
"""

from __future__ import annotations

import hashlib
import json
from typing import IO

from flask import current_app, g, request
from sqlalchemy.orm import Session
from werkzeug.wrappers import Response

from engine import idempotency

from ..db import sessions

HEADER = "Idempotency-Key"
REPLAY_HEADER = "Idempotent-Replay"
CHANGING_METHODS = ("POST", "PUT", "PATCH", "DELETE")
# Endpoints that ignore the header: getting a token (no user yet), a migration run (it commits case by
# case in transactions of its own; the run is the record to look up), and the calendar's days (setting or
# removing a day is idempotent by nature, and the in-process calendar reloads right after the commit).
IGNORED_ENDPOINTS = frozenset({"api.create_token", "api.create_migration", "api.put_day", "api.delete_day"})


class HeldSession(Session):
    """The request's session while its Idempotency-Key is held: the view's ``commit()`` flushes only, so
    that the key's record and the change commit together in :func:`finish`."""

    def commit(self) -> None:
        self.flush()

    def commit_with_record(self) -> None:
        super().commit()


def _applies() -> bool:
    return (request.method in CHANGING_METHODS and HEADER in request.headers
            and request.endpoint not in IGNORED_ENDPOINTS)


def hold_session() -> None:
    """Before authentication (which opens the request's session): give the request a held session."""
    if _applies() and "db" not in g:
        g.db = HeldSession(**sessions().kw)


def _body() -> bytes:
    """The request's body as it matters: for a multipart upload its fields and files (name, filename,
    content digest) — a client's retry draws a new random boundary, which must not make it another request."""
    if request.mimetype != "multipart/form-data":
        return request.get_data()
    # A malformed part may come without a name: compare as text, so such a request is refused by the view
    # (400/422) rather than failing here.
    fields = sorted((str(name), str(value)) for name, value in request.form.items(multi=True))
    files = sorted((str(name), upload.filename or "", _digest(upload.stream))
                   for name, upload in request.files.items(multi=True))
    return json.dumps({"fields": fields, "files": files}, ensure_ascii=False).encode()


def _digest(stream: IO[bytes]) -> str:
    digest = hashlib.sha256()
    while chunk := stream.read(1 << 16):
        digest.update(chunk)
    stream.seek(0)  # the view reads the upload again
    return digest.hexdigest()


def begin() -> Response | None:
    """After authentication: replay the stored answer, refuse a reused key, or hold the key's record."""
    if not _applies() or g.get("actor") is None:
        return None
    session = g.db
    fingerprint = idempotency.request_hash(request.method, request.full_path.rstrip("?"), _body())
    outcome = idempotency.begin(session, g.actor.user_id, request.headers[HEADER], request.method,
                                request.path, fingerprint)
    if isinstance(outcome, idempotency.Replay):
        session.rollback()
        replay = Response(outcome.body or None, status=outcome.status_code,
                          mimetype="application/json" if outcome.body else None)
        replay.headers[REPLAY_HEADER] = "true"
        return replay
    g.idempotency_record = outcome
    return None


def finish(response: Response) -> Response:
    """After the view: a 2xx answer is stored and committed with the change; anything else rolls back."""
    record = g.pop("idempotency_record", None)
    if record is None:
        return response
    session: HeldSession = g.db
    if not 200 <= response.status_code < 300:
        session.rollback()
        return response
    try:
        idempotency.settle(session, record, response.status_code, response.get_data(as_text=True))
        session.commit_with_record()
    except Exception as error:  # answered by the one error mapping (web/errors.py): 503, 500 …
        session.rollback()
        failed: Response = current_app.make_response(current_app.handle_user_exception(error))
        return failed
    return response

