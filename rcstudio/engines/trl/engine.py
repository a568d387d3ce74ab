"""The TRL engine behind the seam (rcstudio/engines/base.py): one `rcstudio run-job` process
(or `accelerate launch` of it) on one node; train.py is imported only when the job runs."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from rcstudio.engines import base
from rcstudio.engines.trl.settings import Settings

if TYPE_CHECKING:
    from rcstudio.compile.plan import LaunchPlan
    from rcstudio.spec.models import Spec
    from rcstudio.spec.sweep import RunSpec


class Engine(base.Engine[Settings]):
    name = "trl"
    table = "trl"
    settings = Settings
    kinds: ClassVar[frozenset[str]] = frozenset({"genrm-train"})
    target = "rcstudio run-job"
    steps: ClassVar[dict[str, base.JobStep]] = {
        "train": base.JobStep("train", "rcstudio.engines.trl.train", "run_training"),
    }
    default_step = "train"
    # train.py logs the reward function's components under the shared names already (grpo_reward.py);
    # the trainer's own log keys go to W&B under train/ (train.shared_log).
    metric_names: ClassVar[dict[str, str]] = {}

    def training_rows(self, spec: Spec, work_dir: Path) -> list[dict[str, Any]]:
        from rcstudio.engines.prepare import training_prompts
        from rcstudio.engines.trl.train import dataset_rows

        rows = dataset_rows(training_prompts(spec, with_val=False).train)  # what run_training hands GRPOTrainer
        return [{k: r[k] for k in ("prompt", "swapped", "preference", "human_checklist")} | {"id": r["item_id"]}
                for r in rows]

    def plan_artifacts(self, run: RunSpec, run_dir: Path) -> tuple[dict[str, str], LaunchPlan]:
        from rcstudio.compile.plan import command_plan

        return {}, command_plan(run, run_dir, nodes=1)  # single node: TRL has no multi-node launcher here
