"""One poller for every unfinished run: one batched state call per executor per refresh.

`ls`, `status`, `submit --wait` and the TUI call `Poller().refresh()`; it reads the unfinished rows,
asks Slurm once (sacct, with squeue for ids accounting has not seen yet) and submitit's local jobs
once, and writes the changed states back in one transaction.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Sequence

from rcstudio.launch.executors import Executor, executor_for
from rcstudio.job_times import read_outcome, read_times
from rcstudio.launch.jobs import JobRef
from rcstudio.launch.registry import Registry, RunRecord
from rcstudio.launch.submit import job_ref

# A Slurm job that neither sacct nor squeue knows this long after submission is reported UNKNOWN.
GRACE_S = 120.0


class Poller:
    """Refresh registry states from the executors (safe to call from a worker thread)."""

    def __init__(self, registry: Registry | None = None, executors: dict[str, Executor] | None = None) -> None:
        self.registry = registry or Registry()
        self._executors = dict(executors or {})
        self.calls = 0  # batched executor calls made (one per executor per refresh)

    def executor(self, name: str) -> Executor:
        if name not in self._executors:
            self._executors[name] = executor_for(name)
        return self._executors[name]

    def refresh(self, runs: Sequence[RunRecord] | None = None) -> dict[str, str]:
        """Update unfinished runs (or the given ones); returns {run_id: new state} for changes."""
        if runs is None:
            runs = self.registry.unfinished()
        pending = [r for r in runs if not r.finished and r.job_id]
        by_executor: dict[str, list[tuple[RunRecord, JobRef]]] = defaultdict(list)
        jobs = self.registry.jobs([r.job_id for r in pending])
        for run in pending:
            by_executor[run.executor].append((run, job_ref(run, self.registry, jobs.get(run.job_id))))
        changes: dict[str, str] = {}
        times: dict[str, tuple[float | None, float | None]] = {}
        t = time.time()
        for name, items in by_executor.items():
            try:
                states = self.executor(name).states([ref for _, ref in items])
            except Exception:  # noqa: BLE001 - a cluster hiccup must not break ls or the TUI
                continue
            self.calls += 1
            moved = []
            for run, ref in items:
                state = states.get(ref.scheduler_id)
                if state is None:
                    if t - run.created_at < GRACE_S:
                        continue
                    state = "UNKNOWN"
                if state == "CANCELLED" and self._own_outcome(run, jobs) == "COMPLETED":
                    state = "COMPLETED"  # cancelled after its work was done: it finished cleanly
                if state != run.state:
                    changes[run.run_id] = state
                    moved.append((run, ref))
            times.update(self._times(name, moved, jobs))
        self.registry.update_states(changes)  # stamps the poll time where no job time is known
        self.registry.set_times(times)
        return changes

    @staticmethod
    def _own_outcome(run: RunRecord, jobs: dict) -> str | None:
        """The outcome this attempt of the run recorded itself (rcstudio/job_times.py)."""
        job = jobs.get(run.job_id)
        return read_outcome(run.run_dir, since=(job.submitted_at - 1.0) if job is not None else None)

    def _times(self, name: str, moved: list[tuple[RunRecord, JobRef]], jobs: dict) -> dict:
        """Start/end of runs whose state just changed, as the job recorded them: the scheduler's
        (sacct), else the run dir's own record of this attempt (local jobs)."""
        if not moved:
            return {}
        try:
            found = self.executor(name).times([ref for _, ref in moved])
        except Exception:  # noqa: BLE001 - times are a nicety; states already moved on
            found = {}
        out = {}
        for run, ref in moved:
            got = found.get(ref.scheduler_id)
            if got is None or got[0] is None:
                job = jobs.get(run.job_id)
                got = read_times(run.run_dir, since=(job.submitted_at - 1.0) if job is not None else None)
            if got is not None:
                out[run.run_id] = got
        return out

    def _rows(self, run_ids: Sequence[str]) -> list[RunRecord]:
        """Current rows of these runs in one query (`get` resolves anything not an exact id)."""
        found = {r.run_id: r for r in self.registry.existing(run_ids)}
        return [found.get(r) or self.registry.get(r) for r in run_ids]

    def wait(self, run_ids: Sequence[str], interval: float = 1.0, timeout: float | None = None,
             on_update=None) -> list[RunRecord]:
        """Poll until every run is finished (or `timeout` seconds pass); returns the final rows."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            self.refresh([r for r in self._rows(run_ids) if not r.finished])
            runs = self._rows(run_ids)
            if on_update is not None:
                on_update(runs)
            if all(r.finished for r in runs):
                return runs
            if deadline is not None and time.monotonic() > deadline:
                return runs
            time.sleep(interval)
