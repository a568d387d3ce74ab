"""Progress a user can see while a long local job runs: done/total, items per second, ETA.

Why: a live eval on a small CPU model ran 41 minutes without one line in `run-job.log`. A
`Progress` reporter counts finished items and, at most every `interval_s` (and at the end):
* appends `progress <what>: 12/60 (20%), 0.31 gen/s, ETA 2m35s` to the run's `logs/run-job.log`
  (same line format as the job's own log) and prints it on stdout, which is the run's
  `logs/stdout.log`, so `rcstudio logs RUN --follow` shows it;
* in an interactive terminal, drives a rich bar on stderr instead of printing lines;
* with a `run_dir`, keeps the run's `logs/progress.json` (rcstudio.tracking.progress) current, which
  the dashboard's run header and `submit --wait` read.
`format_line` is pure (tested); the rest is I/O at the edge.
"""

from __future__ import annotations

import logging
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TextIO

_FORMATTER = logging.Formatter("%(asctime)s %(levelname)s %(message)s")


def format_eta(seconds: float | None) -> str:
    if seconds is None:
        return "?"
    seconds = round(seconds)
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes:02d}m"
    return f"{minutes}m{secs:02d}s" if minutes else f"{secs}s"


def format_line(what: str, done: int, total: int, elapsed_s: float, unit: str = "gen", fresh: int | None = None) -> str:
    """`progress judgebench: 12/60 (20%), 0.31 gen/s, ETA 2m35s`. The rate counts `fresh` items (those
    done by this process, default all `done`) over `elapsed_s`; resumed items are done but not timed."""
    fresh = done if fresh is None else fresh
    rate = fresh / elapsed_s if elapsed_s > 0 and fresh else 0.0
    eta = 0.0 if done >= total else ((total - done) / rate if rate > 0 else None)
    pct = 100.0 * done / total if total else 100.0
    return f"progress {what}: {done}/{total} ({pct:.0f}%), {rate:.2f} {unit}/s, ETA {format_eta(eta)}"


def append_log_line(path: Path, message: str) -> None:
    """One INFO line appended to a job log, formatted like the job's own logger writes them."""
    record = logging.LogRecord("rcstudio.progress", logging.INFO, __file__, 0, message, None, None)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as fh:
        fh.write(_FORMATTER.format(record) + "\n")


class Progress:
    """Counts finished items of one task list (thread-safe) and reports as described above.

    `already` items (resumed from an earlier run) count as done but not toward the rate.
    """

    def __init__(self, what: str, total: int, *, log_path: Path | None = None, already: int = 0,
                 interval_s: float = 10.0, unit: str = "gen", bar: bool | None = None,
                 stream: TextIO | None = None, clock: Callable[[], float] = time.monotonic,
                 run_dir: Path | None = None) -> None:
        self.what, self.total, self.unit = what, total, unit
        self.log_path = Path(log_path) if log_path else None
        self.already = self.done = already
        self.interval_s = interval_s
        self.stream = stream if stream is not None else sys.stdout
        self.clock = clock
        self.started = clock()
        self._last = self.started
        self._lock = threading.Lock()
        interactive = sys.stderr.isatty() if bar is None else bar
        self._bar: Any = None
        self._task: Any = None
        if interactive:
            from rich.console import Console
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                TextColumn,
                TimeRemainingColumn,
            )
            from rich.progress import Progress as RichProgress

            self._bar = RichProgress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                                     TextColumn("{task.fields[rate]}"), TimeRemainingColumn(),
                                     console=Console(stderr=True))
            self._task = self._bar.add_task(what, total=total, completed=already, rate="")
            self._bar.start()
        self._file: Any = None
        if run_dir is not None:
            from rcstudio.tracking.progress import Progress as ProgressFile

            # lines are this class's job (print_every_s=-1); the file carries the numbers
            self._file = ProgressFile(run_dir, total, phase=what, unit=unit, items_unit=f"{unit}s",
                                      print_every_s=-1)
            self._file.update(already, items=0)

    def line(self) -> str:
        return format_line(self.what, self.done, self.total, self.clock() - self.started, self.unit,
                           fresh=self.done - self.already)

    def _emit(self) -> None:
        text = self.line()
        if self.log_path is not None:
            append_log_line(self.log_path, text)
        if self._bar is None:
            self.stream.write(text + "\n")
            self.stream.flush()

    def advance(self, n: int = 1) -> None:
        with self._lock:
            self.done += n
            now = self.clock()
            if self._bar is not None:
                elapsed = now - self.started
                rate = (self.done - self.already) / elapsed if elapsed > 0 else 0.0
                self._bar.update(self._task, completed=self.done, rate=f"{rate:.2f} {self.unit}/s")
            if self._file is not None:
                self._file.update(self.done, items=self.done - self.already)  # throttled writes
            if now - self._last >= self.interval_s or self.done >= self.total:
                self._last = now
                if self.log_path is not None or self._bar is None:
                    self._emit()

    def start(self) -> None:
        """Say the work began (so a long first batch is not silent)."""
        with self._lock:
            msg = f"progress {self.what}: started, {self.total - self.done} to do" + (
                f" ({self.done} resumed)" if self.done else "")
            if self.log_path is not None:
                append_log_line(self.log_path, msg)
            if self._bar is None:
                self.stream.write(msg + "\n")
                self.stream.flush()

    def close(self) -> None:
        if self._file is not None:
            if self.done >= self.total:
                self._file.finish()
            else:
                self._file.update(self.done, items=self.done - self.already, force=True)
            self._file = None
        if self._bar is not None:
            self._bar.stop()
            self._bar = None
