"""Where rcstudio keeps its state: everything hangs off RCSTUDIO_HOME (default ~/.rcstudio)."""

from __future__ import annotations

import importlib
import os
from pathlib import Path

from rcstudio.errors import UserError

PKG_PREFIX = "pkg://"


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


def resolve_source(source: str) -> str:
    """`pkg://rcstudio/<path>` -> the file shipped inside the installed package; others unchanged.

    Resolved specs live in run dirs, far from the spec file, so shipped sample data is named by
    package rather than by a path relative to the spec.
    """
    if not source.startswith(PKG_PREFIX):
        return source
    package, _, rel = source[len(PKG_PREFIX):].partition("/")
    try:
        file = importlib.import_module(package).__file__
    except ImportError:
        raise UserError(f"{source}: package {package!r} is not installed", key="data") from None
    if file is None:
        raise UserError(f"{source}: {package!r} is not a regular package", key="data")
    root = Path(file).parent
    path = root / rel
    if not path.exists():
        raise UserError(f"{source}: no such file in the installed package ({path})", key="data")
    return str(path)
