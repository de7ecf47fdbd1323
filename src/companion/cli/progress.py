"""Progress for long work: a transient status line on a terminal, nothing at all otherwise.

    with reporter(sys.stderr.isatty()) as progress:
        result = pipeline.build(project, formats, edition, progress=progress)

`progress(stage)` starts a stage ("load", "render print", "lay out PDF", ...); `progress.item(name,
done, total)` reports one step inside it (a chapter being rendered). On a terminal the line is
redrawn in place by rich and erased when the block ends, so only results and errors stay on screen;
when stderr is not a terminal (a pipe, a file, CI) the reporter writes nothing.
"""

from __future__ import annotations

import sys
import time
from types import TracebackType
from typing import IO

from rich.console import Console
from rich.markup import escape
from rich.status import Status


class Reporter:
    """Callable as `Progress` (`reporter("stage")`); a context manager that clears the line at the end."""

    def __init__(self, enabled: bool, file: IO[str] | None = None) -> None:
        self.enabled = enabled
        self.stage = ""
        self.started = time.monotonic()
        self._console = (
            Console(file=file or sys.stderr, stderr=file is None, force_terminal=True) if enabled else None
        )
        self._status: Status | None = None

    def __call__(self, stage: str) -> None:
        self.stage = stage
        self._show(f"{stage}…")

    def item(self, name: str, done: int, total: int) -> None:
        """One step of the current stage, e.g. the chapter being rendered (`done` counts from 1)."""
        prefix = f"{self.stage}: " if self.stage else ""
        self._show(f"{prefix}{done}/{total} {name}")

    def bar(self, done: int, total: int, seconds_left: float) -> None:
        """Progress through a long count (sentences narrated): a bar, the count and the time left."""
        width = 24
        filled = round(width * done / total) if total else width
        minutes, seconds = divmod(round(seconds_left), 60)
        left = f"{minutes} min {seconds:02d} s" if minutes else f"{seconds} s"
        prefix = f"{self.stage}: " if self.stage else ""
        self._show(f"{prefix}{'━' * filled}{'╌' * (width - filled)} {done}/{total} sentences, {left} left")

    def _show(self, text: str) -> None:
        if self._console is None:
            return
        elapsed = time.monotonic() - self.started
        line = f"{escape(text)} [dim]{elapsed:.1f} s[/dim]"
        if self._status is None:
            self._status = self._console.status(line, spinner="dots")
            self._status.start()
        else:
            self._status.update(line)

    def close(self) -> None:
        if self._status is not None:
            self._status.stop()
            self._status = None

    def __enter__(self) -> Reporter:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


def reporter(enabled: bool | None = None, file: IO[str] | None = None) -> Reporter:
    """A progress reporter; `enabled` defaults to whether stderr is a terminal."""
    if enabled is None:
        enabled = sys.stderr.isatty()
    return Reporter(enabled, file)
