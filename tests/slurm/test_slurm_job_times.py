"""Registry runtimes of Slurm jobs are sacct's Start/End, not the time a later command polled."""

from __future__ import annotations

import pytest
from test_detached_and_times import check_runtime_is_the_jobs_own

pytestmark = pytest.mark.slurm


def test_slurm_runtime_comes_from_sacct(tmp_path, registry, write_spec):
    # sacct has 1 s resolution and counts the job's Python start-up too
    check_runtime_is_the_jobs_own(tmp_path, registry, write_spec, "slurm", 15.0)
