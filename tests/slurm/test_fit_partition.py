"""On the real cluster (8-CPU nodes): the quickstart fits as shipped; a run asking for more CPUs
than a node has is refused at submit, with the partition's limits, and nothing is submitted."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from rcstudio.launch.registry import Registry

pytestmark = pytest.mark.slurm


def _rcstudio(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "rcstudio", *args], capture_output=True, text=True, timeout=300,
                          env=dict(os.environ))


def test_a_spec_no_partition_can_hold_is_refused(repo_root, monkeypatch):
    monkeypatch.chdir(repo_root)
    plan = _rcstudio("submit", "specs/quickstart.toml", "--executor", "slurm", "--dry-run", "--json")
    assert plan.returncode == 0, plan.stderr  # the quickstart as shipped asks for what a node has
    import json

    assert json.loads(plan.stdout)["runs"][0]["resources"]["cpus_per_task"] <= 8
    done = _rcstudio("submit", "specs/quickstart.toml", "--executor", "slurm", "--set", "cluster.cpus_per_task=64")
    assert done.returncode == 2, done.stdout + done.stderr
    assert "cluster.cpus_per_task" in done.stderr and "asks for 64 CPUs" in done.stderr
    assert "partition" in done.stderr and "CPUs" in done.stderr and "Traceback" not in done.stderr
    assert Registry().list_runs() == []
