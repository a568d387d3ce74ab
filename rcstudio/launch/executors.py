"""Executors behind one interface: submitit's local executor, and Slurm (submitit for command plans
and job arrays, `sbatch --parsable` for hetjob scripts, which are beyond submitit's API).

`submit` takes compiled runs (anything with `.run.run_id`, `.run_dir`, `.plan`, or `Submission`s)
and returns one JobRef per run, in order. A sweep of N command runs with the same resources goes
to Slurm as ONE job array.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import pickle
import shlex
import signal
import threading
from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rcstudio.errors import UserError
from rcstudio.launch import slurm
from rcstudio.launch.jobs import (
    LOCAL_STATE,
    LOG_STDERR,
    LOG_STDOUT,
    CommandTask,
    JobRef,
    LocalSweepTask,
    mem_to_gb,
    read_state,
    time_to_minutes,
    write_state,
)

if TYPE_CHECKING:  # the plan type only; importing it loads the spec models (slow for `ls`)
    from rcstudio.compile.plan import LaunchPlan


@dataclass(frozen=True)
class Submission:
    """One run to submit: its id, directory and plan (what `resubmit` rebuilds from launch.json)."""

    run_id: str
    run_dir: Path
    plan: LaunchPlan
    name: str = ""


def as_submission(item: Any) -> Submission:
    """A Submission from a Submission or a CompiledRun-like object (`.run`, `.run_dir`, `.plan`)."""
    if isinstance(item, Submission):
        return item
    run = item.run
    return Submission(run.run_id, Path(item.run_dir), item.plan, getattr(run, "name", run.run_id))


def command_task(sub: Submission) -> CommandTask:
    if not sub.plan.argv:
        raise UserError(f"run {sub.run_id} has an empty command", hint="recompile the spec")
    logs = sub.run_dir / "logs"
    return CommandTask(tuple(sub.plan.argv), str(sub.run_dir), str(logs / LOG_STDOUT), str(logs / LOG_STDERR))


class Executor(ABC):
    """Submit runs, read states in one batched call, cancel, locate logs."""

    name: str = ""

    @abstractmethod
    def submit(self, compiled: Sequence[Any]) -> list[JobRef]: ...

    @abstractmethod
    def states(self, jobs: Sequence[JobRef]) -> dict[str, str]:
        """{job.scheduler_id: state} for the jobs the executor can still see."""

    @abstractmethod
    def cancel(self, job: JobRef) -> None: ...

    def times(self, jobs: Sequence[JobRef]) -> dict[str, tuple[float | None, float | None]]:
        """{job.scheduler_id: (start, end)} as the scheduler recorded them; empty when it keeps
        none (local jobs record their own times in the run dir, see rcstudio/job_times.py)."""
        return {}

    def log_paths(self, job: JobRef) -> tuple[Path, Path]:
        """(stdout, stderr) of the run's command."""
        return Path(job.stdout), Path(job.stderr)


def sweep_folder(subs: Sequence[Submission]) -> Path:
    """submitit's folder for a job holding several runs: `.submitit/` in their experiment dir."""
    return Path(os.path.commonpath([str(s.run_dir.parent) for s in subs])) / ".submitit"


# -- local ---------------------------------------------------------------------------------------
MAX_REQUEUES = 3
_LOCAL_JOBS: dict[str, Any] = {}  # submitit LocalJobs of this process (they hold the Popen to poll)
# Drop them before interpreter teardown: LocalJob.__del__ run after submitit's module globals are
# gone prints "Exception ignored" tracebacks on exit (the jobs themselves keep running).
atexit.register(_LOCAL_JOBS.clear)


_DETACH = threading.local()  # the log file of the `detached_controllers` block this thread is in
_DETACH_LOCK = threading.Lock()


def _detached_popen(*args: Any, **kwargs: Any) -> Any:
    import subprocess

    log = getattr(_DETACH, "log", None)
    if log is not None:
        kwargs = {"stdin": subprocess.DEVNULL, "stdout": log, "stderr": log, "start_new_session": True, **kwargs}
    return subprocess.Popen(*args, **kwargs)


@contextlib.contextmanager
def detached_controllers(log_path: Path) -> Iterator[None]:
    """Start submitit's local job controllers detached from this process's terminal and pipes.

    submitit starts the controller with a bare `Popen`, so it inherits our stdin/stdout/stderr: with
    `rcstudio submit ... | tail` the pipe stays open until the job ends and the pipeline hangs; and
    sharing our process group, a Ctrl-C meant for `submit --wait` would kill the job. Here the
    controller reads /dev/null, writes to `log_path` (the job's own output still goes to the run's
    stdout/stderr logs) and starts its own session. Only submitit's local module sees the changed
    Popen. It is installed once and reads the log file from a thread-local set by this block, so
    concurrent submits from several threads (the dashboard's actions, a library caller) never hand
    a controller another block's log file - swapping the module global per block did, and a
    controller then started with a file another thread had already closed.
    """
    import types

    from submitit.local import local as submitit_local

    with _DETACH_LOCK:
        if getattr(submitit_local.subprocess, "Popen", None) is not _detached_popen:
            proxy = types.ModuleType("subprocess")
            proxy.__dict__.update(submitit_local.subprocess.__dict__)
            proxy.Popen = _detached_popen  # type: ignore[attr-defined]
            submitit_local.subprocess = proxy
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "ab") as log:
        previous = getattr(_DETACH, "log", None)
        _DETACH.log = log
        try:
            yield
        finally:
            _DETACH.log = previous


class LocalExecutor(Executor):
    """submitit's LocalExecutor: one background process per run, logs in `run_dir/logs/`.

    A sweep larger than its `array_parallelism` becomes ONE local job that runs at most that many
    commands at a time (each run records its state in `logs/local.state`), so a big sweep does not
    start every process at once on a workstation.
    """

    name = "local"

    def submit(self, compiled: Sequence[Any]) -> list[JobRef]:
        subs = [as_submission(c) for c in compiled]
        for sub in subs:
            if sub.plan.mode != "command":
                from rcstudio.engines import registry as engines

                local = [e.name for e in engines.all_engines() if e.default_step]
                raise UserError(
                    f"run {sub.run_id} compiles to a Slurm hetjob script ({sub.plan.script}); "
                    "the local executor runs command plans only",
                    key="cluster.executor",
                    hint="submit it to a Slurm cluster (--executor slurm)"
                         + (f', or use rl.engine = "{local[0]}" here' if local else ""),
                )
        if not subs:
            return []
        parallelism = max(1, subs[0].plan.array_parallelism)
        if len(subs) > parallelism:
            return self._submit_sweep(subs, parallelism)
        return [self._submit_one(sub) for sub in subs]

    @staticmethod
    def _executor(folder: Path, plan: LaunchPlan, minutes: int) -> Any:
        import submitit

        ex = submitit.LocalExecutor(folder=folder)
        params: dict[str, Any] = {"timeout_min": minutes}
        if plan.setup:
            params["setup"] = list(plan.setup)
        ex.update_parameters(**params)
        return ex

    def _submit_one(self, sub: Submission) -> JobRef:
        folder = sub.run_dir / "logs" / "submitit"
        task = command_task(sub)
        with detached_controllers(folder / "controller.log"):
            job = self._executor(folder, sub.plan, time_to_minutes(sub.plan.time)).submit(task)
        _LOCAL_JOBS[str(job.job_id)] = job
        return JobRef(str(job.job_id), "local", "local", None, str(folder), task.stdout, task.stderr)

    def _submit_sweep(self, subs: list[Submission], parallelism: int) -> list[JobRef]:
        tasks = []
        for sub in subs:
            base = command_task(sub)
            state = sub.run_dir / "logs" / LOCAL_STATE
            state.unlink(missing_ok=True)
            tasks.append(CommandTask(base.argv, base.cwd, base.stdout, base.stderr, str(state)))
        folder = sweep_folder(subs) / "local"
        waves = -(-len(subs) // parallelism)
        minutes = max(time_to_minutes(s.plan.time) for s in subs) * waves
        with detached_controllers(folder / "controller.log"):
            job = self._executor(folder, subs[0].plan, minutes).submit(LocalSweepTask(tuple(tasks), parallelism))
        _LOCAL_JOBS[str(job.job_id)] = job
        return [JobRef(str(job.job_id), "local", "local-sweep", i, str(folder), t.stdout, t.stderr)
                for i, t in enumerate(tasks)]

    def attach(self, job: JobRef) -> Any:
        """The submitit job (in-process handle when this process submitted it)."""
        from submitit.local.local import LocalJob

        return _LOCAL_JOBS.get(job.job_id) or LocalJob(job.folder, job.job_id)

    def states(self, jobs: Sequence[JobRef]) -> dict[str, str]:
        return {job.scheduler_id: self._state(job) for job in jobs}

    def _controller(self, job: JobRef) -> str:
        """RUNNING while the submitit job's process lives, else its outcome from the result file."""
        from submitit.core.utils import JobPaths

        handle = _LOCAL_JOBS.get(job.job_id)
        if handle is not None and handle._process is not None and handle._process.poll() is None:
            return "RUNNING"
        result = JobPaths(job.folder, job.job_id, 0).result_pickle
        if result.exists():
            try:
                with result.open("rb") as fh:
                    outcome = pickle.load(fh)
            except Exception:  # noqa: BLE001 - being written right now
                return "RUNNING"
            return "COMPLETED" if outcome and outcome[0] == "success" else "FAILED"
        if handle is None and _pid_alive(int(job.job_id)):
            return "RUNNING"
        return "FAILED"  # the process is gone and left no result

    def _state(self, job: JobRef) -> str:
        controller = self._controller(job)
        if job.mode != "local-sweep":
            return controller
        marker = read_state(Path(job.stdout).parent / LOCAL_STATE)[:1]
        if marker and marker[0] in ("COMPLETED", "FAILED", "CANCELLED"):
            return marker[0]
        if controller == "RUNNING":
            return "RUNNING" if marker == ["RUNNING"] else "PENDING"
        return "FAILED"  # the sweep job ended without this run finishing

    def cancel(self, job: JobRef) -> None:
        if job.mode == "local-sweep" and job.array_index is not None:
            state_file = Path(job.stdout).parent / LOCAL_STATE
            marker = read_state(state_file)
            write_state(state_file, "CANCELLED")
            if marker[:1] == ["RUNNING"] and len(marker) > 1:
                try:
                    os.killpg(int(marker[1]), signal.SIGTERM)
                except ProcessLookupError:
                    pass
            return
        handle = _LOCAL_JOBS.get(job.job_id)
        if handle is not None and handle._process is not None:
            handle._process.send_signal(signal.SIGTERM)
            return
        if _pid_alive(int(job.job_id)):
            os.kill(int(job.job_id), signal.SIGTERM)  # the controller forwards it to the command


def _pid_alive(pid: int) -> bool:
    """A live, non-zombie submitit controller with this pid."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False
    state = stat.rsplit(")", 1)[-1].split()[0]
    return state not in {"Z", "X"} and b"submitit" in cmdline


# -- slurm ---------------------------------------------------------------------------------------
def _extra_parameters(plan: LaunchPlan) -> dict[str, Any]:
    """`sbatch_extra` flags (`--exclusive`, `--constraint=a100`) as submitit additional_parameters."""
    extra: dict[str, Any] = {}
    for flag in plan.sbatch_extra:
        for token in shlex.split(flag):
            token = token.lstrip("-")
            if not token:
                continue
            key, sep, value = token.partition("=")
            extra[key.replace("-", "_")] = value if sep else True
    if plan.mem:
        extra["mem"] = plan.mem
    return extra


class SlurmExecutor(Executor):
    """Slurm through submitit (single jobs and job arrays) and sbatch (hetjob scripts)."""

    name = "slurm"

    def __init__(self) -> None:
        self.sbatch_calls = 0  # how many submissions reached sbatch (a sweep should make one)

    def _submitit_executor(self, folder: Path, plan: LaunchPlan, job_name: str, n: int) -> Any:
        import submitit

        # A timed-out or preempted job is requeued (up to 3 timeouts) after CommandTask.checkpoint:
        # every job command resumes in its run dir (TRL checkpoints, judge/LLM caches, decompose output).
        ex = submitit.SlurmExecutor(folder=folder, max_num_timeout=MAX_REQUEUES)
        params: dict[str, Any] = {
            "job_name": job_name,
            "nodes": plan.nodes,
            "ntasks_per_node": 1,
            "cpus_per_task": plan.cpus_per_task,
            "time": time_to_minutes(plan.time),
            "wckey": "",
            "additional_parameters": _extra_parameters(plan),
        }
        if plan.gpus_per_node:
            params["gpus_per_node"] = plan.gpus_per_node
        for key in ("partition", "account", "qos"):
            if getattr(plan, key):
                params[key] = getattr(plan, key)
        if plan.setup:
            params["setup"] = list(plan.setup)
        if n > 1:
            params["array_parallelism"] = max(1, plan.array_parallelism)
        ex.update_parameters(**params)
        return ex

    def submit(self, compiled: Sequence[Any]) -> list[JobRef]:
        subs = [as_submission(c) for c in compiled]
        for sub in subs:
            if sub.plan.mem:
                mem_to_gb(sub.plan.mem)  # unreadable sizes fail before anything is submitted
        if subs:  # a run no node can hold is refused with the partition's limits, before any sbatch
            from rcstudio.launch.partitions import check_runs, query_partitions

            check_runs(subs, query_partitions())
        refs: dict[int, JobRef] = {}
        groups: dict[tuple, list[int]] = {}
        for i, sub in enumerate(subs):
            if sub.plan.mode == "sbatch":
                continue
            groups.setdefault(sub.plan.resources_key(), []).append(i)
        submitted: list[JobRef] = []
        try:
            for indices in groups.values():
                for i, ref in zip(indices, self._submit_commands([subs[i] for i in indices]), strict=True):
                    refs[i] = ref
                    submitted.append(ref)
            for i, sub in enumerate(subs):
                if sub.plan.mode == "sbatch":
                    refs[i] = self._submit_script(sub)
                    submitted.append(refs[i])
        except BaseException:
            self._cancel_quietly(submitted)
            raise
        return [refs[i] for i in range(len(subs))]

    def _submit_commands(self, subs: list[Submission]) -> list[JobRef]:
        tasks = [command_task(s) for s in subs]
        if len(subs) == 1:
            folder = subs[0].run_dir / "logs" / "submitit"
            name = subs[0].plan.job_name or subs[0].name or subs[0].run_id
        else:
            folder = sweep_folder(subs) / "%j"
            name = subs[0].run_dir.parent.name or "rcstudio"  # the experiment
        ex = self._submitit_executor(folder, subs[0].plan, name, len(subs))
        self.sbatch_calls += 1
        try:
            if len(subs) == 1:
                jobs = [ex.submit(tasks[0])]
            else:
                with ex.batch():
                    jobs = [ex.submit(t) for t in tasks]
        except Exception as exc:  # noqa: BLE001 - submitit raises CalledProcessError and friends
            detail = getattr(exc, "output", None) or getattr(exc, "stderr", None) or str(exc)
            if isinstance(detail, bytes):
                detail = detail.decode(errors="replace")
            raise slurm.SlurmError(f"sbatch refused the job: {str(detail).strip()}") from exc
        refs = []
        for job, task in zip(jobs, tasks, strict=True):
            try:
                job_id = slurm.checked_job_id(str(job.job_id), "sbatch (through submitit)")
            except slurm.SlurmError:
                self._cancel_quietly([JobRef(str(j.job_id).partition("_")[0], "slurm", "single", None, str(folder))
                                      for j in jobs if slurm.JOB_ID_RE.fullmatch(str(j.job_id))])
                raise
            base, _, index = job_id.partition("_")
            refs.append(JobRef(base, "slurm", "array" if index else "single", int(index) if index else None,
                               str(folder), task.stdout, task.stderr))
        return refs

    def _submit_script(self, sub: Submission) -> JobRef:
        script = Path(sub.plan.script)
        if not script.is_absolute():
            script = sub.run_dir / script
        self.sbatch_calls += 1
        job_id = slurm.sbatch_script(script, cwd=sub.run_dir)
        out, err = script_log_paths(script, job_id, sub.run_dir)
        return JobRef(job_id, "slurm", "hetjob", None, "", str(out), str(err))

    @staticmethod
    def _cancel_quietly(refs: Sequence[JobRef]) -> None:
        try:
            slurm.scancel(sorted({r.job_id for r in refs}))
        except Exception:  # noqa: BLE001 - best effort while unwinding a failed submission
            pass

    def attach(self, job: JobRef) -> Any:
        """The submitit SlurmJob for a command run (results, state), e.g. after a restart."""
        import submitit

        return submitit.SlurmJob(job.folder, job.scheduler_id)

    def states(self, jobs: Sequence[JobRef]) -> dict[str, str]:
        states, self._times = slurm.query_jobs([j.scheduler_id for j in jobs])
        return states

    def times(self, jobs: Sequence[JobRef]) -> dict[str, tuple[float | None, float | None]]:
        """sacct's Start/End, read by the last `states` call (no second sacct call)."""
        known = getattr(self, "_times", {})
        return {j.scheduler_id: known[j.scheduler_id] for j in jobs if j.scheduler_id in known}

    def cancel(self, job: JobRef) -> None:
        slurm.scancel([job.scheduler_id])


def _sbatch_option(tokens: list[str], long: str, short: str) -> str | None:
    """The value of `--long=V`, `--long V`, `-sV` or `-s V` in a token list (last one wins)."""
    value = None
    for i, tok in enumerate(tokens):
        nxt = tokens[i + 1] if i + 1 < len(tokens) else None
        if tok.startswith(f"--{long}="):
            value = tok.split("=", 1)[1]
        elif tok in (f"--{long}", f"-{short}") and nxt is not None:
            value = nxt
        elif tok.startswith(f"-{short}") and not tok.startswith("--") and len(tok) > 2:
            value = tok[2:]
    return value


def script_log_paths(script: Path, job_id: str, run_dir: Path) -> tuple[Path, Path]:
    """Where an sbatch script's `--output`/`--error` patterns put this job's logs (first het group)."""
    tokens: list[str] = []
    for line in script.read_text().splitlines():
        if line.startswith("#SBATCH"):
            body = line[len("#SBATCH"):].split("#", 1)[0]
            if body.strip() in ("hetjob", "packjob"):
                break
            tokens.extend(shlex.split(body))
        elif line.strip() and not line.startswith("#"):
            break
    out = _sbatch_option(tokens, "output", "o")
    err = _sbatch_option(tokens, "error", "e")

    def fill(pattern: str) -> Path:
        text = pattern.replace("%j", job_id).replace("%A", job_id).replace("%x", script.stem)
        path = Path(text)
        return path if path.is_absolute() else run_dir / path

    stdout = fill(out or "slurm-%j.out")
    return stdout, fill(err) if err else stdout


def pick_executor(kind: str = "auto") -> Executor:
    """`auto` = Slurm when sbatch is on PATH and the controller answers, else local."""
    kind = (kind or "auto").lower()
    if kind == "local":
        return LocalExecutor()
    if kind == "slurm":
        if not slurm.controller_answers():
            raise UserError(
                "no Slurm controller answers (sbatch/sinfo)",
                key="cluster.executor",
                hint="start one with `bash slurm/cluster.sh start`, or use --executor local",
            )
        return SlurmExecutor()
    if kind == "auto":
        return SlurmExecutor() if slurm.controller_answers() else LocalExecutor()
    raise UserError(f"unknown executor {kind!r}", key="cluster.executor", hint="auto, local or slurm")


def executor_for(name: str) -> Executor:
    """The executor that owns runs recorded with this name (no availability check)."""
    return SlurmExecutor() if name == "slurm" else LocalExecutor()
