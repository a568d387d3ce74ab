"""What `cancel`, `resubmit` and `logs` do to one registered run (the CLI and TUI call these)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

from rcstudio.errors import UserError
from rcstudio.launch.executors import Submission, executor_for, pick_executor
from rcstudio.launch.jobs import LOG_STDERR, LOG_STDOUT, load_plan
from rcstudio.launch.registry import Registry, RunRecord
from rcstudio.launch.submit import job_records, job_ref


def cancel_run(record: RunRecord, registry: Registry | None = None) -> RunRecord:
    """Cancel the run's job (its array task only, for a sweep) and record CANCELLED."""
    registry = registry or Registry()
    if record.finished:
        raise UserError(f"run {record.run_id} already ended ({record.state})", key="RUN")
    executor_for(record.executor).cancel(job_ref(record, registry))
    registry.update_states({record.run_id: "CANCELLED"})
    return registry.get(record.run_id)


def resubmit_run(record: RunRecord, registry: Registry | None = None) -> RunRecord:
    """Submit a finished run again from its compiled directory (same run id, new job)."""
    registry = registry or Registry()
    if not record.finished:
        raise UserError(f"run {record.run_id} is {record.state}", key="RUN",
                        hint=f"cancel it first: rcstudio cancel {record.run_id}")
    run_dir = Path(record.run_dir)
    try:
        plan = load_plan(run_dir)
    except FileNotFoundError:
        raise UserError(f"{run_dir} has no launch.json (the run directory was moved or deleted)",
                        key="RUN", hint="submit the spec again with --force") from None
    executor = pick_executor(record.executor)
    refs = executor.submit([Submission(record.run_id, run_dir, plan, record.name)])
    for log in (Path(refs[0].stdout), Path(refs[0].stderr)):
        if log.exists():  # keep the earlier attempt's output readable, separated
            with log.open("a") as fh:
                fh.write(f"\n----- resubmitted as job {refs[0].scheduler_id} at {time.ctime()} -----\n")
    try:
        for job in job_records(refs, time.time()):
            registry.add_job(job)
        registry.set_job([record.run_id], refs[0].job_id, [refs[0].array_index], executor=executor.name)
    except BaseException:
        executor.cancel(refs[0])
        raise
    return registry.get(record.run_id)


def log_path(record: RunRecord, err: bool = False, registry: Registry | None = None) -> Path:
    """The run's stdout (or stderr) log; a run without a job yet points where its command will write."""
    if record.job_id:
        out, error = executor_for(record.executor).log_paths(job_ref(record, registry))
    else:
        logs = Path(record.run_dir) / "logs"
        out, error = logs / LOG_STDOUT, logs / LOG_STDERR
    return error if err else out


def follow(path: Path, done, interval: float = 0.5) -> Iterator[str]:
    """Yield text appended to `path` until `done()` is true and nothing new arrived."""
    offset = 0
    while True:
        finished = done()
        if path.exists():
            with path.open("r", errors="replace") as fh:
                fh.seek(offset)
                chunk = fh.read()
                offset = fh.tell()
            if chunk:
                yield chunk
                continue
        if finished:
            return
        time.sleep(interval)
