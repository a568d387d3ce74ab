"""`rcstudio logs` prints what a real local job wrote: the job's stdout, its stderr with --err,
every file with --json, and the error of a job whose command is not on PATH."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

from launch_helpers import trivial_plan
from test_launch_cli import rcs

from rcstudio.launch import Poller
from rcstudio.launch.jobs import save_plan
from rcstudio.launch.logs import LogFile, LogTail, render, select
from rcstudio.launch.submit import execute_plan, plan_spec


def test_logs_prints_the_jobs_output_and_errors(write_spec, registry):
    spec = write_spec("logsok")
    code = "import sys; print('line from the job', flush=True); print('warned on stderr', file=sys.stderr)"
    (run,) = execute_plan(trivial_plan(spec, code, executor="local"), registry)
    (final,) = Poller(registry).wait([run.run_id], interval=0.2, timeout=60)
    assert final.state == "COMPLETED"

    out = rcs("logs", run.run_id)
    assert out.returncode == 0, out.stderr
    assert "line from the job" in out.stdout and "warned on stderr" not in out.stdout
    assert "Job completed successfully" in out.stdout  # the scheduler's own output file is included
    err = rcs("logs", "logsok/logsok", "--err")  # experiment/name resolves too
    assert err.returncode == 0, err.stderr
    assert "warned on stderr" in err.stdout and "line from the job" not in err.stdout
    doc = json.loads(rcs("logs", run.run_id, "--json").stdout)
    by_label = {f["label"]: f for f in doc["files"]}
    assert doc["run_id"] == run.run_id and doc["state"] == "COMPLETED"
    assert by_label["stdout"]["text"] == "line from the job\n" and by_label["stderr"]["stream"] == "err"
    assert by_label["job"]["path"].endswith("logs/run-job.log")
    assert rcs("logs", run.run_id, "--follow").stdout == out.stdout  # finished: prints and returns


def test_a_command_missing_from_path_shows_its_error(write_spec, registry):
    plan = plan_spec(write_spec("nopath"), executor="local")
    for prepared in plan.runs:
        prepared.plan = dataclasses.replace(prepared.plan, argv=("rcstudio-not-on-this-path", "run-job"))
        save_plan(prepared.run_dir, prepared.plan)
    (run,) = execute_plan(plan, registry)
    (final,) = Poller(registry).wait([run.run_id], interval=0.2, timeout=60)
    assert final.state == "FAILED"
    proc = rcs("logs", run.run_id, "--err")
    assert "cannot start 'rcstudio-not-on-this-path': not found on the job's PATH" in proc.stdout
    plain = rcs("logs", run.run_id)
    assert "--err" in plain.stderr  # a failed run points at its error output


def test_log_tail_marks_switches_between_files(tmp_path):
    a, b = tmp_path / "a.log", tmp_path / "b.log"
    a.write_text("one\n")
    tail = LogTail([LogFile("a", a, "out"), LogFile("b", b, "out")])
    assert tail.poll() == f"==> {a} (a) <==\none\n"
    b.write_text("two\n")
    with a.open("a") as fh:
        fh.write("three\n")
    assert tail.poll() == f"three\n\n==> {b} (b) <==\ntwo\n"
    assert tail.poll() == ""
    files = [LogFile("a", a, "out"), LogFile("e", tmp_path / "e.log", "err")]
    assert render(select(files, False)) == "one\nthree\n"  # one non-empty file: no header


def test_submit_wait_shows_progress_inside_a_run(write_spec, registry, monkeypatch):
    """`submit --wait` reads the progress file a job writes (rcstudio.tracking.progress) and shows
    step / total for the run; the job log gets the progress lines too."""
    import io

    from rich.console import Console

    from rcstudio.cli import run_cmds

    code = ("import os, time\n"
            "from rcstudio.tracking.progress import Progress\n"
            "p = Progress(os.getcwd(), 3, phase='train', items_unit='rollouts', print_every_s=0)\n"
            "for s in (1, 2, 3):\n"
            "    time.sleep(0.4); p.update(s, items=4 * s)\n"
            "p.finish()\n")
    (run,) = execute_plan(trivial_plan(write_spec("waitprog"), code, executor="local"), registry)
    out = io.StringIO()
    monkeypatch.setattr(run_cmds, "_console", lambda: Console(file=out, width=200, force_terminal=False))
    (final,) = run_cmds._wait([run], as_json=False)
    assert final.state == "COMPLETED"
    text = out.getvalue()
    assert "train step 3/3 (100%)" in text and "12 rollouts" in text, text
    job_log = (Path(run.run_dir) / "logs" / "run-job.log").read_text()
    assert "progress: train step 1/3" in job_log and "done" in job_log


def test_a_killed_command_says_so_in_its_error_log(tmp_path):
    from rcstudio.launch.jobs import CommandTask, _Running

    logs = tmp_path / "logs"
    task = CommandTask(("sh", "-c", "kill -TERM $$"), str(tmp_path), str(logs / "stdout.log"), str(logs / "stderr.log"))
    assert task.run(_Running()) < 0
    assert "stopped by SIGTERM - a time limit (cluster.time)" in (logs / "stderr.log").read_text()
