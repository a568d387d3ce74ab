"""submitit's local executor end to end: real background processes, logs in the run dir,
states read back after a 'restart' (no in-process handle), cancel."""

from __future__ import annotations

import time

from rcstudio.launch import executors
from rcstudio.launch.executors import LocalExecutor


def wait_for(executor, refs, states=("COMPLETED", "FAILED"), timeout=60.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = executor.states(refs)
        if all(got.get(r.scheduler_id) in states for r in refs):
            return got
        time.sleep(0.2)
    raise AssertionError(f"timed out: {executor.states(refs)}")


def test_local_runs_complete_and_fail_with_logs(make_submission):
    ok = make_submission("ok", "import os; print('cwd', os.getcwd()); print('hello from job')")
    bad = make_submission("bad", "import sys; print('boom', file=sys.stderr); sys.exit(4)")
    ex = LocalExecutor()
    refs = ex.submit([ok, bad])
    assert [r.executor for r in refs] == ["local", "local"]
    states = wait_for(ex, refs)
    assert states[refs[0].scheduler_id] == "COMPLETED"
    assert states[refs[1].scheduler_id] == "FAILED"
    out, err = ex.log_paths(refs[0])
    assert out == ok.run_dir / "logs" / "stdout.log"
    assert f"cwd {ok.run_dir}" in out.read_text() and "hello from job" in out.read_text()
    assert "boom" in ex.log_paths(refs[1])[1].read_text()


def test_states_after_restart_come_from_submitit_files(make_submission):
    ex = LocalExecutor()
    refs = ex.submit([make_submission("a", "print(1)"), make_submission("b", "raise SystemExit(2)")])
    wait_for(ex, refs)
    executors._LOCAL_JOBS.clear()  # a new process: no Popen handles, only the folder and the pid
    fresh = LocalExecutor()
    assert fresh.states(refs) == {refs[0].scheduler_id: "COMPLETED", refs[1].scheduler_id: "FAILED"}
    assert fresh.attach(refs[0]).result() == 0


def test_cancel_stops_the_command(make_submission, tmp_path):
    marker = tmp_path / "finished"
    sub = make_submission("slow", f"import time; print('started', flush=True); time.sleep(30); open({str(marker)!r}, 'w')")
    ex = LocalExecutor()
    (ref,) = ex.submit([sub])
    deadline = time.monotonic() + 30
    while "started" not in (sub.run_dir / "logs" / "stdout.log").read_text() if (sub.run_dir / "logs" / "stdout.log").exists() else True:
        assert time.monotonic() < deadline
        time.sleep(0.1)
    executors._LOCAL_JOBS.clear()  # cancel from "another process": by pid, like `rcstudio cancel`
    ex2 = LocalExecutor()
    assert ex2.states([ref])[ref.scheduler_id] == "RUNNING"
    ex2.cancel(ref)
    deadline = time.monotonic() + 20
    while ex2.states([ref])[ref.scheduler_id] == "RUNNING":
        assert time.monotonic() < deadline, "the local job survived cancel"
        time.sleep(0.2)
    assert not marker.exists()
    time.sleep(0.5)
    assert not _processes_mentioning(str(marker)), "the command kept running after cancel"


def _processes_mentioning(text: str) -> list[int]:
    from pathlib import Path

    found = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                stat = (proc / "stat").read_text().rsplit(")", 1)[-1].split()[0]
                if stat != "Z" and text.encode() in (proc / "cmdline").read_bytes():
                    found.append(int(proc.name))
            except OSError:
                continue
    return found


def test_local_sweep_runs_at_most_parallelism_at_once(make_submission, tmp_path):
    """More runs than array_parallelism: one local job, never more than that many commands at once;
    each run keeps its own state; a cancelled run that has not started never starts."""
    import json

    trace = tmp_path / "trace"
    trace.mkdir()
    code = ("import json, os, sys, time; name = os.path.basename(os.getcwd()); "
            f"open({str(trace)!r} + '/' + name, 'w').write(json.dumps([time.time()])); time.sleep(0.6); "
            f"d = json.load(open({str(trace)!r} + '/' + name)); d.append(time.time()); "
            f"open({str(trace)!r} + '/' + name, 'w').write(json.dumps(d)); "
            "sys.exit(5 if name == 'r3' else 0)")
    subs = [make_submission(f"r{i}", code, array_parallelism=2) for i in range(6)]
    ex = LocalExecutor()
    refs = ex.submit(subs)
    assert {r.job_id for r in refs} == {refs[0].job_id} and [r.array_index for r in refs] == list(range(6))
    assert ex.states([refs[5]])[refs[5].scheduler_id] == "PENDING"
    ex.cancel(refs[5])
    states = wait_for(ex, refs, states=("COMPLETED", "FAILED", "CANCELLED"))
    assert [states[r.scheduler_id] for r in refs] == ["COMPLETED"] * 3 + ["FAILED", "COMPLETED", "CANCELLED"]
    spans = [json.loads((trace / f"r{i}").read_text()) for i in range(5)]
    assert not (trace / "r5").exists()
    for t in [s[0] + 0.3 for s in spans]:  # mid-run of each: how many were running then
        assert sum(start <= t <= end for start, end in spans) <= 2
    executors._LOCAL_JOBS.clear()
    assert LocalExecutor().states(refs) == states  # the same after a restart
