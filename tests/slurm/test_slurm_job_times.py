"""Registry runtimes of Slurm jobs are sacct's Start/End, not the time a later command polled."""

from __future__ import annotations

import pytest
from test_detached_and_times import check_runtime_is_the_jobs_own

pytestmark = pytest.mark.slurm


def test_slurm_runtime_comes_from_sacct(tmp_path, registry, write_spec):
    # sacct has 1 s resolution and counts the job's Python start-up too
    check_runtime_is_the_jobs_own(tmp_path, registry, write_spec, "slurm", 15.0)


def test_cancel_after_the_job_finished_its_work_reads_completed(tmp_path, registry, write_spec):
    """scancel lands after the job recorded a clean end (e.g. a TRL run stopped in its last step):
    sacct says CANCELLED, the registry says COMPLETED."""
    import time

    from launch_helpers import trivial_plan

    from rcstudio.launch.executors import SlurmExecutor
    from rcstudio.job_times import read_times
    from rcstudio.launch.poller import Poller
    from rcstudio.launch.submit import execute_plan

    code = ("import time; from rcstudio.job_times import mark_start, mark_end; "
            "mark_start('.'); mark_end('.', 'COMPLETED'); time.sleep(120)")
    plan = trivial_plan(write_spec("late-cancel"), executor=SlurmExecutor(), code=code)
    [record] = execute_plan(plan, registry)
    deadline = time.monotonic() + 60
    while (read_times(record.run_dir) or (None, None))[1] is None:
        assert time.monotonic() < deadline
        time.sleep(0.3)
    from rcstudio.launch.submit import job_ref

    poller = Poller(registry)
    SlurmExecutor().cancel(job_ref(registry.get(record.run_id), registry))
    while registry.get(record.run_id).state not in ("COMPLETED", "CANCELLED", "FAILED"):
        assert time.monotonic() < deadline
        poller.refresh()
        time.sleep(0.5)
    assert registry.get(record.run_id).state == "COMPLETED"
