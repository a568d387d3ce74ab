"""Batch units and the LR schedule, as NeMo-Aligner v0.7.0's REINFORCE code uses them (pure math).

Read from the v0.7.0 tag (NVIDIA/NeMo-Aligner, 2025-03-12) and the NeMo commit its Dockerfile pins
(NEMO_TAG 633cb60, "On: v2.1.0"):

* `nemo_aligner/algorithms/reinforce.py`: the actor's dataloader hands every data-parallel (DP)
  rank `num_rollout_samples / DP` prompts; each is rolled out `num_rollouts_per_prompt` times;
  `ReinforceRolloutBatch.gather_and_balance_globally` all-gathers (`utils/distributed.py`
  `rebalance_nd_tensor`) and `chunk` keeps ALL indices, so every DP rank holds the whole rollout
  batch of R = num_rollout_samples x num_rollouts_per_prompt rollouts. `fit` then splits it with
  `get_iterator_k_split(batch, R / (model_gbs / DP))`: one optimizer step per chunk of
  model_gbs / DP rollouts, the same chunk on every rank (the DP all-reduce averages identical
  gradients). So distinct rollouts per optimizer step = model_gbs / DP, and optimizer steps per
  REINFORCE step = R x DP / model_gbs.
* `models/nlp/gpt/megatron_gpt_reinforce_actor.py` `prepare_for_training`: num micro-batches =
  model_gbs / (micro_batch_size x DP), each of micro_batch_size rollouts per rank.
* Hence the spec's `mini_batch_size` prompts per optimizer step compile to
  `model.global_batch_size = mini_batch_size x rollouts_per_prompt x DP`, giving
  global_batch_size / mini_batch_size optimizer steps per REINFORCE step (the paper's 2).
* `utils/trainer_utils.py` `compute_num_steps_per_epoch`: REINFORCE steps per epoch =
  train_prompts // num_rollout_samples (drop_last); `set_max_steps`: x max_epochs, capped by
  trainer.reinforce.max_steps when >= 0.
* LR: `train_gpt_reinforce_actor.py` builds the scheduler through NeMo's `ModelPT.setup_optimization`
  (`nemo/core/classes/modelPT.py`): with `trainer.max_steps >= 0` it forces sched.max_steps =
  trainer.max_steps, which the actor YAML ties to the REINFORCE step count (wrong units), so the
  compiler sets `trainer.max_steps=-1` and an explicit `model.optim.sched.max_steps` = optimizer
  steps, which `prepare_lr_scheduler` (`nemo/core/optim/lr_scheduler.py`) then uses as is.
  `CosineAnnealing` with `constant_steps = 0` is `WarmupAnnealHoldPolicy`: LR(s) = lr x (s+1)/(W+1)
  for s <= W (W = warmup_steps > 0), then `_cosine_annealing(lr, s - W, max_steps - W, min_lr)`,
  and min_lr past max_steps. min_lr = lr makes it constant after warmup.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


def data_parallel(nodes: int, gpus_per_node: int, tensor_parallel: int, pipeline_parallel: int) -> int:
    """Megatron's DP size: actor GPUs / (TP x PP) (at least 1, for CPU-only replacement actors)."""
    return max(1, (nodes * gpus_per_node) // (tensor_parallel * pipeline_parallel))


@dataclass(frozen=True)
class Batching:
    """The v0.7.0 batch values a spec compiles to, and what they mean there."""

    dp: int
    num_rollout_samples: int  # model.reinforce.num_rollout_samples: prompts per REINFORCE step
    rollouts_per_prompt: int
    model_gbs: int  # model.global_batch_size
    micro_batch_size: int

    @property
    def rollouts_per_rl_step(self) -> int:
        return self.num_rollout_samples * self.rollouts_per_prompt

    @property
    def rollouts_per_optimizer_step(self) -> int:
        """Distinct rollouts per optimizer step: fit's chunk, model_gbs / DP."""
        return self.model_gbs // self.dp

    @property
    def optimizer_steps_per_rl_step(self) -> int:
        """fit: get_iterator_k_split(rollouts, rollout_size / (model_gbs / DP))."""
        return self.rollouts_per_rl_step // self.rollouts_per_optimizer_step

    @property
    def micro_batches_per_optimizer_step(self) -> int:
        """configure_batch_sizes(mbs, gbs, dp): gbs / (mbs x DP) per rank."""
        return self.model_gbs // (self.micro_batch_size * self.dp)


def batching(spec: Any) -> Batching:
    """The compiled batch values: global_batch_size = mini_batch_size x rollouts_per_prompt x DP."""
    rl, c, na = spec.rl, spec.cluster, spec.rl.nemo_aligner
    dp = data_parallel(c.nodes, c.gpus_per_node, na.tensor_parallel, na.pipeline_parallel)
    return Batching(dp=dp, num_rollout_samples=rl.global_batch_size, rollouts_per_prompt=rl.rollouts_per_prompt,
                    model_gbs=rl.mini_batch_size * rl.rollouts_per_prompt * dp,
                    micro_batch_size=rl.micro_batch_size)


def rl_steps(train_prompts: int, num_rollout_samples: int, epochs: int, max_steps: int) -> int:
    """REINFORCE steps v0.7.0 runs: (train_prompts // num_rollout_samples) x epochs, capped by max_steps."""
    steps = (train_prompts // num_rollout_samples) * epochs
    return min(steps, max_steps) if max_steps >= 0 else steps


def optimizer_steps(spec: Any, train_prompts: int) -> int:
    """Total optimizer steps of a run on `train_prompts` prompts (the scheduler's max_steps)."""
    b = batching(spec)
    return rl_steps(train_prompts, b.num_rollout_samples, spec.rl.epochs, spec.rl.max_steps) * b.optimizer_steps_per_rl_step


def val_samples(spec: Any, val_prompts: int) -> int:
    """num_val_samples: the validation prompts, rounded down to whole rollout batches
    (`compute_num_rollout_microbatches` divides num_val_samples by val_rollout_micro_batch_size x DP;
    the sampler drops the rest). 0 when fewer than one batch (v0.7.0 then raises IndexError)."""
    unit = spec.rl.nemo_aligner.rollout_micro_batch_size * batching(spec).dp
    return (val_prompts // unit) * unit


def expected_val_prompts(spec: Any) -> int | None:
    """Validation prompts the held-out slice gives before length filtering (swap = both doubles it);
    None when data.val_items = 0 (5% of the data, known only once prep has read it)."""
    if not spec.data.val_items:
        return None
    both = spec.data.swap == "both" and spec.experiment.kind != "policy-rlhf"  # policy prompts ignore swap
    return spec.data.val_items * (2 if both else 1)


def sched_values(spec: Any, total_optimizer_steps: int) -> dict[str, Any]:
    """model.optim.sched for the spec's schedule (CosineAnnealing, constant_steps = 0)."""
    rl = spec.rl
    floor = rl.lr if rl.lr_schedule == "constant" else rl.min_lr
    return {"name": "CosineAnnealing", "warmup_steps": rl.lr_warmup_steps, "constant_steps": 0,
            "min_lr": floor, "max_steps": max(total_optimizer_steps, rl.lr_warmup_steps + 1)}

