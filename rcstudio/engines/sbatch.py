"""`#SBATCH` directive lines from `[cluster]`, shared by the engines that write their own sbatch
scripts (NeMo-Aligner's hetjob, verl's Ray job): one place decides which flags a group gets."""

from __future__ import annotations

from pathlib import Path

from rcstudio.spec.models import Spec


def directives(spec: Spec, *, job_name: str, log_dir: Path | None, nodes: int, gpus: int,
               ntasks: int = 1) -> list[str]:
    """The `#SBATCH ...` lines of one job (or het group): name, shape, resources, the spec's extras."""
    c = spec.cluster
    lines = [f"--job-name={job_name}"] if job_name else []
    lines += [f"--nodes={nodes}", f"--ntasks-per-node={ntasks}", f"--cpus-per-task={c.cpus_per_task}",
              f"--time={c.time}"]
    if gpus:
        lines.append(f"--gpus-per-node={gpus}")
    for flag, value in (("partition", c.partition), ("account", c.account), ("qos", c.qos), ("mem", c.mem)):
        if value:
            lines.append(f"--{flag}={value}")
    lines += list(c.sbatch_extra)
    if log_dir is not None:
        lines.append(f"--output={log_dir}/slurm-%j.out")
    return [f"#SBATCH {line}" for line in lines]
