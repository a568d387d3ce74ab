"""Hydra override values: moved to rcstudio/engines/hydra_values.py (engines compile Hydra overrides)."""

from rcstudio.engines.hydra_values import override, quote, value

__all__ = ["override", "quote", "value"]
