"""`[rl.trl]`: settings only the TRL engine reads (light: pydantic only).

TRL runs on the shared `[rl]` settings (engines/trl/train.py maps them onto GRPOConfig); the
format warm-up before GRPO (engines/warmup.py, on the Hugging Face model TRL trains) is set here.
"""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from rcstudio.engines.base import EngineSettings


class TRLSettings(EngineSettings):
    """TRL GRPOTrainer settings beyond the shared `[rl]` ones."""

    algorithms: ClassVar[tuple[str, ...]] = ("grpo",)

    sft_warmup_steps: int = Field(
        0, ge=0, description="Supervised format warm-up steps before GRPO (0 = none): on sft_warmup_file, "
        "else on the training data's stored judgments whose verdict agrees with the humans.",
    )
    sft_warmup_file: str = Field("", description="JSONL of {prompt, completion} rows for the warm-up.")
    sft_warmup_lr: float = Field(5e-5, gt=0, description="AdamW learning rate of the warm-up.")
    sft_warmup_eval_prompts: int = Field(
        8, ge=0, description="Training prompts generated before and after the warm-up to report its parse rate.",
    )


Settings = TRLSettings  # the name the registry reads
