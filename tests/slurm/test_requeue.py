"""Preemption on the real cluster: Slurm's USR2 warning reaches the command, which saves a
checkpoint and exits; submitit then requeues the job (CommandTask.checkpoint) and the same command
runs again in the same run dir, resuming from what it saved."""

from __future__ import annotations

import subprocess
import time

import pytest

from launch_helpers import trivial_plan

from rcstudio import paths
from rcstudio.launch import Poller
from rcstudio.launch.executors import SlurmExecutor
from rcstudio.launch.submit import execute_plan

PREEMPTIBLE = """
import pathlib, signal, sys, time
saved = pathlib.Path("checkpoint.txt")
if saved.exists():
    print("resumed from", saved.read_text(), flush=True)
    sys.exit(0)
def on_usr2(signum, frame):
    saved.write_text("step-7")
    print("checkpointed", flush=True)
    sys.exit(1)
signal.signal(signal.SIGUSR2, on_usr2)
print("working", flush=True)
time.sleep(300)
"""


@pytest.mark.slow
def test_usr2_checkpoints_requeues_and_resumes(write_spec, registry):
    spec = write_spec("preempt-me")
    (record,) = execute_plan(trivial_plan(spec, PREEMPTIBLE, executor=SlurmExecutor()), registry)
    run_dir = paths.runs_root() / "preempt-me" / record.run_id
    log = run_dir / "logs" / "stdout.log"
    deadline = time.monotonic() + 90
    while not (log.exists() and "working" in log.read_text()):
        assert time.monotonic() < deadline, "the job never started"
        time.sleep(0.3)

    subprocess.run(["scancel", "--signal=USR2", record.job_id], check=True)

    (final,) = Poller(registry).wait([record.run_id], interval=1.0, timeout=180)
    text = log.read_text()
    assert "checkpointed" in text and "resumed from step-7" in text, text
    assert final.state == "COMPLETED"
    requeues = subprocess.run(["sacct", "-n", "-X", "-D", "-j", record.job_id, "-o", "State"],
                              capture_output=True, text=True, check=True).stdout.split()
    assert "REQUEUED" in requeues and requeues[-1] == "COMPLETED", requeues
