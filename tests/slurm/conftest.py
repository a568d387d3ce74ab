"""Real local Slurm cluster tests (`bash slurm/cluster.sh start`; CI starts it). Skipped, with the
reason, when no controller answers."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "launch"))

from launch_helpers import make_submission, registry, slurm_shims, write_spec  # noqa: E402, F401

from rcstudio.launch.slurm import controller_answers  # noqa: E402


def pytest_collection_modifyitems(config, items):
    here = Path(__file__).parent
    mine = [item for item in items if Path(str(item.fspath)).is_relative_to(here)]
    if not mine:
        return
    if not controller_answers():
        skip = pytest.mark.skip(reason="no Slurm controller answers sinfo: start one with `bash slurm/cluster.sh start`")
        for item in mine:
            item.add_marker(skip)
