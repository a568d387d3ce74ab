"""Progress on stderr for commands that work for a while (`score`, `eval`, `decompose`).

`phases(enabled)` yields a `Phases` object: `with ph.step("loading MiniLM")` shows a spinner with
the elapsed time, `ph.bar(description, total)` a bar a callback can advance. Nothing is shown when
disabled (`--json`) or when stderr is not a terminal, so logs and pipes stay clean; stdout is never
touched.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Iterator
from typing import Any


class Phases:
    def __init__(self, progress: Any) -> None:
        self.progress = progress

    @contextlib.contextmanager
    def step(self, description: str) -> Iterator[None]:
        """A spinner while the block runs (a phase whose length is unknown)."""
        if self.progress is None:
            yield
            return
        task = self.progress.add_task(description, total=None)
        try:
            yield
        finally:
            self.progress.update(task, total=1, completed=1)

    @contextlib.contextmanager
    def bar(self, description: str, total: int | None = None) -> Iterator[Callable[[int, int | None], None]]:
        """A bar; the block gets `advance(done, total)` to move it (from any thread)."""
        if self.progress is None:
            yield lambda done, total=None: None
            return
        task = self.progress.add_task(description, total=total)

        def advance(done: int, new_total: int | None = None) -> None:
            self.progress.update(task, completed=done, **({"total": new_total} if new_total else {}))

        try:
            yield advance
        finally:
            current = self.progress.tasks[-1] if self.progress.tasks else None
            if current is not None and current.total:
                self.progress.update(task, completed=current.total)


@contextlib.contextmanager
def phases(enabled: bool = True) -> Iterator[Phases]:
    if not enabled or not sys.stderr.isatty():
        yield Phases(None)
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    with Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TimeElapsedColumn(), console=Console(stderr=True), transient=True) as progress:
        yield Phases(progress)
