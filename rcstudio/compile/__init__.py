"""Compile a run into its run directory: resolved spec, engine artifacts and a launch plan.

`compile_run(run, run_dir)` dispatches on the engine and kind: NeMo-Aligner training runs get a
Hydra override list, the composed config and a hetjob sbatch script (`mode="sbatch"`); TRL, eval
and data runs get `rcstudio run-job --run-dir DIR` as a command (`mode="command"`). Everything is
computed before anything is written, and the same RunSpec gives byte-identical files.
"""

from __future__ import annotations

import json
from pathlib import Path

from rcstudio import __version__
from rcstudio.compile.plan import CompiledRun, LaunchPlan
from rcstudio.errors import UserError
from rcstudio.spec.resolved import RESOLVED_NAME, dump_resolved, load_resolved, spec_hash
from rcstudio.spec.sweep import RunSpec

RUN_SUBDIRS = ("compiled", "data", "logs", "results", "checkpoints", "wandb")

__all__ = ["CompiledRun", "LaunchPlan", "compile_run", "plan_artifacts", "uses_nemo_aligner"]


def uses_nemo_aligner(run: RunSpec) -> bool:
    spec = run.spec
    return spec.experiment.kind in ("genrm-train", "policy-rlhf") and spec.rl.engine == "nemo-aligner"


def needs_gpus(run: RunSpec) -> bool:
    """Whether a command job needs the spec's GPUs: data jobs and evals that call a remote judge
    endpoint or only re-score stored outputs run on CPUs, so they do not wait for a GPU allocation."""
    spec = run.spec
    if spec.experiment.kind == "data":
        return False
    if spec.experiment.kind == "eval":
        return not (spec.judge.endpoint or spec.eval.stored_judges)
    return True


def _cluster_fields(run: RunSpec) -> dict:
    """The plan fields copied from `[cluster]` as they are (both plan modes share them)."""
    c = run.spec.cluster
    return {"job_name": f"rcs-{run.name}", "cpus_per_task": c.cpus_per_task, "mem": c.mem, "time": c.time,
            "partition": c.partition, "account": c.account, "qos": c.qos, "sbatch_extra": c.sbatch_extra,
            "setup": c.setup, "array_parallelism": c.array_parallelism}


def _command_plan(run: RunSpec, run_dir: Path) -> LaunchPlan:
    c = run.spec.cluster
    single_node = run.spec.experiment.kind != "genrm-train" or run.spec.rl.engine == "trl"
    return LaunchPlan(
        mode="command",
        argv=["rcstudio", "run-job", "--run-dir", str(run_dir)],
        nodes=1 if single_node else c.nodes,
        gpus_per_node=c.gpus_per_node if needs_gpus(run) else 0,
        **_cluster_fields(run),
    )


def plan_artifacts(run: RunSpec, run_dir: Path) -> tuple[dict[str, str], LaunchPlan]:
    """Every file of the run dir (relative path -> text) and the launch plan; writes nothing."""
    run_dir = Path(run_dir).absolute()
    if any(ch in str(run_dir) for ch in '\n"'):
        raise UserError(f"run directory {str(run_dir)!r} holds a newline or a double quote",
                        key="cluster.runs_root", hint="pick a plain path")
    files: dict[str, str] = {RESOLVED_NAME: dump_resolved(run.spec)}
    if uses_nemo_aligner(run):
        from rcstudio.compile import nemo_aligner as na

        na.check(run)
        items = na.override_items(run, run_dir)
        overrides = na.render_overrides(items, run.spec.rl.engine_overrides)
        files["compiled/overrides.txt"] = "".join(o + "\n" for o in overrides)
        files["compiled/config.yaml"] = na.render_config_yaml(run, items)
        files["compiled/job.sbatch"] = na.render_sbatch(run, run_dir, overrides)
        plan = LaunchPlan(mode="sbatch", script=run_dir / "compiled" / "job.sbatch", nodes=run.spec.cluster.nodes,
                          gpus_per_node=run.spec.cluster.gpus_per_node, **_cluster_fields(run))
        target = f"nemo-aligner {na.NEMO_ALIGNER_VERSION} ({na.CONFIG_NAME})"
    else:
        plan = _command_plan(run, run_dir)
        target = "rcstudio run-job"
    meta = {
        "run_id": run.run_id,
        "name": run.name,
        "experiment": run.spec.experiment.name,
        "kind": run.spec.experiment.kind,
        "engine": run.spec.rl.engine,
        "point": run.point,
        "spec_hash": run.spec_hash,
        "target": target,
        "rcstudio_version": __version__,
        "plan": {
            "mode": plan.mode,
            "argv": plan.argv,
            "script": str(plan.script.relative_to(run_dir)) if plan.script else None,
            "nodes": plan.nodes,
            "gpus_per_node": plan.gpus_per_node,
            "cpus_per_task": plan.cpus_per_task,
            "time": plan.time,
        },
    }
    files["compiled/run.json"] = json.dumps(meta, indent=2, sort_keys=True) + "\n"
    return files, plan


def compile_run(run: RunSpec, run_dir: Path) -> CompiledRun:
    """Write the run directory of `run` and return how to launch it (raises UserError)."""
    run_dir = Path(run_dir).absolute()
    files, plan = plan_artifacts(run, run_dir)
    for sub in RUN_SUBDIRS:
        (run_dir / sub).mkdir(parents=True, exist_ok=True)
    for rel, text in files.items():
        path = run_dir / rel
        path.write_text(text, encoding="utf-8")
        if rel.endswith(".sbatch"):
            path.chmod(0o755)
    return CompiledRun(run=run, run_dir=run_dir, plan=plan, files=[Path(p) for p in files])


def read_run_meta(run_dir: Path) -> dict:
    """`compiled/run.json` of a compiled run dir (run id, name, point, hash, plan summary)."""
    path = Path(run_dir) / "compiled" / "run.json"
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UserError(f"{run_dir} is not a compiled run directory (no compiled/run.json)") from None


def load_run(run_dir: Path) -> RunSpec:
    """The RunSpec a run directory was compiled from (for resubmission and export)."""
    spec = load_resolved(run_dir)
    meta = read_run_meta(run_dir)
    digest = spec_hash(spec)
    return RunSpec(spec=spec, run_id=meta.get("run_id") or f"{spec.experiment.name}-{digest[:8]}",
                   name=meta.get("name", spec.experiment.name), point=meta.get("point") or {}, spec_hash=digest)
