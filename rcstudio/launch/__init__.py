"""Submission, registry and Slurm: spec -> compiled runs -> jobs (submitit local/Slurm, hetjob
sbatch) -> registry rows, kept current by one batched poller. See docs/architecture.md (Launch).

The names below are loaded on first use (PEP 562 `__getattr__`): `import rcstudio.launch.registry`
(the dashboard's first paint, `rcstudio ls`) then loads the registry alone, not the executors,
the submission code and, through them, the spec models.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_WHERE = {
    "Executor": "executors", "LocalExecutor": "executors", "SlurmExecutor": "executors",
    "Submission": "executors", "pick_executor": "executors",
    "CommandTask": "jobs", "JobRef": "jobs",
    "Poller": "poller",
    "ACTIVE_STATES": "registry", "STATES": "registry", "TERMINAL_STATES": "registry",
    "JobRecord": "registry", "Registry": "registry", "RunRecord": "registry",
    "job_ref": "submit", "plan_spec": "submit", "submit_spec": "submit",
}  # fmt: skip

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
assert sorted(__all__) == sorted(_WHERE)


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'rcstudio.launch' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"rcstudio.launch.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_WHERE})


if TYPE_CHECKING:
    from rcstudio.launch.executors import (
        Executor,
        LocalExecutor,
        SlurmExecutor,
        Submission,
        pick_executor,
    )
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
