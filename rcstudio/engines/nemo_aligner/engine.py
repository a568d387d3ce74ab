"""The NeMo-Aligner engine behind the seam (rcstudio/engines/base.py).

A run compiles to a Slurm hetjob (`compiled/job.sbatch`): het group 0 runs the `prepare` step and
the reward server, het group 1 the REINFORCE actor. Light at module level: compile.py (Hydra, YAML)
is imported when a run is compiled.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from rcstudio.engines import base
from rcstudio.engines.nemo_aligner.settings import Settings
from rcstudio.spec.models import SpecConflict

if TYPE_CHECKING:
    from rcstudio.compile.plan import LaunchPlan
    from rcstudio.spec.models import Spec
    from rcstudio.spec.sweep import RunSpec

NEMO_ALIGNER_VERSION = "0.7.0"


def data_parallel_size(spec: Spec) -> int:
    """Actor GPUs divided by the model-parallel size (tensor x pipeline)."""
    na: Settings = spec.rl.nemo_aligner  # type: ignore[attr-defined]
    gpus = spec.cluster.gpus_per_node * spec.cluster.nodes
    return gpus // (na.tensor_parallel * na.pipeline_parallel)


class Engine(base.Engine[Settings]):
    name = "nemo-aligner"
    table = "nemo_aligner"
    settings = Settings
    kinds: ClassVar[frozenset[str]] = frozenset({"genrm-train", "policy-rlhf"})
    target = f"nemo-aligner {NEMO_ALIGNER_VERSION} (gpt_reinforce_actor)"
    default_step = None  # the hetjob runs the actor itself; rcstudio's step in it is the shared `prepare`
    # The reward server logs the shared names itself; the actor logs its own: v0.7.0
    # nemo_aligner/algorithms/reinforce.py logs compute_rollout_metrics()["rewards"] (mean reward of the
    # rollout batch) with prefix "train_rollouts/".
    metric_names: ClassVar[dict[str, str]] = {"train_rollouts/rewards": "reward/total"}

    def check(self, spec: Spec) -> list[SpecConflict]:
        """GPU and batch divisibility NeMo-Aligner asserts at run time (algorithms/reinforce.py)."""
        out: list[SpecConflict] = []
        rl, cluster, na = spec.rl, spec.cluster, self.settings_of(spec)
        gpus = cluster.gpus_per_node * cluster.nodes
        mp = na.tensor_parallel * na.pipeline_parallel
        if gpus == 0:
            if not na.actor_command:  # a replacement actor (tests, custom clients) may run on CPUs
                out.append(SpecConflict("cluster.gpus_per_node", "the NeMo-Aligner actor needs GPUs",
                                        "set cluster.gpus_per_node (and nodes) for het group 1"))
            return out
        if gpus % mp:
            out.append(SpecConflict(
                "rl.nemo_aligner.tensor_parallel",
                f"{gpus} actor GPUs (nodes x gpus_per_node) are not divisible by tensor_parallel x "
                f"pipeline_parallel = {mp}", "make nodes * gpus_per_node a multiple of tp * pp"))
            return out
        dp = data_parallel_size(spec)
        if rl.global_batch_size % (na.rollout_micro_batch_size * dp):
            out.append(SpecConflict(
                "rl.global_batch_size",
                f"prompts per step ({rl.global_batch_size}) must be divisible by rollout_micro_batch_size "
                f"x data-parallel size = {na.rollout_micro_batch_size} x {dp}",
                f"data-parallel size = nodes*gpus_per_node/(tp*pp) = {gpus}/{mp}"))
        samples = rl.mini_batch_size * rl.rollouts_per_prompt
        if samples % (rl.micro_batch_size * dp):
            out.append(SpecConflict(
                "rl.mini_batch_size",
                f"rollouts per optimizer step (mini_batch_size x rollouts_per_prompt = {samples}) must be "
                f"divisible by micro_batch_size x data-parallel size = {rl.micro_batch_size} x {dp}",
                f"data-parallel size = nodes*gpus_per_node/(tp*pp) = {gpus}/{mp}"))
        return out

    def check_run(self, run: RunSpec) -> None:
        from rcstudio.engines.nemo_aligner import compile as na

        na.check(run)

    def training_rows(self, spec: Spec, work_dir: Path) -> list[dict[str, Any]]:
        """The `prepare` step's files read back: train_prompts.jsonl joined with ground_truth.jsonl."""
        import json

        from rcstudio.engines import prepare

        prepare.prepare_data(work_dir, spec)
        data = work_dir / "data"
        truth = {}
        for line in (data / prepare.GROUND_TRUTH_FILE).read_text(encoding="utf-8").splitlines():
            row = json.loads(line)
            truth[row["prompt_sha"]] = row
        out = []
        for line in (data / prepare.TRAIN_FILE).read_text(encoding="utf-8").splitlines():
            text = json.loads(line)["text"]
            row = truth[prepare.prompt_sha(text)]
            out.append({"prompt": text} | {k: row[k] for k in ("id", "swapped", "preference", "human_checklist")})
        return out

    def plan_artifacts(self, run: RunSpec, run_dir: Path) -> tuple[dict[str, str], LaunchPlan]:
        from rcstudio.compile.plan import LaunchPlan, cluster_fields
        from rcstudio.engines.nemo_aligner import compile as na

        na.check(run)
        items = na.override_items(run, run_dir)
        overrides = na.render_overrides(items, self.settings_of(run.spec).overrides)
        files = {
            "compiled/overrides.txt": "".join(o + "\n" for o in overrides),
            "compiled/config.yaml": na.render_config_yaml(run, items),
            "compiled/job.sbatch": na.render_sbatch(run, run_dir, overrides),
        }
        plan = LaunchPlan(mode="sbatch", script=run_dir / "compiled" / "job.sbatch", nodes=run.spec.cluster.nodes,
                          gpus_per_node=run.spec.cluster.gpus_per_node, **cluster_fields(run))
        return files, plan
