"""Thin, batched calls to the Slurm command line: sbatch, sacct/squeue, scancel, sinfo.

State queries take many job ids and make one `sacct` call (plus one `squeue` call only for ids
sacct does not know yet, e.g. seconds after submission); parsing is pure and tested on its own.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections import defaultdict
from collections.abc import Iterable, Sequence
from pathlib import Path

from rcstudio.errors import JobFailed
from rcstudio.launch.jobs import combine_states, normalize_slurm_state

TIMEOUT_S = 60


class SlurmError(JobFailed):
    """sbatch/scancel refused (exit code 1: the cluster said no, not the user's spec)."""


def _run(argv: list[str], cwd: str | Path | None = None, timeout: float = TIMEOUT_S) -> subprocess.CompletedProcess:
    try:
        return subprocess.run(argv, cwd=cwd, capture_output=True, text=True, timeout=timeout, check=False)
    except FileNotFoundError as exc:
        raise SlurmError(f"{argv[0]} is not installed or not on PATH") from exc
    except subprocess.TimeoutExpired as exc:
        raise SlurmError(f"{argv[0]} did not answer within {timeout:.0f}s") from exc


def controller_answers(timeout: float = 5.0) -> bool:
    """True when sbatch is on PATH and slurmctld answers `sinfo`."""
    if shutil.which("sbatch") is None or shutil.which("sinfo") is None:
        return False
    try:
        proc = subprocess.run(["sinfo", "-h", "-o", "%P"], capture_output=True, text=True, timeout=timeout)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return proc.returncode == 0


def sbatch_script(script: str | Path, cwd: str | Path) -> str:
    """Submit a ready sbatch script (a hetjob); returns the job id."""
    proc = _run(["sbatch", "--parsable", str(script)], cwd=cwd)
    if proc.returncode != 0:
        raise SlurmError(f"sbatch {script} failed: {(proc.stderr or proc.stdout).strip()}")
    return checked_job_id(proc.stdout.strip().split(";")[0], f"sbatch --parsable {script}")


JOB_ID_RE = re.compile(r"\d{1,18}(_\d{1,9})?")


def checked_job_id(job_id: str, what: str) -> str:
    """A job id as Slurm prints it (`123`, or `123_4` for an array task); anything else is refused
    before it is recorded, since every later squeue/sacct/scancel call would use it."""
    job_id = str(job_id).strip()
    if not JOB_ID_RE.fullmatch(job_id):
        shown = job_id[:80].encode("unicode_escape").decode("ascii")
        raise SlurmError(f"{what} printed {shown!r}, which is not a Slurm job id; nothing was recorded "
                         "(is `sbatch` on PATH the real one?)")
    return job_id


def scancel(job_ids: Sequence[str]) -> None:
    if not job_ids:
        return
    proc = _run(["scancel", *job_ids])
    if proc.returncode != 0:
        raise SlurmError(f"scancel {' '.join(job_ids)} failed: {(proc.stderr or proc.stdout).strip()}")


def _expand_array(field: str) -> list[str]:
    """`12_[0-3,7%4]` -> 12_0 ... 12_3, 12_7; other ids unchanged."""
    match = re.fullmatch(r"(\d+)_\[([0-9,\-]+)(?:%\d+)?\]", field)
    if not match:
        return [field]
    base, spec = match.groups()
    out = []
    for part in spec.split(","):
        if "-" in part:
            lo, hi = part.split("-")
            out.extend(f"{base}_{i}" for i in range(int(lo), int(hi) + 1))
        elif part:
            out.append(f"{base}_{part}")
    return out


def parse_state_lines(lines: Iterable[str]) -> dict[str, str]:
    """`JobID|State` lines (sacct -P or squeue -o '%i|%T') -> {scheduler id: normalized state}.

    Hetjob components (`10+0`, `10+1`) are combined into `10`; job steps (`10.batch`) are skipped.
    """
    out: dict[str, str] = {}
    het: dict[str, list[str]] = defaultdict(list)
    for line in lines:
        line = line.strip()
        if not line or "|" not in line:
            continue
        job, state = line.split("|", 1)
        job = job.strip()
        if "." in job:
            continue
        norm = normalize_slurm_state(state)
        if "+" in job:
            base = job.split("+")[0]
            het[base].append(norm)
            out[job] = norm
            continue
        for jid in _expand_array(job):
            out[jid] = norm
    for base, parts in het.items():
        out[base] = combine_states(parts)
    return out


def _epoch(value: str) -> float | None:
    """sacct's `2026-11-30T15:20:54` (local time) -> epoch seconds; Unknown/None/empty -> None."""
    from datetime import datetime

    try:
        return datetime.fromisoformat(value.strip()).timestamp()
    except ValueError:
        return None


def parse_time_lines(lines: Iterable[str]) -> dict[str, tuple[float | None, float | None]]:
    """`JobID|Start|End` lines (sacct -X -P) -> {scheduler id: (start, end)} in epoch seconds.

    A hetjob's components (`10+0`, `10+1`) give `10` the earliest start and the latest end (None
    while any component runs); array ranges of pending tasks are expanded; steps are skipped.
    """
    out: dict[str, tuple[float | None, float | None]] = {}
    het: dict[str, list[tuple[float | None, float | None]]] = defaultdict(list)
    for line in lines:
        parts = line.strip().split("|")
        if len(parts) < 3 or "." in parts[0]:
            continue
        job, start, end = parts[0].strip(), _epoch(parts[1]), _epoch(parts[2])
        if "+" in job:
            het[job.split("+")[0]].append((start, end))
            continue
        for jid in _expand_array(job):
            out[jid] = (start, end)
    for base, comps in het.items():
        starts = [s for s, _ in comps if s is not None]
        ends = [e for _, e in comps]
        out[base] = (min(starts) if starts else None, None if any(e is None for e in ends) else max(ends))  # type: ignore[type-var]
    return out


def query_states(scheduler_ids: Sequence[str]) -> dict[str, str]:
    """States for ids like `123`, `123_4` (array task), `10` (hetjob): one sacct call, and one
    squeue call for the ids accounting has not recorded yet. Unknown ids are absent."""
    return query_jobs(scheduler_ids)[0]


def query_jobs(scheduler_ids: Sequence[str]) -> tuple[dict[str, str], dict[str, tuple[float | None, float | None]]]:
    """(states, (start, end) times) of the ids: the states as `query_states` says them, the times
    from the same sacct call (ids only squeue knows have none yet)."""
    wanted = list(dict.fromkeys(scheduler_ids))
    if not wanted:
        return {}, {}
    bases = sorted({i.split("_")[0].split("+")[0] for i in wanted}, key=int)
    found: dict[str, str] = {}
    times: dict[str, tuple[float | None, float | None]] = {}
    proc = _run(["sacct", "-X", "-n", "-P", "-o", "JobID,State,Start,End", "-j", ",".join(bases)])
    if proc.returncode == 0:
        rows = [line.strip().split("|") for line in proc.stdout.splitlines() if line.count("|") >= 3]
        found.update(parse_state_lines(f"{r[0]}|{r[1]}" for r in rows))
        times = parse_time_lines(f"{r[0]}|{r[2]}|{r[3]}" for r in rows)
    missing = [i for i in wanted if i not in found]
    if missing:
        mbases = sorted({i.split("_")[0] for i in missing}, key=int)
        proc = _run(["squeue", "-h", "-o", "%i|%T", "-j", ",".join(mbases)])
        if proc.returncode == 0:
            for key, value in parse_state_lines(proc.stdout.splitlines()).items():
                found.setdefault(key, value)
    return ({i: found[i] for i in wanted if i in found}, {i: times[i] for i in wanted if i in times})
