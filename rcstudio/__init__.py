"""rcstudio: declarative experiments for generative reward models trained with rationale consistency."""

__version__ = "0.1.0"
