"""Progress bars for the long commands (import, export, audit verify, retention run), drawn with rich.

The use cases report through ``services.bulk.Progress``; this draws what they report on stderr, so a
command's result on stdout stays clean for a script. Nothing is drawn when stderr is not a terminal
(a cron job's mail, a CI log), nor, for a command whose result is a report, when stdout is not one.
"""

from __future__ import annotations

import sys

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn

__all__ = ["Bars", "bars"]


class Bars:
    """The service's progress as rich tasks: one bar per phase."""

    def __init__(self, progress: Progress) -> None:
        self._progress = progress
        self._task: TaskID | None = None
        self._open_ended = False

    def start(self, phase: str, total: int | None) -> None:
        if self._task is not None:
            if self._open_ended:  # a phase of unknown length leaves no bar behind
                self._progress.remove_task(self._task)
            else:
                self._progress.stop_task(self._task)
        self._task = self._progress.add_task(phase, total=total)
        self._open_ended = total is None

    def advance(self, count: int = 1) -> None:
        if self._task is not None:
            self._progress.advance(self._task, count)


def bars(console: Console | None = None, *, reporting: bool = False) -> Progress:
    """Bars on ``console`` (stderr by default); ``reporting``: quiet too when stdout is redirected."""
    console = console or Console(stderr=True)
    quiet = not console.is_terminal or (reporting and not sys.stdout.isatty())
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        disable=quiet,
    )
