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
    from rcstudio.engines.plan import LaunchPlan
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
    default_step = None  # the hetjob runs the actor itself; rcstudio's step in it is `prepare`
    # the shared prep plus the actor's run-time overrides (data/actor_overrides.txt)
    steps: ClassVar[dict[str, base.JobStep]] = {
        "prepare": base.JobStep("prepare", "rcstudio.engines.nemo_aligner.prep", "prepare_actor_data"),
    }
    # The reward server logs the shared names itself; the actor logs its own: v0.7.0
    # nemo_aligner/algorithms/reinforce.py logs compute_rollout_metrics()["rewards"] (mean reward of the
    # rollout batch) with prefix "train_rollouts/".
    metric_names: ClassVar[dict[str, str]] = {"train_rollouts/rewards": "reward/total"}

    def check(self, spec: Spec) -> list[SpecConflict]:
        """GPU and batch divisibility NeMo-Aligner asserts at run time (algorithms/reinforce.py)."""
        out: list[SpecConflict] = []
        rl, cluster, na = spec.rl, spec.cluster, self.settings_of(spec)
        # v0.7.0 keeps the best checkpoint by val_rewards (exp_manager checkpoint_callback_params)
        both = sorted(set(spec.data.train) & set(spec.data.eval))
        if both:
            out.append(SpecConflict(
                "data.eval", f"{both[0]!r} is both a training source and an evaluation split: validation "
                "(a held-out slice of data.train) and checkpoint selection would see evaluation items",
                "evaluate on a split you do not train on; validation comes from data.val_items of data.train"))
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
        # v0.7.0 gathers the whole rollout batch onto every data-parallel rank, so each rank runs
        # all mini_batch_size x rollouts_per_prompt rollouts of an optimizer step in micro-batches
        # (batching.py): only micro_batch_size has to divide them.
        samples = rl.mini_batch_size * rl.rollouts_per_prompt
        if samples % rl.micro_batch_size:
            out.append(SpecConflict(
                "rl.micro_batch_size",
                f"rollouts per optimizer step (mini_batch_size x rollouts_per_prompt = {samples}) must be "
                f"divisible by micro_batch_size ({rl.micro_batch_size})",
                "pick a micro_batch_size that divides mini_batch_size x rollouts_per_prompt"))
        return out

    def check_run(self, run: RunSpec) -> None:
        from rcstudio.engines.nemo_aligner import compile as na

        na.check(run)

    def warnings(self, run: RunSpec) -> list[str]:
        """The container image does not visibly bundle NeMo-Aligner v0.7.0 (container.py)."""
        from rcstudio.engines.nemo_aligner.container import image_warning

        warning = image_warning(run.spec.cluster.container_image)
        return [warning] if warning else []

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
        from rcstudio.engines.plan import LaunchPlan, cluster_fields
        from rcstudio.engines.nemo_aligner import compile as na

        na.check(run)
        items = na.override_items(run, run_dir)
        overrides = na.render_overrides(items, self.settings_of(run.spec).overrides)
        files = {
            "compiled/overrides.txt": "".join(o + "\n" for o in overrides),
            "compiled/config.yaml": na.render_config_yaml(run, items),
            "compiled/job.sbatch": na.render_sbatch(run, run_dir, overrides),
            na.ACTOR_AUTH_REL: na.actor_auth_source(),
        }
        plan = LaunchPlan(mode="sbatch", script=run_dir / "compiled" / "job.sbatch", nodes=run.spec.cluster.nodes,
                          gpus_per_node=run.spec.cluster.gpus_per_node, **cluster_fields(run))
        return files, plan
