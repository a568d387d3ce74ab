"""The verl engine behind the seam (rcstudio/engines/base.py).

A run compiles to a Slurm job (`compiled/job.sbatch`) that brings up Ray over its nodes and runs
`verl.trainer.main_ppo`; rcstudio's step inside it is `prepare` (parquet for verl's RLHFDataset),
and the reward runs inside verl's reward loop (`engines/verl/reward.py`). Light at module level:
compile.py (Hydra through the verl Python) is imported when a run is checked or compiled.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from rcstudio.engines import base
from rcstudio.engines.verl import VERL_VERSION
from rcstudio.engines.verl.settings import Settings
from rcstudio.spec.models import SpecConflict

if TYPE_CHECKING:
    from rcstudio.engines.plan import LaunchPlan
    from rcstudio.spec.models import Spec
    from rcstudio.spec.sweep import RunSpec


class Engine(base.Engine[Settings]):
    name = "verl"
    table = "verl"
    settings = Settings
    kinds: ClassVar[frozenset[str]] = frozenset({"genrm-train", "policy-rlhf"})
    target = f"verl {VERL_VERSION} (ppo_trainer, GRPO)"
    # verl reads parquet: its `prepare` replaces the shared JSONL one (same prompt selection)
    steps: ClassVar[dict[str, base.JobStep]] = {
        "prepare": base.JobStep("prepare", "rcstudio.engines.verl.data", "prepare_parquet"),
    }
    default_step = None  # the run is the compiled Ray job
    # verl/trainer/ppo/metric_utils.py compute_data_metrics: "critic/score/mean" = mean sequence score,
    # i.e. the mean reward of the step's rollouts (the reward module logs the parts to "<id>-rm").
    metric_names: ClassVar[dict[str, str]] = {"critic/score/mean": "reward/total"}

    def check(self, spec: Spec) -> list[SpecConflict]:
        from rcstudio.engines.verl.compile import conflicts

        return conflicts(spec, self.settings_of(spec))

    def check_run(self, run: RunSpec) -> None:
        from rcstudio.engines.verl.compile import check

        check(run)

    def check_runs(self, runs: list[RunSpec]) -> None:
        from rcstudio.engines.verl.compile import prefetch

        prefetch(runs)  # every point of a sweep composed and validated in ONE verl process
        for run in runs:
            self.check_run(run)

    def training_rows(self, spec: Spec, work_dir: Path) -> list[dict[str, Any]]:
        from rcstudio.engines.verl.data import training_rows

        return training_rows(work_dir, spec)

    def plan_artifacts(self, run: RunSpec, run_dir: Path) -> tuple[dict[str, str], LaunchPlan]:
        from rcstudio.engines.plan import LaunchPlan, cluster_fields
        from rcstudio.engines.verl.compile import artifacts

        files, fields = artifacts(run, Path(run_dir))
        return files, LaunchPlan(**fields, **cluster_fields(run))
