"""`[rl.verl]`: the keys only the verl engine reads (shared RL settings stay in `[rl]`).

Defaults are the paper's setup on 8-GPU nodes: vLLM rollouts, the GSPO sequence-level ratio
(`policy_loss = "gspo"`, see `mapping.py`), FSDP actor.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import Field, field_validator

from rcstudio.engines.base import EngineSettings

# verl/trainer/ppo/core_algos.py: every `@register_policy_loss(...)` of 0.9.1.
POLICY_LOSSES = ("vanilla", "gspo", "sapo", "gpg", "clip_cov", "kl_cov", "geo_mean", "dro", "cispo",
                 "dppo_tv", "dppo_kl")
# verl/workers/config/actor.py ActorConfig.__post_init__: valid_loss_agg_modes.
LOSS_AGG_MODES = ("token-mean", "token-sum", "seq-mean-token-sum", "seq-mean-token-mean",
                  "seq-mean-token-sum-norm")
# verl/experimental/reward_loop/reward_manager/: the managers the trainer can look up in 0.9.1 that
# call a custom compute_score (dapo/gdpo add their own reward shaping; remote is a Ray remote fn).
REWARD_MANAGERS = ("naive", "rate_limited")


class VerlSettings(EngineSettings):
    """Engine-only settings of `rl.engine = "verl"`; unknown keys are errors (a typo never passes)."""

    algorithms: ClassVar[tuple[str, ...]] = ("grpo",)

    rollout_engine: Literal["vllm", "sglang"] = Field("vllm", description="actor_rollout_ref.rollout.name")
    rollout_tensor_parallel: int = Field(1, gt=0, description="GPUs per rollout engine replica (recipes set what "
                                         "their model needs).")
    gpu_memory_utilization: float = Field(0.6, gt=0.0, le=1.0, description="Rollout engine's KV-cache share.")
    strategy: Literal["fsdp", "fsdp2"] = Field("fsdp", description="Actor/ref training backend.")
    policy_loss: Literal[POLICY_LOSSES] = Field(  # type: ignore[valid-type]
        "gspo", description="actor.policy_loss.loss_mode; gspo = sequence-level importance ratio.")
    loss_agg_mode: Literal[LOSS_AGG_MODES] = Field(  # type: ignore[valid-type]
        "seq-mean-token-mean", description="actor.loss_agg_mode (GSPO's recommended sequence mean).")
    kl_loss_type: Literal["kl", "k1", "abs", "mse", "k2", "low_var_kl", "k3", "full"] = "low_var_kl"
    use_dynamic_bsz: bool = Field(True, description="Pack micro-batches by tokens instead of rl.micro_batch_size.")
    max_token_len_per_gpu: int = Field(0, ge=0, description="Tokens per GPU micro-batch with dynamic bsz; "
                                                            "0 = max_prompt_tokens + max_generation_tokens.")
    gradient_checkpointing: bool = True
    param_offload: bool = False
    optimizer_offload: bool = False
    reward_manager: Literal[REWARD_MANAGERS] = "naive"  # type: ignore[valid-type]
    reward_workers: int = Field(1, gt=0, description="reward.num_workers: Ray reward-loop actors. One suffices: "
                                "compute_score is async, so one actor keeps the matcher's whole concurrency in "
                                "flight, and it alone writes the `-rm` W&B run.")
    use_v1: bool = Field(True, description="trainer.use_v1 (needs TransferQueue: verl[verl-core] on the nodes).")
    resume: Literal["auto", "disable", "resume_path"] = Field("auto", description="trainer.resume_mode.")
    resume_from: str = Field("", description="Checkpoint dir (global_step_N) when resume = resume_path.")
    max_checkpoints: int = Field(0, ge=0, description="Actor checkpoints kept; 0 = all.")
    python: str = Field("python3", description="Interpreter with verl (and vLLM) on the cluster nodes.")
    ray_port: int = Field(6379, gt=0, lt=65536)
    ray_ready_timeout_s: int = Field(600, gt=0, description="How long the job waits for every Ray node.")
    genrm_tensor_parallel: int = Field(0, ge=0, description="policy-rlhf: TP of verl's GenRM server "
                                                            "(0 = rollout_tensor_parallel).")
    overrides: list[str] = Field(default_factory=list,
                                 description="Extra verl Hydra overrides, composed and checked at compile time.")
    trainer_command: list[str] = Field(
        default_factory=list,
        description="argv replacing verl's trainer on the Ray head node (tests, custom drivers); it gets "
        "RAY_ADDRESS and RCSTUDIO_RUN_DIR. With it the job may run without GPUs.")

    @field_validator("python")
    @classmethod
    def _python(cls, value: str) -> str:
        if not value.strip() or any(ch in value for ch in "\n\r\0"):
            raise ValueError("must be an interpreter command or path on one line")
        return value


def settings_from(table: Any) -> VerlSettings:
    """The `[rl.verl]` table (a dict, a VerlSettings or None) as VerlSettings."""
    if isinstance(table, VerlSettings):
        return table
    return VerlSettings.model_validate(table or {})


Settings = VerlSettings  # the name the registry reads
