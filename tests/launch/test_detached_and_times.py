"""`rcstudio submit ... | tail` returns at once (the local job does not hold the pipe), and the
registry's start/end times are the job's own, not the time a later command polled."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time

from rcstudio.launch import executors
from rcstudio.job_times import mark_end, mark_start, read_times
from rcstudio.launch.poller import Poller
from rcstudio.launch.slurm import parse_time_lines


def test_submit_into_a_pipe_returns_while_the_job_runs(tmp_path):
    run_dir = tmp_path / "runs" / "exp" / "slow-1"
    (run_dir / "logs").mkdir(parents=True)
    marker = tmp_path / "job-pid"
    script = textwrap.dedent(f"""
        import sys
        from pathlib import Path
        from rcstudio.compile.plan import LaunchPlan
        from rcstudio.launch.executors import LocalExecutor, Submission
        code = "import os, time; open({str(marker)!r}, 'w').write(str(os.getpid())); time.sleep(60)"
        plan = LaunchPlan(argv=(sys.executable, "-c", code), time="00:05:00", cpus_per_task=1)
        [ref] = LocalExecutor().submit([Submission("slow-1", Path({str(run_dir)!r}), plan, "slow-1")])
        print("submitted", ref.job_id, flush=True)
    """)
    start = time.monotonic()
    # stdout and stderr are pipes, as in `rcstudio submit ... | tail`: communicate() waits for EOF
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=50)
    took = time.monotonic() - start
    assert proc.returncode == 0, proc.stderr
    assert "submitted" in proc.stdout and took < 30, f"the pipe stayed open for {took:.1f}s"
    job_id = proc.stdout.split()[-1]
    deadline = time.monotonic() + 30
    while not marker.exists():  # the job itself runs on, detached
        assert time.monotonic() < deadline
        time.sleep(0.2)
    assert executors._pid_alive(int(job_id))
    import os
    import signal

    assert os.getpgid(int(job_id)) == int(job_id)  # its own session: a Ctrl-C on submit leaves it alone
    os.kill(int(job_id), signal.SIGTERM)
    deadline = time.monotonic() + 20
    while executors._pid_alive(int(job_id)):
        assert time.monotonic() < deadline
        time.sleep(0.2)


def test_job_times_record_each_attempt(tmp_path):
    mark_start(tmp_path, 100.0)
    assert read_times(tmp_path) == (100.0, None)
    mark_end(tmp_path, "COMPLETED", 160.0)
    assert read_times(tmp_path) == (100.0, 160.0)
    assert read_times(tmp_path, since=150.0) is None  # an older attempt's record
    mark_start(tmp_path, 500.0)  # a resubmission starts afresh
    assert read_times(tmp_path) == (500.0, None)


def test_sacct_start_end_lines():
    lines = ["12|2026-11-30T10:00:00|2026-11-30T10:05:00", "13_[2-3]|Unknown|Unknown",
             "14+0|2026-11-30T10:00:00|2026-11-30T10:09:00", "14+1|2026-11-30T10:01:00|Unknown", "12.batch|x|y"]
    got = parse_time_lines(lines)
    assert got["12"][1] - got["12"][0] == 300.0
    assert got["13_2"] == (None, None) and got["13_3"] == (None, None)
    assert got["14"][1] is None and got["14"][0] == got["12"][0]  # a component still runs
    assert "12.batch" not in got


def check_runtime_is_the_jobs_own(tmp_path, registry, write_spec, executor: str, longest: float) -> None:
    """The job runs ~1 s and ends; the registry is polled 4 s later: its runtime stays the job's."""
    from launch_helpers import trivial_plan

    from rcstudio.launch.executors import executor_for
    from rcstudio.launch.submit import execute_plan

    plan = trivial_plan(write_spec(f"times-{executor}"), executor=executor, code=(
        "import sys, time; from rcstudio.job_times import mark_start, mark_end; "
        "mark_start('.'); time.sleep(1.0); mark_end('.', 'COMPLETED')"))
    [record] = execute_plan(plan, registry)
    poller = Poller(registry, {executor: executor_for(executor)})
    deadline = time.monotonic() + 90
    while (read_times(record.run_dir) or (None, None))[1] is None:  # watch the job, not the registry
        assert time.monotonic() < deadline
        time.sleep(0.2)
    time.sleep(4.0)
    while registry.get(record.run_id).state != "COMPLETED":
        assert time.monotonic() < deadline
        poller.refresh()
        time.sleep(0.5)
    row = registry.get(record.run_id)
    assert row.executor == executor
    assert 0.9 <= row.ended_at - row.started_at < longest, (row.started_at, row.ended_at)
    assert time.time() - row.ended_at > 3.5  # not stamped when the poll saw it


def test_local_runtime_is_the_jobs_own_not_the_poll_time(tmp_path, registry, write_spec):
    check_runtime_is_the_jobs_own(tmp_path, registry, write_spec, "local", 3.0)
