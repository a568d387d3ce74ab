"""Submission, registry and Slurm: spec -> compiled runs -> jobs (submitit local/Slurm, hetjob
sbatch) -> registry rows, kept current by one batched poller. See docs/architecture.md (Launch)."""

from rcstudio.launch.executors import Executor, LocalExecutor, SlurmExecutor, Submission, pick_executor
from rcstudio.launch.jobs import CommandTask, JobRef
from rcstudio.launch.poller import Poller
from rcstudio.launch.registry import (
    ACTIVE_STATES,
    STATES,
    TERMINAL_STATES,
    JobRecord,
    Registry,
    RunRecord,
)
from rcstudio.launch.submit import job_ref, plan_spec, submit_spec

__all__ = [
    "ACTIVE_STATES",
    "STATES",
    "TERMINAL_STATES",
    "CommandTask",
    "Executor",
    "JobRecord",
    "JobRef",
    "LocalExecutor",
    "Poller",
    "Registry",
    "RunRecord",
    "SlurmExecutor",
    "Submission",
    "job_ref",
    "pick_executor",
    "plan_spec",
    "submit_spec",
]
