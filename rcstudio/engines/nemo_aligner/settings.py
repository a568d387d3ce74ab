"""`[rl.nemo_aligner]`: settings only the NeMo-Aligner engine reads (light: pydantic only)."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from rcstudio.engines.base import EngineSettings


class NemoAlignerSettings(EngineSettings):
    """NeMo-Aligner's model parallelism, generation batching, extra Hydra overrides and the actor."""

    algorithms: ClassVar[tuple[str, ...]] = ("reinforce",)
    moved_from: ClassVar[dict[str, str]] = {
        "rl.tensor_parallel": "tensor_parallel",
        "rl.pipeline_parallel": "pipeline_parallel",
        "rl.rollout_micro_batch_size": "rollout_micro_batch_size",
        "rl.engine_overrides": "overrides",
        "cluster.nemo_aligner_dir": "install_dir",
        "cluster.actor_command": "actor_command",
    }

    tensor_parallel: int = Field(1, gt=0, description="model.tensor_model_parallel_size of the actor.")
    pipeline_parallel: int = Field(1, gt=0, description="model.pipeline_model_parallel_size of the actor.")
    rollout_micro_batch_size: int = Field(8, gt=0, description="Prompts per GPU per generation call.")
    overrides: list[str] = Field(
        default_factory=list,
        description="Extra Hydra overrides appended to the actor's (checked and composed at compile time).",
    )
    install_dir: str = Field("/opt/NeMo-Aligner",
                             description="NeMo-Aligner checkout on the actor nodes (in the container).")
    actor_command: list[str] = Field(
        default_factory=list,
        description="Replaces the NeMo-Aligner actor in het group 1 (argv; tests, custom actors). It gets "
        "RCSTUDIO_REWARD_URL/HOST/PORT and RCSTUDIO_RUN_DIR.",
    )


Settings = NemoAlignerSettings  # the name the registry reads
