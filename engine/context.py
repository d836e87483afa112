"""What the engine needs from its surroundings, passed explicitly (no globals, no Flask)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from .clock import Clock, SystemClock
from .forms import FormStore
from .mail import LogMailer, Mailer

DEFAULT_WORKFLOWS_DIR = Path(__file__).resolve().parent.parent / "workflows"
DEFAULT_ATTACHMENTS_DIR = Path(__file__).resolve().parent.parent / "instance" / "attachments"
DEFAULT_MAX_UPLOAD_BYTES = 20 * 1024 * 1024


@dataclass
class EngineContext:
    forms: FormStore
    clock: Clock = field(default_factory=SystemClock)
    workflows_dir: Path = DEFAULT_WORKFLOWS_DIR
    attachments_dir: Path = DEFAULT_ATTACHMENTS_DIR  # evidence files, by sha256 (engine.filestore)
    max_upload_bytes: int = DEFAULT_MAX_UPLOAD_BYTES
    mailer: Mailer = field(default_factory=LogMailer)

    @classmethod
    def default(cls, workflows_dir: Path | None = None, clock: Clock | None = None,
                attachments_dir: Path | None = None) -> EngineContext:
        directory = workflows_dir or DEFAULT_WORKFLOWS_DIR
        return cls(forms=FormStore(directory / "forms"), clock=clock or SystemClock(), workflows_dir=directory,
                   attachments_dir=attachments_dir or DEFAULT_ATTACHMENTS_DIR)
