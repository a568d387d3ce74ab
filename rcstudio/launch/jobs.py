"""What every executor shares: the job reference, the picklable command task, state names.

`CommandTask` is what submitit pickles for a command plan. It holds the argv, the working
directory and the log paths - never environment values: the job inherits its environment from the
scheduler at run time, so secrets (WANDB_API_KEY, OPENAI_API_KEY) stay out of every file.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the plan type only; importing it loads the spec models (slow for `ls`)
    from rcstudio.compile.plan import LaunchPlan


LOG_STDOUT = "stdout.log"
LOG_STDERR = "stderr.log"
LOCAL_STATE = "local.state"  # per-run state of a local sweep (logs/local.state)
PLAN_FILE = "launch.json"


@dataclass(frozen=True)
class JobRef:
    """Where one run went: `job_id` is the scheduler's id of the submission (the array's id for a
    sweep), `array_index` the task within it; `folder` is submitit's folder (to re-attach)."""

    job_id: str
    executor: str  # local | slurm
    mode: str  # single | array | hetjob | local
    array_index: int | None = None
    folder: str = ""
    stdout: str = ""
    stderr: str = ""

    @property
    def scheduler_id(self) -> str:
        return self.job_id if self.array_index is None else f"{self.job_id}_{self.array_index}"


def save_plan(run_dir: Path, plan: LaunchPlan) -> Path:
    """Keep the plan next to the compiled files so `resubmit` needs no recompilation."""
    path = Path(run_dir) / PLAN_FILE
    path.write_text(plan.to_json())
    return path


def load_plan(run_dir: Path) -> LaunchPlan:
    from rcstudio.compile.plan import LaunchPlan

    return LaunchPlan.from_json((Path(run_dir) / PLAN_FILE).read_text())


def time_to_minutes(text: str, default: int = 240) -> int:
    """Slurm time strings (`MM`, `MM:SS`, `HH:MM:SS`, `D-HH[:MM[:SS]]`) to whole minutes."""
    text = (text or "").strip()
    if not text:
        return default
    days = 0
    if "-" in text:
        d, text = text.split("-", 1)
        days = int(d)
        parts = [int(p) for p in text.split(":")] + [0, 0]
        h, m, s = parts[:3]
    else:
        parts = [int(p) for p in text.split(":")]
        if len(parts) == 1:
            h, m, s = 0, parts[0], 0
        elif len(parts) == 2:
            h, m, s = 0, parts[0], parts[1]
        else:
            h, m, s = parts[:3]
    return max(1, days * 1440 + h * 60 + m + (1 if s else 0))


def mem_to_gb(text: str) -> float | None:
    """`64G`, `512M`, `1T`, plain MB numbers -> GB (submitit's unit); '' -> None."""
    text = (text or "").strip().upper()
    if not text:
        return None
    match = re.fullmatch(r"(\d+(?:\.\d+)?)([KMGT]?)B?", text)
    if not match:
        raise ValueError(f"unreadable memory size {text!r}")
    value, unit = float(match.group(1)), match.group(2) or "M"
    return value * {"K": 1 / 1024**2, "M": 1 / 1024, "G": 1.0, "T": 1024.0}[unit]


class _Running:
    """Process groups of the commands running now, and whether the job was told to stop."""

    def __init__(self) -> None:
        self.groups: set[int] = set()
        self.stopped = False


CHECKPOINT_GRACE_S = 60.0


def _wait_for_groups(running: _Running, timeout_s: float) -> None:
    """Give the commands time to save a checkpoint and exit after a USR2."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        alive = []
        for pgid in list(running.groups):
            try:
                os.killpg(pgid, 0)
                alive.append(pgid)
            except ProcessLookupError:
                pass
        if not alive:
            return
        time.sleep(0.2)


def _forwarding(running: _Running):
    """Install handlers that pass SIGTERM/SIGINT/SIGUSR2 on to the running commands.

    USR2 is Slurm's warning before a timeout or preemption: the command (e.g. the TRL engine) saves
    a checkpoint and exits; then submitit's own USR2 handler runs, calls `CommandTask.checkpoint`
    and requeues the job, which resumes from that checkpoint.
    """
    previous: dict = {}

    def forward(signum: int, frame: Any) -> None:
        if signum != signal.SIGUSR2:  # USR2 = Slurm's timeout warning; the rest means stop
            running.stopped = True
        for pgid in list(running.groups):
            try:
                os.killpg(pgid, signum)
            except ProcessLookupError:
                pass
        chained = previous.get(signum)
        if signum == signal.SIGUSR2 and callable(chained):
            _wait_for_groups(running, CHECKPOINT_GRACE_S)
            chained(signum, frame)

    previous.update({sig: signal.signal(sig, forward) for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGUSR2)})
    return dict(previous)


def _restore(previous: dict) -> None:
    for sig, handler in previous.items():
        signal.signal(sig, handler)


def write_state(path: str | Path, text: str) -> None:
    """Replace a small state file atomically (readers never see half a line)."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text + "\n")
    tmp.replace(path)


def read_state(path: str | Path) -> list[str]:
    try:
        return Path(path).read_text().split()
    except FileNotFoundError:
        return []


def stopped_by_signal(signum: int) -> str:
    """The line a job writes when its command was killed (a time limit, a cancel, preemption)."""
    try:
        name = signal.Signals(signum).name
    except ValueError:
        name = f"signal {signum}"
    return (f"rcstudio job: the command was stopped by {name} - a time limit (cluster.time), a cancel "
            "or a preemption; raise cluster.time if the run needs longer\n")


def start_failure(argv: tuple[str, ...], exc: OSError) -> str:
    """The line a job writes to its stderr log when its command cannot even start."""
    path = os.environ.get("PATH", "")
    if isinstance(exc, FileNotFoundError):
        return (f"rcstudio job: cannot start {argv[0]!r}: not found on the job's PATH ({path}); "
                "install rcstudio where the job runs, or add `export PATH=...` to cluster.setup\n")
    return f"rcstudio job: cannot start {argv[0]!r}: {exc}\n"


@dataclass(frozen=True)
class CommandTask:
    """Runs one argv in a run directory; what submitit pickles and the job executes.

    Signals (scancel, timeouts, local cancel) are forwarded to the command's process group so the
    command stops with the job. A non-zero exit raises, which makes the job FAILED. With
    `state_file` (local sweeps) the task also records `RUNNING <pgid>` / `COMPLETED` / `FAILED <rc>`
    there, and skips a run already marked CANCELLED.
    """

    argv: tuple[str, ...]
    cwd: str
    stdout: str
    stderr: str
    state_file: str = ""

    def __call__(self) -> int:
        running = _Running()
        previous = _forwarding(running)
        try:
            rc = self.run(running)
        finally:
            _restore(previous)
        if rc != 0:
            raise RuntimeError(f"{self.argv[0]} exited with status {rc}; see {self.stderr}")
        return rc

    def checkpoint(self, *args: Any, **kwargs: Any):
        """submitit calls this on preemption/timeout before requeueing: the same command runs again
        in the same run dir, and the engine resumes from its last checkpoint there."""
        import submitit

        return submitit.helpers.DelayedSubmission(self)

    def run(self, running: _Running) -> int:
        """Run the command (its process group is in `running` meanwhile); returns its status."""
        if self.state_file and read_state(self.state_file)[:1] == ["CANCELLED"]:
            return 0
        if running.stopped:  # the whole job was cancelled before this run started
            if self.state_file:
                write_state(self.state_file, "CANCELLED")
            return 0
        Path(self.stdout).parent.mkdir(parents=True, exist_ok=True)
        with open(self.stdout, "ab", buffering=0) as out, open(self.stderr, "ab", buffering=0) as err:
            try:
                proc = subprocess.Popen(  # noqa: S603 - argv from the compiler, no shell
                    list(self.argv), cwd=self.cwd, stdout=out, stderr=err, start_new_session=True
                )
            except OSError as exc:  # e.g. `rcstudio` not on the job's PATH: say so where `logs --err` looks
                err.write(start_failure(self.argv, exc).encode())
                if self.state_file:
                    write_state(self.state_file, "FAILED 127")
                return 127
            running.groups.add(proc.pid)
            if running.stopped:  # a stop arrived while it was starting
                os.killpg(proc.pid, signal.SIGTERM)
            if self.state_file:
                write_state(self.state_file, f"RUNNING {proc.pid}")
            try:
                rc = proc.wait()
            finally:
                running.groups.discard(proc.pid)
            if rc < 0:  # killed by a signal: say so where `rcstudio logs --err` looks
                err.write(stopped_by_signal(-rc).encode())
        if self.state_file and read_state(self.state_file)[:1] != ["CANCELLED"]:
            write_state(self.state_file, "COMPLETED" if rc == 0 else f"FAILED {rc}")
        return rc


@dataclass(frozen=True)
class LocalSweepTask:
    """Several runs in one local job, at most `parallelism` at a time (a local stand-in for a job
    array, so a 64-point sweep does not start 64 processes on a laptop). Each run records its own
    state in its `state_file`; the job fails when any run failed."""

    tasks: tuple[CommandTask, ...]
    parallelism: int

    def __call__(self) -> list[int]:
        from concurrent.futures import ThreadPoolExecutor

        running = _Running()
        previous = _forwarding(running)
        try:
            with ThreadPoolExecutor(max_workers=max(1, self.parallelism)) as pool:
                codes = list(pool.map(lambda t: t.run(running), self.tasks))
        finally:
            _restore(previous)
        failed = [t.cwd for t, rc in zip(self.tasks, codes) if rc != 0]
        if failed:
            raise RuntimeError(f"{len(failed)} of {len(self.tasks)} runs failed: {', '.join(failed)}")
        return codes


# -- states --------------------------------------------------------------------------------------
_SLURM_STATE_MAP = {
    "PENDING": "PENDING",
    "CONFIGURING": "PENDING",
    "REQUEUED": "PENDING",
    "REQUEUE_FED": "PENDING",
    "REQUEUE_HOLD": "PENDING",
    "RESV_DEL_HOLD": "PENDING",
    "PREEMPTED": "PENDING",
    "RUNNING": "RUNNING",
    "COMPLETING": "RUNNING",
    "SIGNALING": "RUNNING",
    "STAGE_OUT": "RUNNING",
    "RESIZING": "RUNNING",
    "SUSPENDED": "RUNNING",
    "STOPPED": "RUNNING",
    "COMPLETED": "COMPLETED",
    "CANCELLED": "CANCELLED",
    "REVOKED": "CANCELLED",
    "FAILED": "FAILED",
    "BOOT_FAIL": "FAILED",
    "NODE_FAIL": "FAILED",
    "OUT_OF_MEMORY": "FAILED",
    "SPECIAL_EXIT": "FAILED",
    "TIMEOUT": "TIMEOUT",
    "DEADLINE": "TIMEOUT",
}


def normalize_slurm_state(raw: str) -> str:
    """`CANCELLED by 0`, `OUT_OF_MEMORY`, `CG` ... -> one of registry.STATES."""
    word = (raw or "").strip().split(" ")[0].rstrip("+").upper()
    short = {"PD": "PENDING", "R": "RUNNING", "CG": "COMPLETING", "CD": "COMPLETED", "CA": "CANCELLED",
             "F": "FAILED", "TO": "TIMEOUT", "NF": "NODE_FAIL", "OOM": "OUT_OF_MEMORY", "S": "SUSPENDED"}
    word = short.get(word, word)
    return _SLURM_STATE_MAP.get(word, "UNKNOWN")


_PRECEDENCE = ("FAILED", "TIMEOUT", "CANCELLED", "RUNNING", "PENDING", "UNKNOWN", "COMPLETED")


def combine_states(states: list[str]) -> str:
    """One state for a job made of parts (hetjob components): a failed part fails the job, a job
    is COMPLETED only when every part is; otherwise the most active state wins."""
    if not states:
        return "UNKNOWN"
    if all(s == "COMPLETED" for s in states):
        return "COMPLETED"
    terminal = {"FAILED", "TIMEOUT", "CANCELLED"}
    if any(s in terminal for s in states) and not any(s in {"RUNNING", "PENDING"} for s in states):
        return next(s for s in _PRECEDENCE if s in states)
    for s in ("RUNNING", "PENDING", "UNKNOWN"):
        if s in states:
            return s
    return next(s for s in _PRECEDENCE if s in states)
