"""What the compiler hands to launch/: a run directory and how to start its job."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from rcstudio.spec.sweep import RunSpec


@dataclass(frozen=True)
class LaunchPlan:
    """How to start a run's job; launch/ submits it and keeps it as `launch.json` for `resubmit`.

    `command`: run `argv` inside the run dir with the given resources (submitit: local or Slurm,
    N command runs of a sweep with equal `resources_key()` become one array running at most
    `array_parallelism` at a time). `sbatch`: submit `script` as is (a hetjob).
    Sequences are stored as lists of str and `script` as a Path (or None), whatever was passed,
    so a plan read back from `launch.json` equals the one written.
    """

    mode: Literal["command", "sbatch"] = "command"
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
    array_parallelism: int = 16

    def __post_init__(self) -> None:
        for name in ("argv", "sbatch_extra", "setup"):
            object.__setattr__(self, name, [str(x) for x in getattr(self, name) or ()])
        object.__setattr__(self, "script", Path(self.script) if self.script else None)

    def resources_key(self) -> tuple[Any, ...]:
        """Runs whose keys match can share one job array."""
        return (self.nodes, self.gpus_per_node, self.cpus_per_task, self.mem, self.time, self.partition,
                self.account, self.qos, tuple(self.sbatch_extra), tuple(self.setup))

    def to_json(self) -> str:
        data = asdict(self) | {"script": str(self.script) if self.script else None}
        return json.dumps(data, indent=2, sort_keys=True) + "\n"

    @classmethod
    def from_json(cls, text: str) -> LaunchPlan:
        """Read `to_json` output (also the older launch.json, which wrote `"script": ""`)."""
        return cls(**json.loads(text))


@dataclass(frozen=True)
class CompiledRun:
    run: RunSpec
    run_dir: Path
    plan: LaunchPlan
    files: list[Path] = field(default_factory=list)  # artifacts written, relative to run_dir


def cluster_fields(run: RunSpec) -> dict[str, Any]:
    """The plan fields copied from `[cluster]` as they are (both plan modes share them)."""
    c = run.spec.cluster
    return {"job_name": f"rcs-{run.name}", "cpus_per_task": c.cpus_per_task, "mem": c.mem, "time": c.time,
            "partition": c.partition, "account": c.account, "qos": c.qos, "sbatch_extra": c.sbatch_extra,
            "setup": c.setup, "array_parallelism": c.array_parallelism}


def needs_gpus(run: RunSpec) -> bool:
    """Whether a command job needs the spec's GPUs: data jobs and evals that call a remote judge
    endpoint or only re-score stored outputs run on CPUs, so they do not wait for a GPU allocation."""
    spec = run.spec
    if spec.experiment.kind == "data":
        return False
    if spec.experiment.kind == "eval":
        return not (spec.judge.endpoint or spec.eval.stored_judges)
    return True


def command_plan(run: RunSpec, run_dir: Path, nodes: int = 1) -> LaunchPlan:
    """`rcstudio run-job --run-dir DIR` on `nodes` nodes with the spec's resources (a submitit job)."""
    return LaunchPlan(
        mode="command",
        argv=["rcstudio", "run-job", "--run-dir", str(run_dir)],
        nodes=nodes,
        gpus_per_node=run.spec.cluster.gpus_per_node if needs_gpus(run) else 0,
        **cluster_fields(run),
    )
