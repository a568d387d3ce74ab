"""What the compiler hands to launch/: a run directory and how to start its job."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from rcstudio.spec.sweep import RunSpec


@dataclass(frozen=True)
class LaunchPlan:
    """How to start a run's job.

    `command`: run `argv` inside the run dir with the given resources (submitit: local or Slurm,
    N command runs of a sweep become one array). `sbatch`: submit `script` as is (a hetjob).
    """

    mode: Literal["command", "sbatch"]
    argv: list[str] = field(default_factory=list)
    script: Path | None = None
    job_name: str = ""
    nodes: int = 1
    gpus_per_node: int = 0
    cpus_per_task: int = 1
    mem: str = ""
    time: str = ""
    partition: str = ""
    account: str = ""
    qos: str = ""
    sbatch_extra: list[str] = field(default_factory=list)
    setup: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class CompiledRun:
    run: RunSpec
    run_dir: Path
    plan: LaunchPlan
    files: list[Path] = field(default_factory=list)  # artifacts written, relative to run_dir
