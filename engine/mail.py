"""The e-mail hook: what the scheduler hands committed notifications to. The default only logs;
a deployment plugs in SMTP or the government messaging gateway by providing another ``Mailer``."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Protocol

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Mail:
    to_username: str
    to_address: str | None
    subject: str
    body: str


class Mailer(Protocol):
    def send(self, mail: Mail) -> None: ...


class LogMailer:
    """The default: write each mail to the log (a deployment without a mail gateway loses nothing)."""

    def __init__(self) -> None:
        self.sent: list[Mail] = []

    def send(self, mail: Mail) -> None:
        self.sent.append(mail)
        log.info("mail to %s <%s>: %s", mail.to_username, mail.to_address or "-", mail.subject)
