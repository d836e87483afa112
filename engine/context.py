"""What the engine needs from its surroundings, passed explicitly (no globals, no Flask)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from .clock import Clock, SystemClock
from .forms import FormStore

DEFAULT_WORKFLOWS_DIR = Path(__file__).resolve().parent.parent / "workflows"


@dataclass
class EngineContext:
    forms: FormStore
    clock: Clock = field(default_factory=SystemClock)
    workflows_dir: Path = DEFAULT_WORKFLOWS_DIR

    @classmethod
    def default(cls, workflows_dir: Path | None = None, clock: Clock | None = None) -> EngineContext:
        directory = workflows_dir or DEFAULT_WORKFLOWS_DIR
        return cls(forms=FormStore(directory / "forms"), clock=clock or SystemClock(), workflows_dir=directory)
