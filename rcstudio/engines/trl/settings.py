"""`[rl.trl]`: settings only the TRL engine reads (light: pydantic only).

None yet: TRL runs on the shared `[rl]` settings (engines/trl/train.py maps them onto GRPOConfig).
TRL-only keys added later belong here.
"""

from __future__ import annotations

from typing import ClassVar

from rcstudio.engines.base import EngineSettings


class TRLSettings(EngineSettings):
    """TRL GRPOTrainer settings beyond the shared `[rl]` ones."""

    algorithms: ClassVar[tuple[str, ...]] = ("grpo",)


Settings = TRLSettings  # the name the registry reads
