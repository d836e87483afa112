"""Domain errors. Each carries a machine code, an HTTP-ish status, and a message in zh_CN and English.

The web layer maps these to responses in one place; the engine never formats HTTP itself.
"""

from __future__ import annotations

from typing import Any


class XunchaError(Exception):
    code = "error"
    status = 400

    def __init__(self, message_zh: str, message_en: str, details: dict[str, Any] | None = None):
        super().__init__(message_en)
        self.message_zh = message_zh
        self.message_en = message_en
        self.details = details or {}

    def message(self, locale: str = "zh_CN") -> str:
        return self.message_en if locale.startswith("en") else self.message_zh


class InvalidInput(XunchaError):
    code = "invalid_input"
    status = 400


class AuthenticationFailed(XunchaError):
    code = "authentication_failed"
    status = 401


class TooManyAttempts(XunchaError):
    """Logging in is refused for a while (too many wrong passwords); ``details['retry_after_seconds']``."""

    code = "too_many_attempts"
    status = 429


class NotPermitted(XunchaError):
    code = "not_permitted"
    status = 403


class NotFound(XunchaError):
    """Also raised for rows the actor may not know exist (confidentiality: never 403 for those)."""

    code = "not_found"
    status = 404


class Conflict(XunchaError):
    code = "conflict"
    status = 409


class TaskAlreadyClaimed(Conflict):
    code = "task_already_claimed"


class TaskNotClaimedByYou(Conflict):
    code = "task_not_claimed_by_you"


class TaskNotActive(Conflict):
    code = "task_not_active"


class DelegationPending(Conflict):
    """The task is with a delegate: they resolve it back; only its owner completes it."""

    code = "delegation_pending"


class ReturnNotAllowed(Conflict):
    """The diagram declares no 退回 for this step (no ``returnWith``)."""

    code = "return_not_allowed"


class StaleState(Conflict):
    code = "stale_state"


class TooLarge(XunchaError):
    """More than the system keeps in one piece (a draft's data, an upload)."""

    code = "too_large"
    status = 413


class DefinitionInvalid(XunchaError):
    """``details['problems']`` lists ``{"element_id", "message_zh", "message_en", "severity"}``."""

    code = "definition_invalid"
    status = 422


class FormInvalid(XunchaError):
    """``details['fields']`` maps a field path to its zh_CN/English messages."""

    code = "form_invalid"
    status = 422


class EngineFailure(XunchaError):
    """The diagram itself failed while running (bad expression, missing data)."""

    code = "engine_failure"
    status = 422


class SandboxRefused(EngineFailure):
    """The script sandbox stopped a condition, script or timer expression of the diagram (too long,
    too large, too deep, or reaching for something it may not); ``details``: element_id, kind."""

    code = "script_refused"


class FileRefused(XunchaError):
    """An upload of a type we do not accept, or whose content does not match its name;
    ``details`` name the file, the reason and the allowed extensions."""

    code = "file_refused"
    status = 422


class RowsInvalid(XunchaError):
    """A table of rows (an entry grid, pasted rows, an imported sheet) with bad rows; nothing was saved.
    ``details['rows']`` lists ``{"row", "column", "message_zh", "message_en"}``."""

    code = "rows_invalid"
    status = 422


class UnsupportedType(XunchaError):
    """An upload of a kind this endpoint does not take at all (say, a .csv where an .xlsx is expected)."""

    code = "unsupported_type"
    status = 415


class ServiceUnavailable(XunchaError):
    """Something the server needs is missing (say, the Chinese fonts reports are set in); nothing was written."""

    code = "service_unavailable"
    status = 503
