"""Progress inside a run: a small file the job rewrites, read by `submit --wait` and the TUI.

`run_dir/logs/progress.json` (one JSON object, replaced atomically):

    {"phase": "train", "step": 3, "total": 10, "unit": "step",
     "items": 48, "items_unit": "rollouts", "rate": 1.7, "rate_unit": "rollouts/s",
     "started_at": 1790000000.0, "updated_at": 1790000042.5, "message": "reward/total=0.41",
     "done": false}

`step`/`total` count the job's own units (optimizer steps, judged items, scored pairs); `items`
counts the work items behind them (rollouts, items) and `rate` is items (else steps) per second
since `started_at`. Any job calls `Progress(run_dir, total, ...)` and `.update(step)`; at most every
`print_every_s` an update also appends one `progress: ...` line to the job log (`logs/run-job.log`,
what `rcstudio logs` and the TUI show first) and to stderr (stdout stays free for `run-job --json`).
Readers use `read_progress(run_dir)`; W&B history is their fallback.
"""

from __future__ import annotations

import json
import os
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

PROGRESS_FILE = "logs/progress.json"
JOB_LOG = "run-job.log"  # rcstudio.engines.dispatch.JOB_LOG


@dataclass
class ProgressState:
    """One snapshot of a job's progress (the file's content)."""

    phase: str = ""
    step: int = 0
    total: int | None = None
    unit: str = "step"
    items: int | None = None
    items_unit: str = ""
    rate: float | None = None
    rate_unit: str = ""
    started_at: float = 0.0
    updated_at: float = 0.0
    message: str = ""
    done: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def fraction(self) -> float | None:
        return min(1.0, self.step / self.total) if self.total else None

    def elapsed(self, now: float | None = None) -> float:
        end = self.updated_at if self.done else (now if now is not None else time.time())
        return max(0.0, end - self.started_at) if self.started_at else 0.0

    def eta(self, now: float | None = None) -> float | None:
        """Seconds left at the average pace so far; None before the first step or without a total."""
        if not self.total or self.step <= 0 or self.done:
            return None
        spent = max(1e-9, self.updated_at - self.started_at)
        return max(0.0, spent / self.step * (self.total - self.step))

    def line(self, now: float | None = None) -> str:
        """`train step 3/10 (30%)  48 rollouts  1.70 rollouts/s  elapsed 0:42  eta 1:38`."""
        parts = [f"{self.phase + ' ' if self.phase else ''}{self.unit} {self.step}"
                 + (f"/{self.total} ({100 * (self.fraction or 0):.0f}%)" if self.total else "")]
        if self.items is not None:
            parts.append(f"{self.items} {self.items_unit or 'items'}")
        if self.rate is not None:
            parts.append(f"{self.rate:.2f} {self.rate_unit or self.unit + '/s'}")
        parts.append(f"elapsed {clock(self.elapsed(now))}")
        eta = self.eta(now)
        if eta is not None:
            parts.append(f"eta {clock(eta)}")
        if self.done:
            parts.append("done")
        if self.message:
            parts.append(self.message)
        return "  ".join(parts)


def clock(seconds: float) -> str:
    seconds = int(seconds)
    hours, rest = divmod(seconds, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60}:{rest % 60:02d}"


def progress_path(run_dir: str | Path) -> Path:
    return Path(run_dir) / PROGRESS_FILE


def read_progress(run_dir: str | Path) -> ProgressState | None:
    """The job's last written progress; None when it wrote none (or the file is unreadable)."""
    try:
        doc = json.loads(progress_path(run_dir).read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(doc, dict):
        return None
    known = {k: doc[k] for k in ProgressState.__dataclass_fields__ if k in doc}
    try:
        return ProgressState(**known)
    except TypeError:
        return None


class Progress:
    """Writer a job holds: `update(step, items=..., message=...)`, `finish()`.

    Writes are atomic (temp file + rename) and throttled to one per `write_every_s` (the last
    update and `finish()` always land), so a tight loop costs nothing.
    """

    def __init__(self, run_dir: str | Path, total: int | None, phase: str = "", unit: str = "step",
                 items_unit: str = "", write_every_s: float = 0.5, print_every_s: float = 15.0,
                 stream: Any = None, clock_fn: Any = time.time) -> None:
        self.path = progress_path(run_dir)
        self.job_log = Path(run_dir) / "logs" / JOB_LOG
        self.clock = clock_fn
        now = clock_fn()
        self.state = ProgressState(phase=phase, total=total, unit=unit, items_unit=items_unit,
                                   started_at=now, updated_at=now)
        self.write_every_s = write_every_s
        self.print_every_s = print_every_s
        self.stream = stream if stream is not None else sys.stderr
        self._written = 0.0
        self._printed = 0.0
        self._write()

    def update(self, step: int, items: int | None = None, message: str = "", total: int | None = None,
               force: bool = False) -> ProgressState:
        now = self.clock()
        st = self.state
        st.step, st.updated_at = int(step), now
        if total is not None:
            st.total = total
        if items is not None:
            st.items = int(items)
        if message:
            st.message = message
        spent = now - st.started_at
        if spent > 0:
            count = st.items if st.items is not None else st.step
            st.rate = count / spent
            st.rate_unit = f"{st.items_unit or 'items'}/s" if st.items is not None else f"{st.unit}/s"
        if force or now - self._written >= self.write_every_s or (st.total and st.step >= st.total):
            self._write()
        if self.print_every_s >= 0 and (force or now - self._printed >= self.print_every_s
                                         or (st.total and st.step >= st.total)):
            self._printed = now
            self._say(f"progress: {st.line(now)}")
        return st

    def _say(self, line: str) -> None:
        """One line to stderr and the job log (advisory: never fails the job)."""
        try:
            print(line, file=self.stream, flush=True)
        except (OSError, ValueError):
            pass
        try:
            stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(self.clock()))
            with self.job_log.open("a", encoding="utf-8") as fh:
                fh.write(f"{stamp} INFO {line}\n")
        except OSError:
            pass

    def finish(self, message: str = "") -> None:
        self.state.done = True
        self.update(self.state.step, message=message, force=True)

    def _write(self) -> None:
        self._written = self.clock()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
            tmp.write_text(json.dumps(asdict(self.state), sort_keys=True))
            os.replace(tmp, self.path)
        except OSError:
            pass  # progress is advisory: a full disk must not fail the job
