"""Spec -> compiled run dirs -> jobs -> registry rows, all or nothing.

Order matters for atomicity: compile everything, submit, and only then write every row (and the
job rows) in one transaction. When compiling or submitting fails, the run directories this call
created are removed and jobs it already submitted are cancelled, so no row and no half-written run
stays behind. An identical spec (same resolved-spec hash, hence the same run id) is refused unless
`force`, which gives the new runs fresh ids (`<run_id>-2`, ...).
"""

from __future__ import annotations

import dataclasses
import shlex
import shutil
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rcstudio import paths
from rcstudio.compile.plan import LaunchPlan
from rcstudio.errors import UserError
from rcstudio.launch.export import SUBMISSION_FILE, submission_info
from rcstudio.launch.executors import Executor, Submission, pick_executor
from rcstudio.launch.jobs import LOG_STDERR, LOG_STDOUT, JobRef, save_plan
from rcstudio.launch.registry import JobRecord, Registry, RunRecord, now
from rcstudio.spec.models import TRAINING_KINDS


@dataclass
class PreparedRun:
    run: Any  # rcstudio.spec.RunSpec
    run_dir: Path
    plan: LaunchPlan
    created: bool  # this call created run_dir (remove it on failure)

    @property
    def submission(self) -> Submission:
        return Submission(self.run.run_id, self.run_dir, self.plan, self.run.name)


@dataclass
class SubmissionPlan:
    """Everything `submit` is about to do; `describe()` is what --dry-run prints."""

    spec_path: Path
    executor: Executor
    runs: list[PreparedRun] = field(default_factory=list)
    skipped: list[RunRecord] = field(default_factory=list)  # runs of this spec already registered

    def discard(self) -> None:
        """Remove the run directories this plan created."""
        parents = set()
        for prepared in self.runs:
            if prepared.created:
                shutil.rmtree(prepared.run_dir, ignore_errors=True)
                parents.add(prepared.run_dir.parent)
        for parent in parents:  # the experiment dir, when only this call's leftovers remain in it
            try:
                if [p.name for p in parent.iterdir()] == [".submitit"]:
                    shutil.rmtree(parent / ".submitit", ignore_errors=True)
                parent.rmdir()
            except OSError:
                pass

    def describe(self) -> dict[str, Any]:
        command_runs = [p for p in self.runs if p.plan.mode == "command"]
        arrays = {}
        for p in command_runs:
            arrays.setdefault(p.plan.resources_key(), []).append(p.run.run_id)
        items = []
        for p in self.runs:
            if p.plan.mode == "command":
                launch = shlex.join(p.plan.argv)
            else:
                launch = shlex.join(["sbatch", "--parsable", str(p.plan.script)])
            items.append({
                "run_id": p.run.run_id, "name": p.run.name, "point": p.run.point, "run_dir": str(p.run_dir),
                "mode": p.plan.mode, "launch": launch,
                "resources": {k: getattr(p.plan, k) for k in ("nodes", "gpus_per_node", "cpus_per_task",
                                                               "mem", "time", "partition", "account", "qos")},
            })
        submissions = len(arrays) + len(self.runs) - len(command_runs)
        if self.executor.name == "local":
            par = self.runs[0].plan.array_parallelism if self.runs else 1
            submissions = 1 if len(self.runs) > par else len(self.runs)
        return {"executor": self.executor.name, "spec": str(self.spec_path), "runs": items,
                "skipped": [{"run_id": r.run_id, "name": r.name, "state": r.state} for r in self.skipped],
                "submissions": submissions,
                "arrays": [len(v) for v in arrays.values() if len(v) > 1] if self.executor.name == "slurm" else []}


def runs_root_for(spec: Any) -> Path:
    root = getattr(spec.cluster, "runs_root", "") or ""
    return Path(root).expanduser() if root else paths.runs_root()


def _fresh_id(run_id: str, registry: Registry, parent: Path) -> str:
    n = 2
    while registry.find(f"{run_id}-{n}") is not None or (parent / f"{run_id}-{n}").exists():
        n += 1
    return f"{run_id}-{n}"


def plan_spec(
    path: str | Path,
    overrides: Sequence[str] = (),
    executor: str | Executor | None = None,
    force: bool = False,
    registry: Registry | None = None,
) -> SubmissionPlan:
    """Load, expand and compile a spec into its run directories (nothing submitted, no row)."""
    from rcstudio.compile import compile_run
    from rcstudio.spec import expand, load_spec

    registry = registry or Registry()
    spec = load_spec(path, overrides)
    runs = expand(spec)
    root = runs_root_for(spec)
    # Duplicates first: nothing is compiled for a spec that is already registered. A spec that adds
    # runs to registered ones (a new sweep point, an enabled variant) submits only the new runs.
    skipped: list[RunRecord] = []
    if not force:
        taken = registry.existing([r.run_id for r in runs], [r.spec_hash for r in runs])
        if taken:
            by_key = {t.run_id: t for t in taken} | {t.spec_hash: t for t in taken}
            old = [r for r in runs if r.run_id in by_key or r.spec_hash in by_key]
            if len(old) == len(runs):
                run = old[0]
                existing = by_key.get(run.run_id) or by_key[run.spec_hash]
                more = f" and {len(old) - 1} more run(s) of this spec" if len(old) > 1 else ""
                raise UserError(
                    f"{run.name} already exists (run {existing.run_id}, {existing.state.lower()}){more}",
                    file=str(path), key="experiment",
                    hint="use --force to submit it again under a new id, or `rcstudio resubmit "
                         f"{existing.run_id}` to rerun that run",
                )
            skipped = [by_key.get(r.run_id) or by_key[r.spec_hash] for r in old]
            runs = [r for r in runs if r not in old]
    if isinstance(executor, Executor):
        chosen = executor
    else:
        chosen = pick_executor(executor or spec.cluster.executor)
    plan = SubmissionPlan(Path(path), chosen, skipped=skipped)
    info = submission_info(Path(path), list(overrides))
    try:
        for run in runs:
            parent = root / run.spec.experiment.name
            if force and (registry.find(run.run_id) is not None or (parent / run.run_id).exists()):
                run = dataclasses.replace(run, run_id=_fresh_id(run.run_id, registry, parent))
            run_dir = parent / run.run_id
            created = not run_dir.exists()
            prepared = PreparedRun(run, run_dir, LaunchPlan(), created)
            plan.runs.append(prepared)
            compiled = compile_run(run, run_dir)
            prepared.plan = compiled.plan
            save_plan(run_dir, prepared.plan)
            (run_dir / SUBMISSION_FILE).write_text(info)
    except BaseException:
        plan.discard()
        raise
    return plan


def _record(prepared: PreparedRun, ref: JobRef, executor: str, t: float) -> RunRecord:
    spec = prepared.run.spec
    kind = spec.experiment.kind
    return RunRecord(
        run_id=prepared.run.run_id,
        name=prepared.run.name,
        experiment=spec.experiment.name,
        kind=kind,
        engine=spec.rl.engine if kind in TRAINING_KINDS else "",
        executor=executor,
        state="PENDING",
        created_at=t,
        updated_at=t,
        started_at=None,
        ended_at=None,
        run_dir=str(prepared.run_dir),
        spec_hash=prepared.run.spec_hash,
        point=dict(prepared.run.point),
        tags=list(spec.experiment.tags),
        job_id=ref.job_id,
        array_index=ref.array_index,
        wandb=wandb_reference(spec, prepared.run.run_id, prepared.run_dir),
    )


def wandb_reference(spec: Any, run_id: str, run_dir: Path) -> dict[str, Any]:
    """Where the run's W&B data lives (names only; the API key stays in the environment)."""
    t = spec.tracking
    return {"mode": t.mode, "entity": t.entity, "project": t.project, "id": run_id,
            "group": t.group or spec.experiment.name, "dir": str(run_dir / "wandb")}


def job_records(refs: Sequence[JobRef], t: float) -> list[JobRecord]:
    jobs: dict[str, JobRecord] = {}
    for ref in refs:
        job = jobs.get(ref.job_id)
        if job is None:
            meta = {"stdout": ref.stdout, "stderr": ref.stderr} if ref.mode == "hetjob" else {}
            jobs[ref.job_id] = JobRecord(ref.job_id, ref.executor, ref.mode, ref.folder, t, 1, meta)
        else:
            job.n_tasks += 1
    return list(jobs.values())


def execute_plan(plan: SubmissionPlan, registry: Registry | None = None) -> list[RunRecord]:
    """Submit a compiled plan and record it; on any failure nothing stays (dirs, jobs, rows)."""
    registry = registry or Registry()
    executor = plan.executor
    refs: list[JobRef] = []
    try:
        refs = executor.submit([p.submission for p in plan.runs])
        t = now()
        records = [_record(p, ref, executor.name, t) for p, ref in zip(plan.runs, refs, strict=True)]
        registry.add_runs(records, job_records(refs, t))
    except BaseException:
        for ref in {r.job_id: r for r in refs}.values():
            try:
                executor.cancel(JobRef(ref.job_id, ref.executor, ref.mode, None, ref.folder))
            except Exception:  # noqa: BLE001 - best effort while unwinding
                pass
        plan.discard()
        raise
    return records


def submit_spec(
    path: str | Path,
    overrides: Sequence[str] = (),
    executor: str | Executor | None = None,
    dry_run: bool = False,
    force: bool = False,
    registry: Registry | None = None,
) -> list[RunRecord]:
    """Compile and submit every run of a spec; returns the registry rows (not stored on dry runs).

    `executor=None` takes the spec's `cluster.executor` (auto | local | slurm).
    """
    registry = registry or Registry()
    plan = plan_spec(path, overrides, executor, force, registry)
    if dry_run:
        t = now()
        records = [_record(p, JobRef("", plan.executor.name, "dry-run"), plan.executor.name, t) for p in plan.runs]
        for r in records:
            r.job_id = None
        plan.discard()
        return records
    return execute_plan(plan, registry)


def job_ref(record: RunRecord, registry: Registry | None = None, job: JobRecord | None = None) -> JobRef:
    """Rebuild the JobRef of a registered run (re-attaching after a restart)."""
    if record.job_id is None:
        raise UserError(f"run {record.run_id} has no job", hint="`rcstudio resubmit` submits it again")
    if job is None:
        job = (registry or Registry()).get_job(record.job_id)
    logs = Path(record.run_dir) / "logs"
    stdout, stderr = str(logs / LOG_STDOUT), str(logs / LOG_STDERR)
    mode, folder = ("local" if record.executor == "local" else "single"), ""
    if job is not None:
        mode, folder = job.mode, job.folder
        stdout = job.meta.get("stdout", stdout)
        stderr = job.meta.get("stderr", stderr)
    return JobRef(record.job_id, record.executor, mode, record.array_index, folder, stdout, stderr)
