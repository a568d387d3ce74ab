"""Real offline W&B runs with made-up curves, for tests, benchmarks and demos.

They are written by the real wandb library (offline mode), so they exercise the same `.wandb`
files a cluster job leaves behind. The curves mimic the rationale-degeneration picture: outcome
reward climbs for every alpha, rationale reward holds up only when alpha weights it.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from rcstudio.tracking.wandb_log import init_run


def curves(step: int, steps: int, alpha: float) -> dict[str, float]:
    """Deterministic reward curves at `step` of `steps` for a run with rationale weight `alpha`."""
    t = step / max(1, steps - 1)
    outcome = 0.55 + 0.35 * (1 - math.exp(-4 * t)) + 0.01 * math.sin(step / 3)
    rationale = 0.6 + (alpha - 0.5) * 0.5 * t + 0.01 * math.cos(step / 5)
    return {
        "reward/outcome": round(outcome, 6),
        "reward/rationale": round(rationale, 6),
        "reward/total": round(alpha * rationale + (1 - alpha) * outcome, 6),
    }


def write_run(
    run_dir: str | Path,
    run_id: str,
    *,
    alpha: float = 0.5,
    steps: int = 50,
    experiment: str = "genrm-additive",
    job_type: str = "train",
    summary: dict[str, Any] | None = None,
    finish: bool = True,
    exit_code: int = 0,
) -> Any:
    """Log `steps` rows of `curves` to an offline run under `run_dir/wandb/`; returns the run."""
    from rcstudio.spec.models import Spec

    spec = Spec.model_validate({
        "experiment": {"name": experiment, "kind": "eval"},  # a training spec's checks need data
        "reward": {"form": "additive", "alpha": alpha},
        "tracking": {"mode": "offline", "project": "rcstudio", "group": ""},
    })
    run = init_run(spec, run_dir, run_id, job_type, name=run_id)
    for step in range(steps):
        run.log(curves(step, steps, alpha), step=step)
    for key, value in (summary or {}).items():
        run.summary[key] = value
    if finish:
        run.finish(exit_code=exit_code)
        from rcstudio.tracking.offline import wait_finished

        wait_finished(run_dir, run_id)  # wandb-core may still be flushing the file
    return run
