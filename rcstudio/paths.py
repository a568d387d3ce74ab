"""Where rcstudio keeps its state: everything hangs off RCSTUDIO_HOME (default ~/.rcstudio)."""

from __future__ import annotations

import os
from pathlib import Path


def home() -> Path:
    """The rcstudio state directory (registry, caches, default runs root)."""
    return Path(os.environ.get("RCSTUDIO_HOME") or Path.home() / ".rcstudio").expanduser()


def registry_path() -> Path:
    return home() / "registry.sqlite"


def runs_root() -> Path:
    """Default root of run directories: <runs_root>/<experiment>/<run_id>/."""
    return Path(os.environ.get("RCSTUDIO_RUNS") or home() / "runs").expanduser()


def cache_dir(name: str) -> Path:
    """A persistent cache directory (LLM replies, embeddings, W&B history)."""
    path = home() / "cache" / name
    path.mkdir(parents=True, exist_ok=True)
    return path


def shared_dir() -> Path | None:
    """The read-only reference folder `../shared` next to a checkout, when present (tests, benchmarks)."""
    env = os.environ.get("RCSTUDIO_SHARED")
    if env:
        return Path(env)
    candidate = Path(__file__).resolve().parents[2] / "shared"
    return candidate if candidate.is_dir() else None
