"""The spec as verl 0.9.1 Hydra overrides: shared `[rl]` settings in verl's units (pure).

Every mapping names the upstream file it follows (paths inside the verl 0.9.1 wheel). Units:
`data.train_batch_size` and `actor.ppo_mini_batch_size` count PROMPTS (verl multiplies them by
`rollout.n` itself), the `*_micro_batch_size_per_gpu` keys count SAMPLES (rollouts) per GPU.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rcstudio.engines.verl.settings import VerlSettings

CONFIG_NAME = "ppo_trainer"  # verl/trainer/config/ppo_trainer.yaml (what main_ppo's @hydra.main loads)
TRAIN_PARQUET = "train.parquet"
VAL_PARQUET = "val.parquet"
DATA_SOURCE = "rcstudio/genrm"        # parquet `data_source`: the reward module's dispatch key
POLICY_DATA_SOURCE = "rcstudio/policy"
REWARD_MODULE = "pkg://rcstudio.engines.verl.reward"  # verl/utils/import_utils.py load_extern_object: pkg://
REWARD_FUNCTION = "compute_score"

Item = tuple[str, Any, bool]  # (key, value, add: key absent from verl's YAML -> `++key=`)


def model_path(spec: Any) -> str:
    return spec.policy.model if spec.experiment.kind == "policy-rlhf" else spec.judge.model


def override_items(spec: Any, settings: VerlSettings, run_dir: Path, *, run_name: str, run_id: str) -> list[Item]:
    """(key, value, add) for `ppo_trainer`, without `settings.overrides` (appended last by the caller)."""
    rl, cluster, tracking = spec.rl, spec.cluster, spec.tracking
    data = Path(run_dir) / "data"
    aro = "actor_rollout_ref"
    max_tokens = settings.max_token_len_per_gpu or (rl.max_prompt_tokens + rl.max_generation_tokens)
    o: list[tuple[str, Any]] = [
        # verl/trainer/config/algorithm.py AlgoConfig.adv_estimator; GRPO = group-relative, no critic
        # (verl/trainer/ppo/utils.py need_critic is False for grpo).
        ("algorithm.adv_estimator", "grpo"),
        # verl/trainer/config/data/legacy_data.yaml: parquet lists; `prompt` holds chat messages.
        ("data.train_files", [str(data / TRAIN_PARQUET)]),
        ("data.val_files", [str(data / VAL_PARQUET)]),
        # legacy_data.yaml train_batch_size = prompts per step (ray_trainer repeats each by rollout.n):
        # rl.global_batch_size is prompts per step too - same unit.
        ("data.train_batch_size", rl.global_batch_size),
        ("data.max_prompt_length", rl.max_prompt_tokens),
        ("data.max_response_length", rl.max_generation_tokens),
        ("data.seed", rl.seed),
        # hf_model.yaml: the HF checkpoint the actor, the reference and the rollout load.
        (f"{aro}.model.path", model_path(spec)),
        (f"{aro}.model.enable_gradient_checkpointing", settings.gradient_checkpointing),
        (f"{aro}.actor.strategy", settings.strategy),
        (f"{aro}.ref.strategy", settings.strategy),
        (f"{aro}.actor.optim.lr", rl.lr),
        # actor.yaml ppo_mini_batch_size is in prompts; v1/trainer_base.py multiplies it by rollout.n
        # (and the worker divides by the data-parallel size): rl.mini_batch_size is prompts -> as is.
        (f"{aro}.actor.ppo_mini_batch_size", rl.mini_batch_size),
        # actor.yaml ppo_micro_batch_size_per_gpu counts samples per GPU = rl.micro_batch_size
        # ("rollouts per GPU per training forward/backward"); the log-prob passes use the same.
        (f"{aro}.actor.ppo_micro_batch_size_per_gpu", rl.micro_batch_size),
        (f"{aro}.rollout.log_prob_micro_batch_size_per_gpu", rl.micro_batch_size),
        (f"{aro}.ref.log_prob_micro_batch_size_per_gpu", rl.micro_batch_size),
        # dynamic batch size packs micro-batches up to this many tokens (prompt + response by default).
        (f"{aro}.actor.use_dynamic_bsz", settings.use_dynamic_bsz),
        (f"{aro}.actor.ppo_max_token_len_per_gpu", max_tokens),
        # actor.yaml use_kl_loss/kl_loss_coef: GRPO's KL sits in the loss; rl.kl_beta = its coefficient.
        (f"{aro}.actor.use_kl_loss", rl.kl_beta > 0),
        (f"{aro}.actor.kl_loss_coef", rl.kl_beta),
        (f"{aro}.actor.kl_loss_type", settings.kl_loss_type),
        # core_algos.py compute_policy_loss_gspo clips the SEQUENCE-level ratio
        # (pi/pi_old)^(1/|y|) to [1 - clip_ratio_low, 1 + clip_ratio_high]: the paper's clip 2e-4 is
        # rl.clip_ratio on both sides with policy_loss = "gspo".
        (f"{aro}.actor.clip_ratio", rl.clip_ratio),
        (f"{aro}.actor.clip_ratio_low", rl.clip_ratio),
        (f"{aro}.actor.clip_ratio_high", rl.clip_ratio),
        (f"{aro}.actor.policy_loss.loss_mode", settings.policy_loss),
        (f"{aro}.actor.loss_agg_mode", settings.loss_agg_mode),
        (f"{aro}.actor.fsdp_config.param_offload", settings.param_offload),
        (f"{aro}.actor.fsdp_config.optimizer_offload", settings.optimizer_offload),
        (f"{aro}.ref.fsdp_config.param_offload", settings.param_offload),
        # rollout.yaml: n = rollouts per prompt (GRPO's group), sampling as the spec says; top_k -1 =
        # no top-k cut (the judge's "top K reasons" is judge.top_k in the prompt, not a sampler knob).
        (f"{aro}.rollout.name", settings.rollout_engine),
        (f"{aro}.rollout.n", rl.rollouts_per_prompt),
        (f"{aro}.rollout.temperature", rl.temperature),
        (f"{aro}.rollout.top_p", rl.top_p),
        (f"{aro}.rollout.top_k", -1),
        (f"{aro}.rollout.seed", rl.seed),
        (f"{aro}.rollout.tensor_model_parallel_size", settings.rollout_tensor_parallel),
        (f"{aro}.rollout.gpu_memory_utilization", settings.gpu_memory_utilization),
        # reward/reward.yaml (0.9.1 keys; the top-level custom_reward_function.* is legacy and ignored
        # by main_ppo): rcstudio's reward module by pkg:// path, its run dir through reward_kwargs.
        ("reward.custom_reward_function.path", REWARD_MODULE),
        ("reward.custom_reward_function.name", REWARD_FUNCTION),
        ("++reward.custom_reward_function.reward_kwargs",
         {"run_dir": str(run_dir), "workers": settings.reward_workers}),
        ("reward.reward_manager.name", settings.reward_manager),
        ("reward.num_workers", settings.reward_workers),
        # ppo_trainer.yaml trainer.*: cluster shape, schedule, checkpoints, logging.
        ("trainer.nnodes", cluster.nodes),
        ("trainer.n_gpus_per_node", cluster.gpus_per_node),
        ("trainer.total_epochs", rl.epochs),
        ("trainer.total_training_steps", rl.max_steps if rl.max_steps > 0 else None),
        ("trainer.save_freq", rl.save_interval),
        ("trainer.test_freq", rl.val_check_interval),
        ("trainer.default_local_dir", str(Path(run_dir) / "checkpoints")),
        ("trainer.resume_mode", settings.resume),
        ("trainer.resume_from_path", settings.resume_from or None),
        ("trainer.max_actor_ckpt_to_keep", settings.max_checkpoints or None),
        ("trainer.project_name", tracking.project),
        ("trainer.experiment_name", run_name),
        ("trainer.logger", ["console"] if tracking.mode == "disabled" else ["console", "wandb"]),
        ("trainer.use_v1", settings.use_v1),
    ]
    if settings.reward_manager == "rate_limited":
        # rate_limited reads reward.max_concurrent (absent from reward.yaml; default 1 per worker):
        # the matcher's concurrency spread over the reward workers.
        per_worker = max(1, -(-spec.reward.matcher.concurrency // settings.reward_workers))
        o.append(("++reward.max_concurrent", per_worker))
    if spec.experiment.kind == "policy-rlhf" and not spec.judge.endpoint:
        # reward/reward.yaml reward_model.*: verl serves the GenRM itself (its own rollout server,
        # a router address handed to compute_score as `reward_router_address`).
        o += [
            ("reward.reward_model.enable", True),
            ("reward.reward_model.model_path", spec.judge.model),
            ("reward.reward_model.rollout.name", settings.rollout_engine),
            ("reward.reward_model.rollout.tensor_model_parallel_size",
             settings.genrm_tensor_parallel or settings.rollout_tensor_parallel),
            ("reward.reward_model.rollout.prompt_length", rl.max_prompt_tokens + rl.max_generation_tokens),
            ("reward.reward_model.rollout.response_length", spec.judge.max_tokens),
        ]
    return [(key.removeprefix("++"), value, key.startswith("++")) for key, value in o]
