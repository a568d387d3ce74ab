"""What a compiled job runs: `rcstudio run-job --run-dir DIR [--step ...]`.

Reads the run dir's `spec.resolved.toml` and hands the run to the code for its step: the shared
steps (`eval` -> `rcstudio.evals.job.run_eval_job`, `decompose` -> `rcstudio.engines.decompose_job.
run_decompose_job`, `prepare` -> `rcstudio.engines.prepare.prepare_data`, the first step of a
NeMo-Aligner hetjob) or a step of the run's engine (`Engine.steps` in the engine registry, e.g.
`train` for TRL). Every outcome, including a failure with its traceback, is appended to
`logs/run-job.log` in the run dir, so a failed job always leaves one clear line saying what went
wrong.
"""

from __future__ import annotations

import logging
import time
import traceback
from pathlib import Path
from typing import Any

from rcstudio.engines import registry as engines
from rcstudio.paths import PKG_PREFIX, resolve_source
from rcstudio.engines.base import JobStep
from rcstudio.errors import JobFailed, UserError
from rcstudio.spec.models import Spec

JOB_LOG = "run-job.log"
FAILURE_FILE = "failure.json"  # in logs/: the one-line reason a job failed (what `submit --wait` prints)


def _write_failure(run_dir: Path, step: str, message: str) -> None:
    import json

    try:
        (run_dir / "logs" / FAILURE_FILE).write_text(
            json.dumps({"step": step, "reason": message, "time": time.time()}) + "\n", encoding="utf-8")
    except OSError:
        pass


def failure_reason(run_dir: str | Path) -> str | None:
    """Why the job of `run_dir` failed, as its job wrote it (None when it wrote nothing)."""
    import json

    try:
        data = json.loads((Path(run_dir) / "logs" / FAILURE_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    reason = data.get("reason") if isinstance(data, dict) else None
    return str(reason) if reason else None

Target = JobStep  # the name callers knew
__all__ = ["PKG_PREFIX", "SHARED_STEPS", "Target", "choose_target", "default_step", "resolve_source",
           "resolve_sources", "run_job"]

# Steps of every run, whatever its engine.
SHARED_STEPS = {
    "prepare": JobStep("prepare", "rcstudio.engines.prepare", "prepare_data"),
    "eval": JobStep("eval", "rcstudio.evals.job", "run_eval_job"),
    "decompose": JobStep("decompose", "rcstudio.engines.decompose_job", "run_decompose_job"),
}
KIND_STEPS = {"eval": "eval", "data": "decompose"}  # the default step of the kinds no engine trains


def steps_of(spec: Spec) -> dict[str, JobStep]:
    """Every step `run-job` can run for this spec: the shared ones and the spec's engine's."""
    return SHARED_STEPS | engines.get(spec.rl.engine).steps


def all_step_names() -> list[str]:
    names = dict.fromkeys(SHARED_STEPS)
    for engine in engines.all_engines():
        names.update(dict.fromkeys(engine.steps))
    return list(names)


def default_step(spec: Spec) -> str:
    """The step a run executes when `--step` is not given (pure)."""
    kind = spec.experiment.kind
    if kind in KIND_STEPS:
        return KIND_STEPS[kind]
    engine = engines.get(spec.rl.engine)
    if kind not in engine.kinds:
        raise UserError(f"experiment kind {kind!r} does not run on the {engine.name} engine", key="rl.engine")
    if engine.default_step is None:
        single = [e.name for e in engines.all_engines() if e.default_step and kind in e.kinds]
        raise UserError(
            f"{kind} on the {engine.name} engine runs as a compiled job ({engine.target}, e.g. a hetjob "
            f"in compiled/job.sbatch); its rcstudio steps are only: {', '.join(steps_of(spec))}",
            key="rl.engine",
            hint="use `rcstudio submit` on the spec" + (f', or set rl.engine = "{single[0]}" for one process'
                                                         if single else ""))
    return engine.default_step


def choose_target(spec: Spec, step: str | None) -> JobStep:
    """`--step` (validated) or the spec's default step -> the function to call."""
    step = step or default_step(spec)
    available = steps_of(spec)
    if step not in available:
        owners = [e.name for e in engines.all_engines() if step in e.steps]
        if owners:
            raise UserError(f"the {step} step runs the {' or '.join(owners)} engine only", key="rl.engine",
                            hint=f'set rl.engine = "{owners[0]}"')
        raise UserError(f"unknown step {step!r}", hint="one of: " + ", ".join(all_step_names()))
    return available[step]


def resolve_sources(spec: Spec) -> Spec:
    """A copy of the spec whose data sources name real files (`pkg://` resolved)."""
    data = spec.data.model_copy(update={
        "train": [resolve_source(s) for s in spec.data.train],
        "eval": [resolve_source(s) for s in spec.data.eval],
    })
    update: dict[str, Any] = {"data": data}
    if getattr(spec, "decompose", None) is not None and spec.decompose.input:
        update["decompose"] = spec.decompose.model_copy(update={"input": resolve_source(spec.decompose.input)})
    return spec.model_copy(update=update)


def _job_logger(run_dir: Path) -> logging.Logger:
    logs = run_dir / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    logger = logging.getLogger(f"rcstudio.run-job.{run_dir}")
    logger.setLevel(logging.INFO)
    logger.propagate = False
    if not logger.handlers:
        handler = logging.FileHandler(logs / JOB_LOG, encoding="utf-8")
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
        logger.addHandler(handler)
    return logger


def run_job(run_dir: str | Path, step: str | None = None) -> Any:
    """Load the resolved spec of `run_dir` and run its step; failures raise JobFailed (exit 1)."""
    from rcstudio.spec import RESOLVED_NAME, load_resolved

    run_dir = Path(run_dir).resolve()
    if not (run_dir / RESOLVED_NAME).is_file():
        raise UserError(f"{run_dir} is not a run dir: {RESOLVED_NAME} is missing",
                        hint="pass a directory written by `rcstudio compile` or `rcstudio submit`")
    logger = _job_logger(run_dir)
    (run_dir / "logs" / FAILURE_FILE).unlink(missing_ok=True)  # a rerun starts clean
    started = time.time()
    target_name = step or "default"
    from rcstudio.job_times import mark_end, mark_start

    timed = step in (None, "train", "eval", "decompose")  # the run's own job, not a hetjob's prepare step
    if timed:  # the registry's runtime comes from here (local jobs), not from when a command polled
        mark_start(run_dir, started)
    outcome = "FAILED"
    try:
        spec = load_resolved(run_dir)
        target = choose_target(spec, step)
        target_name = target.step
        logger.info("run-job %s: step %s -> %s.%s", run_dir.name, target.step, target.module, target.function)
        job_spec = resolve_sources(spec)
        result = target.load()(run_dir, job_spec)
        outcome = "COMPLETED"
    except KeyboardInterrupt:
        outcome = "CANCELLED"
        raise
    except (UserError, JobFailed) as exc:
        message = exc.render() if isinstance(exc, UserError) else str(exc)
        logger.error("run-job %s: step %s failed: %s", run_dir.name, target_name, message.replace("\n", " "))
        _write_failure(run_dir, target_name, message.removeprefix("error: "))
        if isinstance(exc, UserError):
            # inside a job a bad spec is a failed job (exit 1), with the user's message intact
            raise JobFailed(message.removeprefix("error: ")) from exc
        raise
    except Exception as exc:
        logger.error("run-job %s: step %s failed: %s: %s\n%s", run_dir.name, target_name, type(exc).__name__,
                     exc, traceback.format_exc())
        _write_failure(run_dir, target_name, f"{type(exc).__name__}: {exc}")
        raise JobFailed(f"step {target_name} failed: {type(exc).__name__}: {exc} (see {run_dir / 'logs' / JOB_LOG})") from exc
    finally:
        if timed:
            mark_end(run_dir, outcome)
    logger.info("run-job %s: step %s done in %.1f s", run_dir.name, target_name, time.time() - started)
    return result
