"""Compile a run into its run directory: resolved spec, engine artifacts and a launch plan.

`compile_run(run, run_dir)` asks the run's engine (rcstudio.engines.registry) for its files and
plan when the run trains (e.g. NeMo-Aligner: Hydra overrides, composed config and a hetjob sbatch
script, `mode="sbatch"`); eval and data runs get `rcstudio run-job --run-dir DIR` as a command
(`mode="command"`). Everything is computed before anything is written, and the same RunSpec gives
byte-identical files.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from rcstudio import __version__
from rcstudio.compile.plan import CompiledRun, LaunchPlan, command_plan
from rcstudio.engines import registry as engines
from rcstudio.engines.base import Engine
from rcstudio.errors import UserError
from rcstudio.spec.resolved import RESOLVED_NAME, dump_resolved, load_resolved, spec_hash
from rcstudio.spec.sweep import RunSpec

RUN_SUBDIRS = ("compiled", "data", "logs", "results", "checkpoints", "wandb")

__all__ = ["CompiledRun", "LaunchPlan", "compile_run", "engine_for", "plan_artifacts"]


def engine_for(run: RunSpec) -> Engine[Any] | None:
    """The engine that runs `run`: its `rl.engine` when the run trains (kinds the engine trains), else None."""
    engine = engines.get(run.spec.rl.engine)
    return engine if run.spec.experiment.kind in engine.kinds else None


def plan_artifacts(run: RunSpec, run_dir: Path) -> tuple[dict[str, str], LaunchPlan]:
    """Every file of the run dir (relative path -> text) and the launch plan; writes nothing."""
    run_dir = Path(run_dir).absolute()
    if any(ch in str(run_dir) for ch in '\n"'):
        raise UserError(f"run directory {str(run_dir)!r} holds a newline or a double quote",
                        key="cluster.runs_root", hint="pick a plain path")
    files: dict[str, str] = {RESOLVED_NAME: dump_resolved(run.spec)}
    engine = engine_for(run)
    if engine is not None:
        engine_files, plan = engine.plan_artifacts(run, run_dir)
        files.update(engine_files)
        target = engine.target
    else:
        plan = command_plan(run, run_dir)
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
