"""Progress a person can follow: rich bars on a terminal, plain lines in a log.

Piped to a file or a CI log, rich's live display shows nothing until the end, so a
training run of twenty minutes looked hung. There each stage, epoch and candidate is
one line with the time since the run began, and a long step (chunks read, rows spilled)
says how far it got at most every ``QUIET_SECONDS``.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field
from typing import Any, TextIO

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

QUIET_SECONDS = 15.0
STAGES = 10
"""A step of at most this many parts is a run's stages: every change of what it is doing is a line."""


@dataclass
class _Step:
    description: str
    total: float | None
    completed: float = 0
    status: str = ""
    said: float = field(default_factory=time.monotonic)


class Lines:
    """The part of rich's ``Progress`` that training uses (``add_task``, ``update``), as one line per step."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream
        self.started = time.monotonic()
        self.steps: dict[int, _Step] = {}

    def __enter__(self) -> Lines:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def _say(self, step: _Step) -> None:
        elapsed = int(time.monotonic() - self.started)
        count = f" {step.completed:g}/{step.total:g}" if step.total else ""
        line = f"[{elapsed // 60:d}:{elapsed % 60:02d}] {step.description}{count}" + (f": {step.status}" if step.status else "")
        stream = self.stream or sys.stdout
        stream.write(line + "\n")
        stream.flush()
        step.said = time.monotonic()

    def add_task(self, description: str, total: float | None = None, status: str = "", **_: Any) -> int:
        key = len(self.steps)
        self.steps[key] = step = _Step(description, total, status=status)
        self._say(step)
        return key

    def update(self, task_id: int, *, advance: float | None = None, total: float | None = None, completed: float | None = None,
               status: str | None = None, description: str | None = None, **_: Any) -> None:
        step = self.steps[task_id]
        moved = advance is not None or completed is not None
        step.total = total if total is not None else step.total
        step.completed = completed if completed is not None else step.completed + (advance or 0)
        step.description = description or step.description
        changed = status is not None and status != step.status
        step.status = status if status is not None else step.status
        done = step.total is not None and step.completed >= step.total
        stage = step.total is not None and step.total <= STAGES  # a run's few stages say each change; a long step, how far it got
        if moved or done or (changed and (stage or time.monotonic() - step.said >= QUIET_SECONDS)):
            self._say(step)


def new_progress(quiet: bool, terminal: bool | None = None) -> Progress | Lines:
    """Bars on a terminal, lines when output goes to a file or a log (``terminal`` overrides the check), nothing when ``quiet``."""
    if not quiet and not (sys.stdout.isatty() if terminal is None else terminal):
        return Lines()
    return Progress(
        TextColumn("[bold]{task.description:<12}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
        TextColumn("{task.fields[status]}"), disable=quiet,
    )
