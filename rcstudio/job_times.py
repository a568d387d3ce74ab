"""When a job really started and ended, as the job itself saw it (not when a later command polled).

`rcstudio run-job` writes `logs/job-times.json` in the run dir at its start (`started_at`) and end
(`ended_at`, with the outcome); every attempt (resubmit, requeue) starts the record afresh. The
poller copies these times into the registry for local jobs; Slurm jobs take sacct's Start/End. A job
that Slurm reports CANCELLED but that recorded COMPLETED (the cancel came after its last step, and
it finished cleanly) is COMPLETED.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

TIMES_FILE = Path("logs") / "job-times.json"


def _write(run_dir: Path, data: dict) -> None:
    path = Path(run_dir) / TIMES_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_text(json.dumps(data))
    os.replace(tmp, path)  # readers never see half a file


def mark_start(run_dir: str | Path, t: float | None = None) -> None:
    """A new attempt began now (clears the previous attempt's end)."""
    _write(Path(run_dir), {"started_at": time.time() if t is None else t, "ended_at": None, "pid": os.getpid()})


def mark_end(run_dir: str | Path, outcome: str, t: float | None = None) -> None:
    """The attempt ended now with `outcome` (COMPLETED | FAILED | CANCELLED)."""
    prev = read_times(run_dir)
    start = prev[0] if prev else None
    _write(Path(run_dir), {"started_at": start, "ended_at": time.time() if t is None else t, "outcome": outcome})


def read_times(run_dir: str | Path, since: float | None = None) -> tuple[float | None, float | None] | None:
    """(started_at, ended_at) of the latest attempt, None when there is no record (or it started
    before `since`: an older attempt's record, read before the new attempt wrote its own)."""
    try:
        data = json.loads((Path(run_dir) / TIMES_FILE).read_text())
    except (OSError, ValueError):
        return None
    start, end = data.get("started_at"), data.get("ended_at")
    if not isinstance(start, (int, float)):
        return None
    if since is not None and start < since:
        return None
    return float(start), float(end) if isinstance(end, (int, float)) else None


def read_outcome(run_dir: str | Path, since: float | None = None) -> str | None:
    """The outcome the latest attempt recorded at its end (None while running / no record / older
    than `since`). A job cancelled after its last step finished records COMPLETED."""
    try:
        data = json.loads((Path(run_dir) / TIMES_FILE).read_text())
    except (OSError, ValueError):
        return None
    start = data.get("started_at")
    if since is not None and (not isinstance(start, (int, float)) or start < since):
        return None
    outcome = data.get("outcome")
    return outcome if data.get("ended_at") is not None and isinstance(outcome, str) else None
