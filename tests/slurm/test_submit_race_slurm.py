"""Six identical submits at the same moment against the real Slurm cluster: one job, one row, the
job completes in its intact run dir; the five losers submitted nothing."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest

from rcstudio.launch import Poller

from test_submit_races import _racers

pytestmark = pytest.mark.slurm


def test_six_identical_slurm_submits_make_one_job(write_spec, registry, tmp_path):
    started = time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(time.time() - 2))
    spec = write_spec("slurmrace", cluster_extra='executor = "slurm"\npartition = "debug"')
    results = _racers(spec, 6, tmp_path, executor="slurm")
    lines = [r.stdout.strip() for r in results]
    assert sum(ln.startswith("WON") for ln in lines) == 1 and sum(ln.startswith("LOST") for ln in lines) == 5, \
        lines + [r.stderr[-1500:] for r in results]
    (run,) = registry.list_runs()
    assert run.executor == "slurm" and run.job_id and run.job_id.isdigit()
    (final,) = Poller(registry).wait([run.run_id], interval=1.0, timeout=300)
    assert final.state == "COMPLETED"
    deadline = time.time() + 60
    while True:  # slurmdbd records a finished job a moment after the controller reports it
        jobs = subprocess.run(["sacct", "-n", "-X", "-P", "-o", "JobID,JobName%80", "-S", started],
                              capture_output=True, text=True).stdout.splitlines()
        mine = [ln for ln in jobs if "slurmrace" in ln]
        if mine or time.time() > deadline:
            break
        time.sleep(1.0)
    assert [ln.split("|")[0] for ln in mine] == [run.job_id], jobs  # the losers never reached sbatch
    assert "point done" in (Path(run.run_dir) / "logs" / "stdout.log").read_text()
